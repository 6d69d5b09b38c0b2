"""The loss curves (bqplot) with a marker at the selected epoch, and a line of text about it.

The curves grow with every epoch and are resent as a whole; the marker and the text move with
the selected snapshot alone. A loss that diverged (NaN, Inf) is a gap in its curve, never a
point the browser would have to place (``views.chart``).
"""

from __future__ import annotations

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.recording import Recording
from nnviz_widgets.views.chart import lines_points, metric_colour, set_ticks, themed, value_limits
from nnviz_widgets.views.ticks import nice_ticks

__all__ = ["LossCurves"]

#: The curves' colours and names: the metrics' own colours (``views.chart.metric_colour``), the
#: same in the explorer, and readable on light and dark themes (black vanished on dark).
_COLOURS = (metric_colour("train_loss"), metric_colour("test_loss"))
_LABELS = ("train loss", "test loss")


class LossCurves:
    """Train and test loss per epoch, a dashed marker at the selected epoch, and its readout.

    Attributes
    ----------
    figure : bqplot.Figure
        The figure to show (CSS class ``nnviz-playground-losses``).
    lines : bqplot.Lines
        The two curves: train loss (blue), test loss (red).
    marker : bqplot.Lines
        The vertical dashed line at the selected epoch.
    readout : ipywidgets.HTML
        "epoch i of n", the losses and the test accuracy at the selected snapshot.
    """

    def __init__(self) -> None:
        self._x = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        y = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self._y = y
        scales = {"x": self._x, "y": y}
        self.lines = bqplot.Lines(
            x=np.zeros(1),
            y=np.zeros((2, 1)),
            scales=scales,
            colors=list(_COLOURS),
            labels=list(_LABELS),
        )
        self.marker = bqplot.Lines(
            x=np.zeros(2),
            y=np.array([0.0, 1.0]),
            scales=scales,
            colors=["#888888"],
            line_style="dashed",
        )
        self.figure = bqplot.Figure(
            marks=[self.lines, self.marker],
            axes=[
                bqplot.Axis(scale=self._x, label="epoch", tick_format=",d"),
                bqplot.Axis(scale=y, side="left", tick_format=".1f"),
            ],
            # room right of the plot: the last epoch's label is centred on the plot's edge
            fig_margin={"top": 30, "bottom": 40, "left": 45, "right": 25},
            title="loss: train (blue), test (red)",
            title_style={"font-size": "13px"},
            padding_x=0.0,
            layout=ipywidgets.Layout(width="330px", height="200px"),
        )
        themed(self.figure)
        self.figure.add_class("nnviz-playground-losses")
        self.readout = ipywidgets.HTML()

    def draw(self, recording: Recording) -> None:
        """Draw the curves of every recorded epoch, and size the axes to them."""
        # training may append while this reads: draw the epochs both losses already have
        train, test = recording.metric("train_loss"), recording.metric("test_loss")
        count = min(len(train), len(test))
        epochs = np.arange(count, dtype=np.float64)
        losses = np.stack([train[:count], test[:count]])
        x, y, kept = lines_points(epochs, losses.astype(np.float64))
        with self.lines.hold_sync():
            self.lines.x, self.lines.y = x, y
            self.lines.colors = [_COLOURS[k] for k in kept]
            self.lines.labels = [_LABELS[k] for k in kept]
        finite = losses[np.isfinite(losses)]
        last = float(max(count - 1, 5))
        # a little room left of epoch 0, so that its label and the loss axis's "0.0" do not
        # touch at the corner
        with self._x.hold_sync():
            self._x.min, self._x.max = -0.03 * last, last
        # whole epochs and round losses, at most six labels each, one format per axis
        x_axis, y_axis = self.figure.axes
        set_ticks(x_axis, nice_ticks(0.0, self._x.max, integer=True))
        value_limits(self._y, y_axis, np.append(finite, 0.0), from_zero=True)
        self.marker.y = np.array([0.0, self._y.max], dtype=np.float32)

    def show_epoch(self, recording: Recording, index: int) -> None:
        """Put the marker at snapshot ``index`` and say its losses and accuracy."""
        self.marker.x = np.array([index, index], dtype=np.float32)
        metrics = {name: recording.metric(name)[index] for name in recording.metric_names}
        # the snapshots' epochs: a weight edited by hand adds a snapshot at the same epoch
        labels = [
            label if label is not None and np.isfinite(label) else float(i)
            for i, label in enumerate(recording.snapshots)
        ]
        edited = " (weight edited)" if index > 0 and labels[index - 1] == labels[index] else ""
        # a regression has no accuracy, and its loss is the mean squared error
        loss = "loss" if "test_accuracy" in metrics else "MSE"
        accuracy = (
            f" &nbsp; test accuracy {metrics['test_accuracy']:.2f}"
            if "test_accuracy" in metrics
            else ""
        )
        self.readout.value = (
            f"<b>epoch {labels[index]:g}</b>{edited} of {labels[-1]:g} &nbsp; train {loss} "
            f"{metrics['train_loss']:.3f} &nbsp; test {loss} {metrics['test_loss']:.3f}"
            f"{accuracy}"
        )
