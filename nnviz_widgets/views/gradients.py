"""Gradient norms on a log scale: across the layers at one snapshot, and their history.

Readable from three layers to hundreds: no chart draws one text label per layer unless every
name fits. The across chart places the layers by their names when every name fits under its
point, else by their places 1 to n with a label every few places; a point's name shows on
hover. The history draws every layer's line light and without a legend (forty entries covered
the plot), the selected layer's line strong on top; a line's name shows on hover. The selected
layer stands out in both charts, and clicking a point or a line selects that layer
(``on_select``).

A norm of zero or NaN has no place on a log scale: it is a gap in its line and no point
(``views.chart``); the layer axis lists every layer all the same. A layer whose gradient is
exactly zero at the snapshot shown (dead, frozen by a mask) does not vanish: a hollow triangle
at the foot of the across chart marks it, and the title counts such layers. A snapshot without
any norm (before the first step) says so in the title.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import bqplot
import numpy as np

from nnviz_widgets.views.chart import (
    chart_figure,
    epoch_ticks,
    finite_points,
    line_points,
    lines_points,
    title_size,
)

__all__ = ["GradientNormView", "layer_ticks"]

#: Every layer's points and line across the network.
LAYER_COLOUR = "#4c78a8"
#: Every layer's history: a mid grey, drawn light, readable on light and dark themes.
HISTORY_COLOUR = "#8c8c8c"
#: The selected layer, in both charts.
SELECTED_COLOUR = "#f58518"
#: Width of the charts' plotting area in pixels (the figure's 445 less its margins).
PLOT_WIDTH = 445 - 65 - 15
#: Pixels a character of a tick label takes (10 px sans-serif), to tell whether names fit.
CHARACTER_PIXELS = 6.5
#: At most this many numbered ticks on the across chart.
MOST_TICKS = 10
#: Up to this many snapshots the history draws a dot at each (one snapshot is no line).
FEW_SNAPSHOTS = 12
#: Log-scale limits shown before any gradient norm is recorded.
_EMPTY_DECADES = (1e-3, 1.0)


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log scale: zero, negative and non-finite become NaN (a gap)."""
    values = np.asarray(values, dtype=np.float64).copy()
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


def _decades(values: np.ndarray) -> tuple[float, float]:
    """The powers of ten around positive ``values``: at least one decade apart."""
    low = 10.0 ** math.floor(math.log10(float(values.min())))
    high = 10.0 ** math.ceil(math.log10(float(values.max())))
    if high <= low:
        high = low * 10.0
    return low, high


