"""No chart sends the browser a point it cannot place (issue 13).

bqplot places a scatter point, and the label at a line's end, with ``translate(x, y)``; a NaN
there is an SVG error in the browser's console on every draw ("translate(0,NaN)"). Missing
metrics, zero or NaN gradient norms on a log scale, diverged losses, a single snapshot: every
array a mark is sent is checked here, in Python, for what the browser would place.
"""

import bqplot
import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.views.chart import metric_colour
from nnviz_widgets.views.gradients import GradientNormView
from nnviz_widgets.views.histogram import HistogramView
from nnviz_widgets.views.metrics import MetricsView
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer.display import every_widget
from nnviz_widgets.widgets.playground.loss_curves import LossCurves


def _placed(values) -> np.ndarray:
    """A mark's x or y as numbers (names on an ordinal scale are always placeable)."""
    array = np.asarray(values)
    if array.dtype.kind not in "fiu":
        return np.zeros(0)
    return array.astype(np.float64)


def unplaceable(widgets) -> list[str]:
    """Every scatter point and every line end that would be placed at a non-finite position."""
    found = []
    for mark in widgets:
        if isinstance(mark, bqplot.Scatter):
            for name in ("x", "y"):
                if not np.isfinite(_placed(getattr(mark, name))).all():
                    found.append(f"{type(mark).__name__} {name}: {getattr(mark, name)}")
        elif isinstance(mark, bqplot.Lines) and mark.marker is not None:
            # with dots, bqplot places one at every point
            for name in ("x", "y"):
                if not np.isfinite(_placed(getattr(mark, name))).all():
                    found.append(f"Lines with dots {name}: {getattr(mark, name)}")
        elif isinstance(mark, bqplot.Lines):
            # the end of each line carries its label: bqplot puts it at the line's last point
            x, y = _placed(mark.x), np.asarray(mark.y, dtype=np.float64)
            if y.size and not np.isfinite(np.atleast_2d(y)[:, -1]).all():
                found.append(f"Lines ends y: {np.atleast_2d(y)[:, -1]}")
            if x.size and not np.isfinite(np.atleast_2d(x)[:, -1]).all():
                found.append(f"Lines ends x: {np.atleast_2d(x)[:, -1]}")
        elif isinstance(mark, bqplot.Bars):
            for name in ("x", "y"):
                if not np.isfinite(_placed(getattr(mark, name))).all():
                    found.append(f"Bars {name}")
    return found


def test_chart_points():
    from nnviz_widgets.views.chart import finite_points, line_points, lines_points

    x, y, kept = finite_points(np.arange(5.0), np.array([np.nan, 1, np.inf, 3, np.nan]))
    assert list(x) == [1, 3] and list(y) == [1, 3] and list(kept) == [1, 3]
    x, y = line_points(np.arange(5.0), np.array([np.nan, 1, np.nan, 3, np.nan]))
    assert list(x) == [1, 2, 3] and np.isnan(y[1]) and y[-1] == 3  # the gap inside stays
    assert line_points(np.arange(2.0), np.full(2, np.nan))[0].size == 0
    history = np.array([[1, np.nan, 2, np.nan], [np.nan] * 4, [1, 2, 3, 4]])
    xs, ys, kept = lines_points(np.arange(4.0), history)
    assert list(kept) == [0, 2]
    np.testing.assert_array_equal(xs[0], [3, 0, 1, 2])  # the trailing gap moved to the start
    np.testing.assert_array_equal(ys[0], [np.nan, 1, np.nan, 2])
    np.testing.assert_array_equal(ys[1], [1, 2, 3, 4])


def test_metrics_with_missing_values_send_no_nan_point():
    clicked = []
    view = MetricsView(on_select=clicked.append)
    epochs = np.arange(4.0)
    # "loss" is missing at snapshot 0 (the untrained network) and at the newest one
    metrics = {"loss": np.array([np.nan, 2.0, 1.0, np.nan]), "accuracy": np.full(4, np.nan)}
    for index in range(4):
        view.show(epochs, metrics, index)
        assert unplaceable(view.figure.marks) == [], index
    # the points drawn are those with values; a click on the first is snapshot 1
    view._points["loss"]._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 0}})
    assert clicked == [1]


def test_gradient_norms_of_zero_or_nan_send_no_nan_point():
    clicked = []
    view = GradientNormView(on_select=clicked.append)
    epochs = np.arange(3.0)
    norms = {
        "a": np.array([np.nan, 0.5, 0.0]),  # no gradient yet, then a dead layer
        "b": np.array([np.nan, np.nan, np.nan]),  # frozen: never a gradient
        "c": np.array([np.nan, 1.0, 2.0]),
    }
    for index in range(3):
        for selected in ("a", "b", "c", None):
            view.show(epochs, norms, index, selected)
            marks = [*view.across_figure.marks, *view.history_figure.marks]
            assert unplaceable(marks) == [], (index, selected)
    assert view.layer_scale.domain == ["a", "b", "c"]  # every layer keeps its place
    # the history draws a and c; a click on the second line drawn is layer c
    view.history._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 1}})
    view.show(epochs, norms, 2, None)
    view.across_points._handle_custom_msgs(
        None, {"event": "element_click", "data": {"index": 0}}
    )  # at epoch 2 only c has a point: a's norm is 0
    assert clicked == ["c", "c"]


