"""Gradient norms on a log scale: across the layers at one snapshot, and their history."""

from __future__ import annotations

import math

import bqplot
import numpy as np

from nnviz_widgets.views.chart import chart_figure

__all__ = ["GradientNormView"]


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log scale: zero, negative and non-finite become NaN (a gap)."""
    values = np.asarray(values, dtype=np.float64).copy()
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


#: Log-scale limits shown before any gradient norm is recorded.
_EMPTY_DECADES = (1e-3, 1.0)


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


def _norm_figure(
    marks: list[bqplot.Mark],
    x_scale: bqplot.Scale,
    x_label: str,
    norm_scale: bqplot.LogScale,
    *,
    title: str,
    css_class: str,
    **options: object,
) -> bqplot.Figure:
    """A chart of gradient norms on ``norm_scale`` (log) against ``x_scale``."""
    norm_axis = bqplot.Axis(
        scale=norm_scale,
        side="left",
        label="gradient norm",
        tick_format=".0e",  # 1e-7 ... 1e+1: short, and every label alike
    )
    return chart_figure(
        marks,
        [bqplot.Axis(scale=x_scale, label=x_label), norm_axis],
        title=title,
        css_class=css_class,
        width="445px",
        margin={"top": 30, "bottom": 45, "left": 65, "right": 15},
        **options,
    )


class GradientNormView:
    """Gradient norms: across the network at the current snapshot, and their history.

    Both on a log scale, so vanishing (orders of magnitude smaller towards the input) and
    exploding gradients show at a glance.
    """

    def __init__(self) -> None:
        self.layer_scale = bqplot.OrdinalScale()
        # both log scales get explicit limits and ticks at powers of ten, from the start
        # (_set_limits at the end): bqplot 0.13 cannot render a log axis with num_ticks over an
        # empty domain (the figure's axes then never appear, nor later titles: seen in
        # JupyterLab when the explorer is shown before the first snapshot), and automatic
        # ticks crowd when norms span many decades
        self.norm_scale = bqplot.LogScale()
        self.across = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self.layer_scale, "y": self.norm_scale},
            marker="circle",
            colors=["#d62728"],
        )
        self.across_figure = _norm_figure(
            [self.across],
            self.layer_scale,
            "layer (input to output)",
            self.norm_scale,
            title="gradient norm per layer",
            css_class="nnviz-gradnorm",
        )
        self.epoch_scale = bqplot.LinearScale()
        self.history_scale = bqplot.LogScale()
        self.history = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros((0, 0)),
            scales={"x": self.epoch_scale, "y": self.history_scale},
            display_legend=True,
        )
        self.cursor = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self.epoch_scale, "y": self.history_scale},
            colors=["#555555"],
            line_style="dashed",
        )
        self.history_figure = _norm_figure(
            [self.history, self.cursor],
            self.epoch_scale,
            "epoch",
            self.history_scale,
            title="gradient norm history",
            css_class="nnviz-gradhistory",
            legend_location="top-left",  # early epochs sit low on a log scale: room for it
        )
        self.norm_axes = [self.across_figure.axes[1], self.history_figure.axes[1]]
        self._key: tuple = ()
        self._limits: tuple[float, float] | None = None
        self._set_limits(*_EMPTY_DECADES)

    def show(self, epochs: np.ndarray, norms: dict[str, np.ndarray], index: int) -> None:
        """``norms`` maps layer to its gradient norm per snapshot; ``index`` is the current one."""
        layers = list(norms)
        if not layers or not len(epochs):
            with self.across.hold_sync():
                self.across.x, self.across.y = np.zeros(0), np.zeros(0)
            self.across_figure.title = "no gradient norms recorded"
            self._key = ()
            self._set_limits(*_EMPTY_DECADES)
            return
        history = np.stack([_positive(norms[layer]) for layer in layers])
        key = (tuple(layers), history.shape, history.tobytes())
        if key != self._key:
            with self.history.hold_sync():
                self.history.x = np.asarray(epochs, dtype=np.float64)
                self.history.y = history
                self.history.labels = layers
            self._key = key
            # one range for both figures, over every snapshot: scrubbing never rescales
            finite = history[np.isfinite(history)]
            self._set_limits(*_decades(finite) if finite.size else _EMPTY_DECADES)
        current = history[:, index] if 0 <= index < history.shape[1] else np.full(len(layers), 1.0)
        with self.across.hold_sync():
            self.across.x = np.array(layers, dtype=object)
            self.across.y = current
        finite = history[np.isfinite(history)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            with self.cursor.hold_sync():
                self.cursor.x = np.full(2, float(epochs[index]))
                self.cursor.y = np.array([low, high])
        self.across_figure.title = f"gradient norm per layer, epoch {float(epochs[index]):g}"

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