def _decade_ticks(low: float, high: float, most: int = 6) -> np.ndarray:
    """Powers of ten from ``low`` to ``high``, every k-th one so at most ``most`` show."""
    first, last = round(math.log10(low)), round(math.log10(high))
    step = max(1, -(-(last - first) // (most - 1)))
    return 10.0 ** np.arange(first, last + 1, step, dtype=np.float64)


def elide(name: str, width: float) -> str:
    """``name`` shortened in its middle ("layer4…conv2") to fit ``width`` pixels of 10-12 px
    text; whole when it fits."""
    most = max(8, int(width / CHARACTER_PIXELS))
    if len(name) <= most:
        return name
    head = (most - 1) // 2
    return name[:head] + "\u2026" + name[len(name) - (most - 1 - head) :]


def layer_ticks(labels: list[str], width: float = PLOT_WIDTH) -> tuple[list[str], int | None]:
    """Where the across chart places layers named ``labels``: (x values, the axis' num_ticks).

    The names themselves when the longest fits its share of ``width`` (every one labelled);
    else the layers' places "1" to "n", labelled every few places: bqplot labels an ordinal
    axis' domain at 0, k, 2k, ... with k = n // (num_ticks - 1), at most :data:`MOST_TICKS`.
    """
    if not labels or max(map(len, labels)) * CHARACTER_PIXELS <= width / len(labels) - 4:
        return list(labels), None
    places = [str(k + 1) for k in range(len(labels))]
    return places, (MOST_TICKS if len(places) > MOST_TICKS else None)


def _norm_figure(
    marks: list[bqplot.Mark],
    x_axis: bqplot.Axis,
    norm_scale: bqplot.LogScale,
    *,
    title: str,
    css_class: str,
) -> bqplot.Figure:
    """A chart of gradient norms on ``norm_scale`` (log) against ``x_axis``."""
    norm_axis = bqplot.Axis(
        scale=norm_scale,
        side="left",
        label="gradient norm",
        tick_format=".0e",  # 1e-7 ... 1e+1: short, and every label alike
        label_offset="50px",  # clear of "1e+14"
    )
    return chart_figure(
        marks,
        [x_axis, norm_axis],
        title=title,
        css_class=css_class,
        width="445px",
        margin={"top": 30, "bottom": 45, "left": 65, "right": 15},
    )


def _dots(epochs: np.ndarray, y: np.ndarray) -> str | None:
    """A dot at each snapshot while there are few (a single snapshot draws no line), and only
    where every point is finite: bqplot puts a dot at each point, and one at NaN is an SVG
    error in the browser (a gradient norm is NaN at snapshot 0, before any backward)."""
    few = len(epochs) <= FEW_SNAPSHOTS
    return "circle" if few and np.isfinite(np.asarray(y, dtype=np.float64)).all() else None


def _ordinal(values: np.ndarray) -> np.ndarray | list:
    """Names for an ordinal scale's mark: an empty list for none (bqplot cannot send an empty
    array of objects)."""
    return values if len(values) else []


def _tooltip(fields: list[str], labels: list[str], formats: list[str]) -> bqplot.Tooltip:
    return bqplot.Tooltip(fields=fields, labels=labels, formats=formats)


def _named_points(
    scales: dict[str, bqplot.Scale], colour: str, size: int, **options: object
) -> bqplot.Scatter:
    """Empty points of ``colour`` and ``size`` (square pixels) whose tooltip names each by its
    ``names`` entry (not drawn beside it) and gives its norm."""
    return bqplot.Scatter(
        x=[], y=np.zeros(0), scales=scales, colors=[colour], default_size=size,
        names=[], display_names=False,
        tooltip=_tooltip(["name", "y"], ["layer", "gradient norm"], ["", ".3g"]), **options,
    )  # fmt: skip


class GradientNormView:
    """Gradient norms: across the network at the current snapshot, and their history.

    Both on a log scale, so vanishing (orders of magnitude smaller towards the input) and
    exploding gradients show at a glance.

    Parameters
    ----------
    on_select : callable, optional
        ``on_select(layer)`` when a layer's point (across) or line (history) is clicked.
    """

    def __init__(self, on_select: Callable[[str], None] | None = None) -> None:
        self._on_select = on_select
        self.layer_scale = bqplot.OrdinalScale()  # by name, or by place (layer_ticks)
        # both log scales get explicit limits and ticks at powers of ten, from the start
        # (_set_limits at the end): bqplot 0.13 cannot render a log axis with num_ticks over an
        # empty domain (the figure's axes then never appear, nor later titles: seen in
        # JupyterLab when the explorer is shown before the first snapshot), and automatic
        # ticks crowd when norms span many decades
        self.norm_scale = bqplot.LogScale()
        self.across_figure = self._across_chart()
        self.epoch_scale = bqplot.LinearScale()
        self.history_scale = bqplot.LogScale()
        self.history_figure = self._history_chart()
        self.norm_axes = [self.across_figure.axes[1], self.history_figure.axes[1]]
        self.layers: tuple[str, ...] = ()
        """The layers drawn, in order (what a click reports)."""
        self._key: tuple = ()
        self._limits: tuple[float, float] | None = None
        self._history = np.zeros((0, 0))
        self._epochs = np.zeros(0)
        self._places: list[str] = []  # the layers' x values (layer_ticks)
        # the layer each drawn point (across) and line (history) stands for: layers without a
        # norm to show are left out of the marks (see the module's docstring)
        self._rows: dict[str, np.ndarray] = {
            "across": np.zeros(0, int),
            "history": np.zeros(0, int),
        }
        self._set_limits(*_EMPTY_DECADES)
        epoch_ticks(self.history_figure.axes[0], np.zeros(0))  # no epochs yet: no epoch axis

    def _across_chart(self) -> bqplot.Figure:
        """The norms across the layers: a line through every layer's point, the selected
        layer's point over it; each names itself on hover (``names``, not drawn)."""
        scales = {"x": self.layer_scale, "y": self.norm_scale}
        self.across = bqplot.Lines(
            x=[], y=np.zeros(0), scales=scales, colors=[LAYER_COLOUR], stroke_width=1.5
        )
        self.across_points = _named_points(scales, LAYER_COLOUR, 30)
        self.across_selected = _named_points(
            scales, SELECTED_COLOUR, 120, stroke="white", stroke_width=1.5
        )
        # layers whose gradient is exactly zero: at the foot of the chart, named on hover
        self.across_zero = bqplot.Scatter(
            x=[], y=np.zeros(0), scales=scales, colors=[LAYER_COLOUR], default_size=40,
            marker="triangle-down", fill=False, stroke_width=1.5, names=[], display_names=False,
            tooltip=_tooltip(["name"], ["gradient 0 in layer"], [""]),
        )  # fmt: skip
        self.across_points.on_element_click(self._clicked)
        self.layer_axis = bqplot.Axis(scale=self.layer_scale, label="layer (input to output)")
        marks = [self.across, self.across_points, self.across_zero, self.across_selected]
        return _norm_figure(
            marks, self.layer_axis, self.norm_scale,
            title="gradient norm per layer", css_class="nnviz-gradnorm",
        )  # fmt: skip

    def _history_chart(self) -> bqplot.Figure:
        """The norms over the snapshots: every layer's line light, the selected layer's
        strong over them, the current snapshot as a dashed line; a line names itself on hover."""
        scales = {"x": self.epoch_scale, "y": self.history_scale}
        named = _tooltip(["name"], ["layer"], [""])
        self.history = bqplot.Lines(
            x=np.zeros(0), y=np.zeros((0, 0)), scales=scales, colors=[HISTORY_COLOUR],
            opacities=[], stroke_width=1.5, tooltip=named,
        )  # fmt: skip
        self.history_selected = bqplot.Lines(
            x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[SELECTED_COLOUR],
            stroke_width=2.5, tooltip=_tooltip(["name"], ["layer"], [""]),
        )  # fmt: skip
        self.history.on_element_click(self._clicked)
        self.cursor = bqplot.Lines(
            x=np.zeros(0), y=np.zeros(0), scales=scales, colors=["#888888"],
            line_style="dashed", enable_hover=False,
        )  # fmt: skip
        return _norm_figure(
            [self.history, self.history_selected, self.cursor],
            bqplot.Axis(scale=self.epoch_scale, label="epoch"),
            self.history_scale,
            title="gradient norm history",
            css_class="nnviz-gradhistory",
        )

    def show(
        self,
        epochs: np.ndarray,
        norms: dict[str, np.ndarray],
        index: int,
        selected: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Draw ``norms`` (layer -> gradient norm per snapshot) at snapshot ``index``.

        ``selected`` is the layer to highlight (none if it has no norms); ``labels`` names
        layers for a person (each layer's own name by default).
        """
        layers = tuple(norms)
        if not layers or not len(epochs):
            self._clear()
            return
        names = [(labels or {}).get(layer, layer) for layer in layers]
        if len(set(names)) < len(names):  # an ordinal scale needs distinct names
            names = list(layers)
        raw = [np.asarray(norms[layer], dtype=np.float64) for layer in layers]
        history = np.stack([_positive(values) for values in raw])
        key = (layers, tuple(names), history.shape, history.tobytes())
        if key != self._key:
            self._draw_history(np.asarray(epochs, dtype=np.float64), history, layers, names)
            self._key = key
        current = (
            history[:, index] if 0 <= index < history.shape[1] else np.full(len(layers), np.nan)
        )
        places = np.array(self._places, dtype=object)
        x, y = line_points(places, current)
        with self.across.hold_sync():
            self.across.x, self.across.y = _ordinal(x), y
        x, y, self._rows["across"] = finite_points(places, current)
        with self.across_points.hold_sync():
            self.across_points.x, self.across_points.y = _ordinal(x), y
            self.across_points.names = _ordinal(np.array(names, dtype=object)[self._rows["across"]])
        finite = history[np.isfinite(history)]
        if finite.size:
            with self.cursor.hold_sync():
                self.cursor.x = np.full(2, float(epochs[index]))
                self.cursor.y = np.array([float(finite.min()), float(finite.max())])
        zero = np.array([0 <= index < len(v) and v[index] == 0 for v in raw], dtype=bool)
        with self.across_zero.hold_sync():
            self.across_zero.x = _ordinal(places[zero])
            self.across_zero.y = np.full(int(zero.sum()), self._limits[0], dtype=np.float64)
            self.across_zero.names = _ordinal(np.array(names, dtype=object)[zero])
        title = f"gradient norm per layer, epoch {float(epochs[index]):g}"
        if not np.isfinite(current).any() and not zero.any():
            title += ": none yet (before the first step)"
        elif zero.any():
            title += f" ({int(zero.sum())} zero, \u25bd)"
        self.across_figure.title = title
        self._highlight(layers.index(selected) if selected in layers else None, names, current)

    def _draw_history(
        self, epochs: np.ndarray, history: np.ndarray, layers: tuple[str, ...], names: list[str]
    ) -> None:
        """Every layer's history (light lines), the axis of layer places, and the log limits."""
        # snapshots where no layer has a norm yet (snapshot 0, before any backward) drawn as
        # nothing rather than as gaps, so that the rest can carry dots
        some = np.isfinite(history).any(axis=0)
        x, y, self._rows["history"] = lines_points(epochs[some], history[:, some])
        with self.history.hold_sync():  # the dots with the data: never a dot at a NaN
            self.history.x, self.history.y = x, y
            self.history.marker, self.history.marker_size = _dots(x[0] if len(x) else x, y), 16
            self.history.labels = [names[row] for row in self._rows["history"]]
            # fainter as there are more lines, so that the crowd stays a background
            self.history.opacities = [max(0.25, min(0.8, 6.0 / len(layers)))] * len(x)
        self._places, self.layer_axis.num_ticks = layer_ticks(names)
        self.layer_scale.domain = list(self._places)  # every layer, with a norm to show or not
        self.layers, self._history, self._epochs = layers, history, epochs
        epoch_ticks(self.history_figure.axes[0], epochs)  # whole epochs, never 0.5
        self._fit_epochs(epochs)
        # one range for both figures, over every snapshot: scrubbing never rescales
        finite = history[np.isfinite(history)]
        self._set_limits(*_decades(finite) if finite.size else _EMPTY_DECADES)

    def _fit_epochs(self, epochs: np.ndarray) -> None:
        """The epoch scale over ``epochs`` with a little room at both ends, so that the first
        and last snapshot's dots and the cursor on them are not cut by the frame; a dot at each
        snapshot."""
        finite = epochs[np.isfinite(epochs)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            room = 0.5 if high == low else 0.03 * (high - low)
            with self.epoch_scale.hold_sync():
                self.epoch_scale.min, self.epoch_scale.max = low - room, high + room

    def _highlight(self, row: int | None, names: list[str], current: np.ndarray) -> None:
        """Mark layer ``row`` (None: none) in both charts and name it under the across chart."""
        count = len(names)
        if row is None:
            x, y, history, label = np.zeros(0), np.zeros(0), np.zeros(0), []
            self.layer_axis.label = f"{count} layers with gradients, input to output"
            self.history_figure.title = "gradient norm history"
        else:
            x, y, _ = finite_points(
                np.array([self._places[row]], dtype=object), current[row : row + 1]
            )
            x, label = _ordinal(x), [names[row]] if len(x) else []
            history = self._history[row]
            # its place among the layers with gradients (the picker counts every layer)
            # a long name (a transformer's "encoder.layers.11.self_attn.out_proj") shortened
            # in its middle, so the label stays under its chart and the title in its figure
            self.layer_axis.label = (
                f"{elide(names[row], PLOT_WIDTH - 150)}: {row + 1} of {count} with gradients"
            )
            title = f"gradient norm history: {elide(names[row], PLOT_WIDTH - 150)}"
            self.history_figure.title = title
        size = title_size(self.history_figure.title, PLOT_WIDTH, largest=12)
        style = self.history_figure.title_style or {}
        if style.get("font-size") != size:
            self.history_figure.title_style = {**style, "font-size": size}
        with self.across_selected.hold_sync():
            self.across_selected.x, self.across_selected.y = x, y
            self.across_selected.names = label
        with self.history_selected.hold_sync():
            self.history_selected.x, self.history_selected.y = line_points(
                self._epochs if row is not None else np.zeros(0), history
            )
            self.history_selected.marker = _dots(self._epochs, self.history_selected.y)
            self.history_selected.marker_size = 36
            self.history_selected.labels = label

    def _clear(self) -> None:
        """Nothing recorded: empty marks, the empty limits, a title that says so."""
        for mark in (self.across, self.across_points, self.across_zero, self.across_selected):
            with mark.hold_sync():
                mark.x, mark.y = [], np.zeros(0)
        self.across_zero.names = []
        epoch_ticks(self.history_figure.axes[0], np.zeros(0))  # no 0.1 ... 0.9 epochs
        for mark in (self.history, self.history_selected, self.cursor):
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0), np.zeros(0)
        self.across_figure.title = "no gradient norms recorded"
        self.layer_axis.label = "layer (input to output)"
        self.history_figure.title = "gradient norm history"
        self.layers, self._key = (), ()
        self._rows = {"across": np.zeros(0, int), "history": np.zeros(0, int)}
        self._set_limits(*_EMPTY_DECADES)

    def _clicked(self, mark: bqplot.Mark, content: dict) -> None:
        """A point (across) or a line (history) clicked: its index is the layer's among those
        drawn."""
        rows = self._rows["history" if mark is self.history else "across"]
        drawn = (content.get("data") or {}).get("index")
        if self._on_select is not None and isinstance(drawn, int) and 0 <= drawn < len(rows):
            self._on_select(self.layers[int(rows[drawn])])

    def _set_limits(self, low: float, high: float) -> None:
        """Both log scales from ``low`` to ``high`` (powers of ten), ticks at decades."""
        if (low, high) == self._limits:
            return
        # a little room beyond the decades, so points on them are not cut by the frame
        room = (high / low) ** 0.04
        for scale in (self.norm_scale, self.history_scale):
            with scale.hold_sync():
                scale.min, scale.max = low / room, high * room
        for axis in self.norm_axes:
            axis.tick_values = _decade_ticks(low, high)
        self._limits = (low, high)
