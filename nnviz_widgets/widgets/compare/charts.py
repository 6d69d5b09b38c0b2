"""The comparison's charts: metrics and the selected layer's gradient norm, one colour per run.

Each run keeps its colour in both charts, and the legend names the runs. The charts are built
from the small charts' shared frame (``views.chart``: size, title, theme, and the rule that no
mark is sent a point it cannot place), with a vertical line at the epoch on the slider.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import bqplot
import numpy as np

from nnviz_widgets.views.chart import chart_figure, epoch_ticks, line_points, themed, value_limits

__all__ = ["RUN_COLOURS", "RunGradientView", "RunMetricsView", "run_colour"]

#: One colour per run, in order: mid tones that read on a white page and on JupyterLab's dark
#: one alike (blue, orange, green, pink, purple, teal).
RUN_COLOURS = ("#3d8bd4", "#e8702a", "#3aa655", "#d94f9c", "#9a6fd0", "#1fb5c4")
#: How the first and the second metric's lines are drawn (a third and more are not drawn).
METRIC_STYLES = ("solid", "dashed")
#: The vertical line at the epoch on the slider: JupyterLab's secondary text colour.
CURSOR_COLOUR = "var(--jp-ui-font-color2, #888888)"

Series = Mapping[str, tuple[np.ndarray, Mapping[str, np.ndarray]]]


def run_colour(order: int) -> str:
    """The colour of the ``order``-th run."""
    return RUN_COLOURS[order % len(RUN_COLOURS)]


def _lines(scales: dict, colour: str, label: str, style: str = "solid") -> bqplot.Lines:
    return bqplot.Lines(
        x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[colour], labels=[label],
        line_style=style, display_legend=True, stroke_width=2,
    )  # fmt: skip


def _cursor(scales: dict) -> bqplot.Lines:
    return bqplot.Lines(
        x=np.zeros(0), y=np.zeros(0), scales=scales, colors=[CURSOR_COLOUR],
        line_style="dotted", display_legend=False,
    )  # fmt: skip


class RunMetricsView:
    """The runs' metrics against the epoch: a line per run and metric (the first two metrics,
    the first solid on the left axis, the second dashed on the right one)."""

    def __init__(self) -> None:
        self.x_scale = bqplot.LinearScale()
        self.epoch_axis = bqplot.Axis(scale=self.x_scale, label="epoch")
        self.figure = chart_figure(
            [], [], title="no metrics yet", css_class="nnviz-compare-metrics", width="420px",
            margin={"top": 30, "bottom": 40, "left": 55, "right": 55},
            legend_location="bottom-left",  # losses fall from the top left: that corner is free
        )  # fmt: skip
        self.lines: dict[tuple[str, str], bqplot.Lines] = {}
        """(run, metric) -> its line."""
        self._key: tuple = ()
        self._scales: dict[str, tuple[bqplot.LinearScale, bqplot.Axis]] = {}
        self._cursor: bqplot.Lines | None = None

    def show(self, runs: Series, epoch: float) -> None:
        """Draw each run's metrics (run -> (epochs, metrics)) and a line at ``epoch``."""
        names: list[str] = []
        for _, metrics in runs.values():
            names += [name for name in metrics if name not in names]
        names = names[: len(METRIC_STYLES)]
        key = (tuple(runs), tuple(names))
        if key != self._key:
            self._build(list(runs), names)
            self._key = key
        every = []
        with self.figure.hold_sync():
            for name in names:
                values = [m[name] for _, m in runs.values() if name in m]
                value_limits(*self._scales[name], np.concatenate(values) if values else [])
            for (run, name), line in self.lines.items():
                epochs, metrics = runs[run]
                y = metrics.get(name, np.full(len(epochs), np.nan))
                x, y = line_points(np.asarray(epochs, np.float64), y)
                every.append(x)
                with line.hold_sync():
                    line.x, line.y = x, y
            epochs = np.concatenate([np.asarray(e, np.float64) for e, _ in runs.values()])
            _epoch_range(self.x_scale, self.epoch_axis, epochs)
            if self._cursor is not None:
                scale = self._scales[names[0]][0]
                with self._cursor.hold_sync():
                    self._cursor.x = np.full(2, float(epoch))
                    self._cursor.y = np.array([scale.min, scale.max], dtype=np.float64)

    def _build(self, runs: list[str], names: list[str]) -> None:
        marks, axes, self.lines, self._scales = [], [self.epoch_axis], {}, {}
        for k, name in enumerate(names):
            y_scale = bqplot.LinearScale()
            axis = bqplot.Axis(
                scale=y_scale, side="left" if k == 0 else "right", label=name,
                grid_lines="solid" if k == 0 else "none", label_offset="45px",
            )  # fmt: skip
            axes.append(axis)
            self._scales[name] = (y_scale, axis)
            for order, run in enumerate(runs):
                label = f"{run} \u00b7 {name}" if len(names) > 1 else run
                line = _lines({"x": self.x_scale, "y": y_scale}, run_colour(order), label)
                line.line_style = METRIC_STYLES[k]
                self.lines[run, name] = line
                marks.append(line)
        self._cursor = (
            _cursor({"x": self.x_scale, "y": self._scales[names[0]][0]}) if names else None
        )
        with self.figure.hold_sync():
            self.figure.marks = [*marks, *([self._cursor] if self._cursor else [])]
            self.figure.axes = axes if names else []
            themed(self.figure)
            self.figure.title = f"{' and '.join(names)} per run" if names else "no metrics yet"


