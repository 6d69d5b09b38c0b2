"""Metrics per snapshot (loss, accuracy, ...) as lines, with the current snapshot marked.

A metric missing at a snapshot (NaN: given at some snapshots only) has no point there and
leaves a gap in its line (``views.chart``: nothing is sent that the browser cannot place).
"""

from __future__ import annotations

from collections.abc import Callable

import bqplot
import numpy as np

from nnviz_widgets.views.chart import (
    TEXT_COLOUR,
    chart_figure,
    epoch_ticks,
    finite_points,
    line_points,
    metric_colour,
    themed,
    value_limits,
)

__all__ = ["MetricsView"]

#: The current snapshot's outline: JupyterLab's strongest text colour (black on the light theme,
#: white on the dark one, where a black ring vanished).
OUTLINE_COLOUR = "var(--jp-ui-font-color0, black)"


class MetricsView:
    """Metrics per snapshot (loss, accuracy, ...) as lines, with the current snapshot marked.

    Clicking a point calls ``on_select(index)``. Each metric has its own y scale; the first two
    get an axis (left and right).
    """

    def __init__(self, *, on_select: Callable[[int], None] | None = None) -> None:
        self._on_select = on_select
        self.x_scale = bqplot.LinearScale()
        self.epoch_axis = bqplot.Axis(scale=self.x_scale, label="epoch")
        self.figure = chart_figure(
            [],
            [],
            title="metrics",
            css_class="nnviz-metrics",
            width="340px",
            margin={"top": 30, "bottom": 40, "left": 80, "right": 80},  # room for "1.5e+45"
            legend_location="top-right",
        )
        self._names: tuple[str, ...] = ()
        self._lines: dict[str, bqplot.Lines] = {}
        self._points: dict[str, bqplot.Scatter] = {}
        self._current: dict[str, bqplot.Scatter] = {}
        self._shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # each metric's (x, y) drawn
        self._kept: dict[str, np.ndarray] = {}  # the snapshot each drawn point stands for
        self._axes: dict[str, tuple[bqplot.LinearScale, bqplot.Axis]] = {}  # metrics with one
        self._build(())  # no metrics yet: a title that says so, no empty 0-1 axes

    def show(self, epochs: np.ndarray, metrics: dict[str, np.ndarray], index: int) -> None:
        """Draw every metric against ``epochs`` and mark snapshot ``index``."""
        names = tuple(metrics)
        if names != self._names:
            self._build(names)
        x = np.asarray(epochs, dtype=np.float64)
        with self.figure.hold_sync():
            epoch_ticks(self.epoch_axis, x)
            for name in names:
                y = np.asarray(metrics[name], dtype=np.float64)
                if _same(self._shown.get(name), x, y):
                    continue
                self._shown[name] = (x, y)
                if name in self._axes:  # ends on ticks, at most six, one format
                    value_limits(*self._axes[name], y)
                line = self._lines[name]
                with line.hold_sync():
                    line.x, line.y = line_points(x, y)
                point_x, point_y, self._kept[name] = finite_points(x, y)
                with self._points[name].hold_sync():
                    self._points[name].x, self._points[name].y = point_x, point_y
            self.mark(x, metrics, index)

    def mark(self, epochs: np.ndarray, metrics: dict[str, np.ndarray], index: int) -> None:
        """Move the current-snapshot markers to ``index`` (cheap: one point per metric)."""
        for name in self._names:
            values = metrics.get(name)
            if values is None or not 0 <= index < len(values):
                continue
            marker = self._current[name]
            # no marker where the metric has no value at this snapshot
            x, y, _ = finite_points(epochs[index : index + 1], values[index : index + 1])
            with marker.hold_sync():
                marker.x, marker.y = x.astype(np.float64), y

    def _build(self, names: tuple[str, ...]) -> None:
        marks, axes = [], [self.epoch_axis] if names else []
        self._lines, self._points, self._current = {}, {}, {}
        self._shown, self._kept, self._axes = {}, {}, {}
        others = [n for n in names if not any(w in n.lower() for w in ("acc", "loss"))]
        for k, name in enumerate(names):
            # by what it measures: the loss has one colour in every explorer and the Playground
            colour = metric_colour(name, others.index(name) if name in others else 0)
            y_scale = bqplot.LinearScale()
            scales = {"x": self.x_scale, "y": y_scale}
            line = bqplot.Lines(
                x=np.zeros(0),
                y=np.zeros(0),
                scales=scales,
                colors=[colour],
                labels=[name],
                display_legend=len(names) > 2,  # two metrics are named by their coloured axes
            )
            # every snapshot a point to click; the current one a larger, outlined point
            points = _points(scales, colour, 20, interactions={"click": "select"}, tooltip=None)
            points.on_element_click(self._handle_click)
            current = _points(
                scales, colour, 110, stroke=OUTLINE_COLOUR, stroke_width=1.5, enable_hover=False
            )
            marks += [line, points, current]
            self._lines[name], self._points[name], self._current[name] = line, points, current
            if k < 2:
                axis = bqplot.Axis(
                    scale=y_scale,
                    side="left" if k == 0 else "right",
                    label=name,
                    color=colour,
                    grid_lines="solid" if k == 0 else "none",
                    label_offset="45px",  # clear of the tick labels
                    # no colour reads at 4.5:1 on both themes' backgrounds: the numbers take
                    # the theme's text colour, the axis line the metric's
                    tick_style={"fill": TEXT_COLOUR},
                )
                axes.append(axis)
                self._axes[name] = (y_scale, axis)
        with self.figure.hold_sync():
            self.figure.marks = marks
            self.figure.axes = axes
            themed(self.figure)  # axis names in the theme's text colour, ticks the metric's
            self.figure.title = "metrics" if names else "no metrics yet: they appear with snapshots"
        self._names = names

    def _handle_click(self, mark: bqplot.Scatter, content: dict) -> None:
        data = content.get("data") or {}
        name = next((n for n, points in self._points.items() if points is mark), None)
        kept = self._kept.get(name)
        if "index" not in data or kept is None or self._on_select is None:
            return
        point = int(data["index"])
        if 0 <= point < len(kept):  # the k-th point drawn: the snapshot it stands for
            self._on_select(int(kept[point]))


def _same(shown: tuple[np.ndarray, np.ndarray] | None, x: np.ndarray, y: np.ndarray) -> bool:
    """Whether ``(x, y)`` is what is drawn already (sending it again would send nothing new)."""
    return (
        shown is not None
        and np.array_equal(shown[0], x)
        and np.array_equal(shown[1], y, equal_nan=True)
    )


def _points(
    scales: dict[str, bqplot.Scale], colour: str, size: int, **options: object
) -> bqplot.Scatter:
    """An empty scatter of ``colour`` points of ``size`` square pixels."""
    return bqplot.Scatter(
        x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[colour], default_size=size, **options
    )
