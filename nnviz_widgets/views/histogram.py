"""A histogram of the current frame's values, its bars coloured like the heatmap."""

from __future__ import annotations

import bqplot
import numpy as np

from nnviz_widgets.views.chart import chart_figure, set_ticks
from nnviz_widgets.views.ticks import nice_limits, nice_ticks

__all__ = ["HistogramView"]


class HistogramView:
    """A histogram of the current frame's finite values, bars coloured like the heatmap.

    The bins span the colour range, so the histogram reads as a detailed colour bar; values
    outside the range are counted in the end bins and the title says how many.
    """

    BINS = 40
    #: Frames larger than this are histogrammed from every n-th value, about this many in all.
    MOST_VALUES = 1 << 16

    def __init__(self, colour_scale: bqplot.ColorScale) -> None:
        self.x_scale = bqplot.LinearScale()
        self.y_scale = bqplot.LinearScale(min=0.0)
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="value", tick_format=".2~g")
        self.y_axis = bqplot.Axis(scale=self.y_scale, side="left", label="count", tick_format=",d")
        self.bars = bqplot.Bars(
            x=np.zeros(0),
            y=np.zeros(0),
            color=np.zeros(0),
            scales={"x": self.x_scale, "y": self.y_scale, "color": colour_scale},
            padding=0.0,
            stroke="#777777",
            stroke_width=0.3,
            visible=False,  # bqplot draws a base line even without bars: none until counted
        )
        self.figure = chart_figure(
            [self.bars],
            [
                self.x_axis,
                self.y_axis,
            ],
            title="histogram",
            css_class="nnviz-histogram",
            width="340px",
            margin={"top": 30, "bottom": 45, "left": 70, "right": 15},  # room for "15,000"
        )
        self.counts: np.ndarray = np.zeros(0)
        set_ticks(self.x_axis, np.zeros(0))  # nothing counted yet: no 0-1 axes
        set_ticks(self.y_axis, np.zeros(0))

    @classmethod
    def count(cls, frame: np.ndarray, low: float, high: float, scope: str = "") -> tuple:
        """Histogram ``frame`` over ``[low, high]``: returns ``(centres, counts, title)``.

        ``scope`` names what ``frame`` is when it is part of what was recorded ("sample 3"),
        for the title. Frames larger than :attr:`MOST_VALUES` are histogrammed from every n-th
        value (the title says so): the shape of a distribution needs no more. "Sample" in the
        explorer means only a probe sample (``docs/explorer.md``, "Histogram").
        """
        values = np.asarray(frame, dtype=np.float32).ravel()
        total = values.size
        if total > cls.MOST_VALUES:
            values = values[:: -(-total // cls.MOST_VALUES)]
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        clipped = np.clip(finite, low, high)
        outside = int(np.count_nonzero(clipped != finite))
        # equal bins over a known range: a bin number per value and one bincount (several
        # times faster than np.histogram, which also handles uneven bins)
        where = ((clipped - np.float32(low)) * np.float32(cls.BINS / (high - low))).astype(np.intp)
        np.clip(where, 0, cls.BINS - 1, out=where)
        counts = np.bincount(where, minlength=cls.BINS)
        edges = np.linspace(low, high, cls.BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        title = cls.title(scope, values.size, total)
        if outside:
            title += f", {outside} outside the colour range (in the end bins)"
        return centres, counts, title

    @staticmethod
    def title(scope: str, counted: int, total: int) -> str:
        """What the histogram counts, e.g. "histogram of sample 3: 784 values" or "histogram of
        65,536 values (every 8th of 524,288)"."""
        what = f"histogram of {scope}: " if scope else "histogram of "
        if counted == total:
            return f"{what}{total:,} values"
        step = -(-total // max(counted, 1))
        return f"{what}{counted:,} values (every {_ordinal(step)} of {total:,})"

    @classmethod
    def rebin(
        cls, counts: np.ndarray, source_low: float, source_high: float, low: float, high: float
    ) -> tuple:
        """Counts recorded in equal bins over ``[source_low, source_high]`` (a Recorder's
        histogram of a whole tensor), redistributed over ``[low, high]``: returns
        ``(centres, counts, title)`` like :meth:`count`.

        Within a recorded bin the values are taken as spread evenly; values outside the colour
        range go to the end bins, as :meth:`count` puts them.
        """
        counts = np.asarray(counts, dtype=np.float64)
        edges = np.linspace(low, high, cls.BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        total = float(counts.sum())
        if source_high > source_low:
            source = np.linspace(source_low, source_high, counts.size + 1)
            cumulative = np.concatenate([[0.0], np.cumsum(counts)])
            below_edges = np.interp(edges, source, cumulative)  # mass below each edge
            result = np.diff(below_edges)
            below, above = below_edges[0], total - below_edges[-1]
        else:  # one value, counted in bin 0: it sits where it is
            result = np.zeros(cls.BINS)
            below = total if source_low < low else 0.0
            above = total if source_low > high else 0.0
            if not (below or above):
                result[min(int((source_low - low) / (high - low) * cls.BINS), cls.BINS - 1)] = total
        result[0] += below
        result[-1] += above
        title = cls.title("", round(total), round(total))
        outside = round(float(below + above))
        if outside:
            title += f", {outside} outside the colour range (in the end bins)"
        return centres, np.rint(result), title

    def show(self, frame: np.ndarray, low: float, high: float) -> None:
        """Histogram ``frame`` over ``[low, high]``."""
        self.show_counts(*self.count(frame, low, high))

    def show_counts(self, centres: np.ndarray, counts: np.ndarray, title: str) -> None:
        """Show counts computed by :meth:`count` (no bars where they cannot be placed: a bar at
        NaN is an SVG error in the browser, see ``views.chart``)."""
        centres = np.asarray(centres, dtype=np.float64)
        counts = np.asarray(counts, dtype=np.float64)
        if not (np.isfinite(centres).all() and np.isfinite(counts).all()):
            centres, counts, title = centres[:0], counts[:0], f"{title} (no finite range to show)"
        if len(centres) > 1:
            half = (centres[1] - centres[0]) / 2
            # at most five round values inside the bins' span, all in one format
            set_ticks(self.x_axis, nice_ticks(centres[0] - half, centres[-1] + half, most=5))
        else:
            set_ticks(self.x_axis, np.zeros(0))  # nothing to count: no 0-1 axis either
        # whole counts, at most six labels, the top one a tick
        top = float(counts.max()) if counts.size else 0.0
        _, high, ticks = nice_limits(0.0, max(top, 1.0), integer=True)
        if self.y_scale.max != high:
            self.y_scale.max = high
        set_ticks(self.y_axis, ticks if counts.size else np.zeros(0))
        with self.bars.hold_sync():
            self.bars.visible = bool(counts.size)
            self.bars.x = centres
            self.bars.y = counts
            self.bars.color = np.asarray(centres, dtype=np.float64)
        self.figure.title = title
        self.counts = np.asarray(counts)


def _ordinal(n: int) -> str:
    """2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