class RunGradientView:
    """The selected layer's gradient norm per snapshot, a line per run, on a log scale.

    The log scale always has explicit limits at powers of ten (bqplot cannot draw a log axis
    over an empty domain: ``docs/architecture.md``, "Facts the code relies on").
    """

    def __init__(self) -> None:
        self.x_scale = bqplot.LinearScale()
        self.y_scale = bqplot.LogScale(min=1e-3, max=1.0)
        self.epoch_axis = bqplot.Axis(scale=self.x_scale, label="epoch")
        self.norm_axis = bqplot.Axis(
            scale=self.y_scale, side="left", label="gradient norm", tick_format=".0e",
            label_offset="50px", tick_values=np.array([1e-3, 1e-2, 1e-1, 1.0]),
        )  # fmt: skip
        self.figure = chart_figure(
            [], [self.epoch_axis, self.norm_axis], title="gradient norm",
            css_class="nnviz-compare-gradients", width="420px",
            margin={"top": 30, "bottom": 40, "left": 65, "right": 15},
            legend_location="top-right",
        )  # fmt: skip
        self.lines: dict[str, bqplot.Lines] = {}
        """Run -> its line."""
        self._cursor = _cursor({"x": self.x_scale, "y": self.y_scale})

    def show(
        self, runs: Mapping[str, tuple[np.ndarray, np.ndarray]], layer: str, epoch: float
    ) -> None:
        """Draw each run's norms (run -> (epochs, norms)) of ``layer`` and a line at ``epoch``."""
        if tuple(runs) != tuple(self.lines):
            self.lines = {
                run: _lines({"x": self.x_scale, "y": self.y_scale}, run_colour(k), run)
                for k, run in enumerate(runs)
            }
            self.figure.marks = [*self.lines.values(), self._cursor]
        positive = []
        with self.figure.hold_sync():
            for run, (epochs, norms) in runs.items():
                y = np.asarray(norms, dtype=np.float64).copy()
                y[~(np.isfinite(y) & (y > 0))] = np.nan  # no place on a log scale: a gap
                x, y = line_points(np.asarray(epochs, np.float64), y)
                positive.append(y[np.isfinite(y)])
                with self.lines[run].hold_sync():
                    self.lines[run].x, self.lines[run].y = x, y
            values = np.concatenate(positive) if positive else np.zeros(0)
            low, high = _decades(values) if values.size else (1e-3, 1.0)
            with self.y_scale.hold_sync():
                self.y_scale.min, self.y_scale.max = low, high
            step = max(1, round(math.log10(high / low)) // 5)
            self.norm_axis.tick_values = 10.0 ** np.arange(
                round(math.log10(low)), round(math.log10(high)) + 1, step, dtype=np.float64
            )
            epochs = [np.asarray(e, np.float64) for e, _ in runs.values()]
            _epoch_range(self.x_scale, self.epoch_axis, np.concatenate(epochs) if epochs else [])
            with self._cursor.hold_sync():
                self._cursor.x = np.full(2, float(epoch))
                self._cursor.y = np.array([low, high], dtype=np.float64)
            self.figure.title = (
                f"gradient norm of {layer} per run" if values.size else
                f"no gradient norm recorded for {layer}"
            )  # fmt: skip


def _decades(values: np.ndarray) -> tuple[float, float]:
    """The powers of ten around positive ``values``: at least one decade apart."""
    low = 10.0 ** math.floor(math.log10(float(values.min())))
    high = 10.0 ** math.ceil(math.log10(float(values.max())))
    return (low, high) if high > low else (low, low * 10.0)


def _epoch_range(scale: bqplot.LinearScale, axis: bqplot.Axis, epochs: np.ndarray) -> None:
    """The epoch axis over every run's epochs, whether or not a line has points there (the
    cursor stays where the slider is)."""
    epochs = np.asarray(epochs, dtype=np.float64)
    epoch_ticks(axis, epochs)
    if epochs.size and epochs.max() > epochs.min():
        low, high = float(epochs.min()), float(epochs.max())
        if (scale.min, scale.max) != (low, high):
            with scale.hold_sync():
                scale.min, scale.max = low, high