def test_histogram_without_a_finite_range_sends_no_bar():
    view = HistogramView(bqplot.ColorScale())
    view.show_counts(np.array([np.nan, np.nan]), np.array([1, 2]), "histogram")
    assert unplaceable([view.bars]) == []


def test_diverged_losses_send_no_nan_point():
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
    losses = [(0.7, 0.7), (0.5, 0.6), (np.inf, np.nan), (np.nan, np.nan)]
    for epoch, (train, test) in enumerate(losses):
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=epoch,
                frames={("fc", "weight"): np.ones((2, 2), np.float32)},
                metrics={"train_loss": train, "test_loss": test, "test_accuracy": 0.5},
            )
        )
        curves = LossCurves()
        curves.draw(recording)
        curves.show_epoch(recording, epoch)
        assert unplaceable(curves.figure.marks) == [], epoch
        # room left of epoch 0: its label clear of the loss axis's at the corner
        x_scale = curves.figure.axes[0].scale
        assert -0.05 * x_scale.max < x_scale.min < 0
    # each curve keeps its colour, the losses' own in every widget
    assert curves.lines.colors == [metric_colour("train_loss"), metric_colour("test_loss")]


def test_the_playground_loss_chart_draws_while_training_appends():
    """Training appends between the chart's reads: it draws the epochs both losses have."""

    class Appending:
        """A recording caught mid-append: one more snapshot and train loss than test loss."""

        def __len__(self):
            return 4

        def metric(self, name):
            return np.linspace(1.0, 0.5, 4 if name == "train_loss" else 3)

    curves = LossCurves()
    curves.draw(Appending())
    assert np.asarray(curves.lines.x).shape == (2, 3)
    assert unplaceable(curves.figure.marks) == []


@pytest.mark.parametrize("snapshots", [1, 3])
def test_an_explorer_in_ordinary_use_sends_no_nan_point(rng, snapshots):
    """The quickstart's pattern: snapshot 0 without a loss and without gradients."""
    recording = Recording()
    recording.set_layers(
        {INPUT: {"type": "input", "calls": 1}, "fc": {"type": "Linear", "calls": 1}}
    )
    for epoch in range(snapshots):
        metrics = {"accuracy": 0.1 * epoch} | ({"loss": 1.0 / epoch} if epoch else {})
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=10 * epoch,
                frames={("fc", "weight"): rng.normal(size=(3, 4)).astype(np.float32)},
                statistics={("fc", "grad_norm"): np.nan if epoch == 0 else 0.1 * epoch},
                metrics=metrics,
            )
        )
    explorer = TrainingExplorer(recording)
    for index in range(snapshots):
        explorer.index = index
        for colours in ("fixed", "snapshot", "robust"):
            explorer.colour_range = colours
            assert unplaceable(every_widget([explorer])) == [], (index, colours)
    # the snapshot without gradients is left out of the history, so the rest keep their dots
    if snapshots > 1:
        assert explorer.gradients.history.marker == "circle"
    explorer.close(widget=True)


def test_empty_and_zero_states_say_what_they_are():
    # no metrics: no 0-1 axes, a title that says what will appear
    view = MetricsView()
    view.show(np.zeros(1), {}, 0)
    assert view.figure.axes == [] and view.figure.title.startswith("no metrics yet")
    view.show(np.zeros(1), {"loss": np.ones(1)}, 0)
    assert len(view.figure.axes) == 2 and view.figure.title == "metrics"
    # no gradient yet at epoch 0: nothing drawn, the title says why
    gradients = GradientNormView()
    norms = {"a": np.array([np.nan, 0.0, 0.5]), "b": np.array([np.nan, 1.0, 2.0])}
    gradients.show(np.arange(3.0), norms, 0, "a")
    assert gradients.across_figure.title.endswith("none yet (before the first step)")
    assert all(len(mark.x) == 0 for mark in gradients.across_figure.marks)  # no stray marker
    # a zero gradient is marked at the foot of the chart, not left out
    gradients.show(np.arange(3.0), norms, 1, "a")
    assert list(gradients.across_zero.x) == ["a"] and list(gradients.across_zero.names) == ["a"]
    assert gradients.across_zero.y[0] == gradients.norm_axes[0].tick_values[0]  # the foot
    assert "(1 zero" in gradients.across_figure.title
    assert unplaceable([gradients.across_zero]) == []
    gradients.show(np.arange(3.0), norms, 2, "a")
    assert len(gradients.across_zero.x) == 0


def test_empty_charts_draw_no_made_up_axes():
    # bqplot invents 0.1 ... 0.9 ticks for an axis without data: an empty chart shows none
    histogram = HistogramView(bqplot.ColorScale())
    assert not histogram.x_axis.visible and not histogram.y_axis.visible
    histogram.show(np.array([0.5, 1.5, 2.5], np.float32), 0.0, 3.0)
    assert histogram.x_axis.visible and list(histogram.y_axis.tick_values) == [0, 1]
    gradients = GradientNormView()
    assert not gradients.history_figure.axes[0].visible
    gradients.show(np.arange(3.0), {"a": np.ones(3)}, 0)
    assert list(gradients.history_figure.axes[0].tick_values) == [0, 1, 2]
