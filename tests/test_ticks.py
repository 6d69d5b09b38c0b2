"""Ticks the charts draw: whole epochs, at most six labels, one number format per axis."""

import numpy as np
import pytest

from nnviz_widgets.views.ticks import MOST_TICKS, nice_limits, nice_ticks, tick_format, tick_labels

RANGES = [
    (0, 1), (0, 2), (0, 3), (0, 7), (0, 241), (0, 464), (0, 0.7), (0.0975, 0.1025),
    (0, 2.6e31), (-1.9e15, 1.9e15), (0.001, 0.0013), (-0.89, 0.89), (1e-5, 3e-5),
    (-3e-7, 2e-7), (0.31, 0.95), (2.0, 2.6), (-1234.5, 98765.0), (1e-12, 1.0),
]  # fmt: skip


def _check(ticks, low, high):
    labels = tick_labels(ticks, tick_format(ticks))
    assert 1 <= len(ticks) <= MOST_TICKS
    assert len(set(labels)) == len(labels), labels  # every tick told apart
    assert np.all(np.diff(ticks) > 0)
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0]) if len(steps) else True  # evenly spaced
    # one format: all in exponent notation or none
    assert len({"e" in label for label in labels}) == 1, labels
    # no "-0"
    assert not any(
        label.lstrip("\u2212-") in ("0", "0.0") and label[0] in "\u2212-" for label in labels
    )
    return labels


@pytest.mark.parametrize(("low", "high"), RANGES)
def test_ticks_inside_the_range_follow_the_rules(low, high):
    ticks = nice_ticks(low, high)
    assert ticks.min() >= low - 1e-9 * abs(high - low) and ticks.max() <= high + 1e-9 * abs(high)
    _check(ticks, low, high)


@pytest.mark.parametrize(("low", "high"), RANGES)
def test_nice_limits_end_on_ticks(low, high):
    start, end, ticks = nice_limits(low, high)
    assert start <= low and end >= high
    assert ticks[0] == pytest.approx(start) and ticks[-1] == pytest.approx(end)
    _check(ticks, start, end)


@pytest.mark.parametrize("snapshots", [1, 2, 3, 4, 5, 6, 7, 11, 30, 241, 300, 464, 5000])
def test_epoch_ticks_are_whole_numbers(snapshots):
    ticks = nice_ticks(0, snapshots - 1, integer=True)
    labels = _check(ticks, 0, snapshots - 1)
    assert np.array_equal(ticks, np.round(ticks))
    assert tick_format(ticks) == ",d"
    assert not any("." in label for label in labels)
    assert ticks[0] == 0


def test_the_issues_examples():
    # the Playground's loss ticks were 0.0 0.2 0.5 0.7, its epochs 0 60 121 181 241
    assert tick_labels(nice_ticks(0, 0.7), tick_format(nice_ticks(0, 0.7))) == [
        "0.0", "0.2", "0.4", "0.6",
    ]  # fmt: skip
    assert list(nice_ticks(0, 241, integer=True)) == [0, 50, 100, 150, 200]
    # 9.75e-2 beside 0.1025: one fixed format now
    ticks = nice_ticks(0.0975, 0.1025)
    assert tick_format(ticks) == ".3f"
    # a loss axis to 2.6e+31 has no negative tick
    low, _, ticks = nice_limits(0.02, 2.6e31)
    assert low == 0 and ticks.min() == 0
    assert tick_labels(ticks, tick_format(ticks))[-1] == "3e+31"
    # a histogram's end at 1.9e15 is written as such, not 1.9e+1
    ticks = nice_ticks(-1.9e15, 1.9e15)
    assert tick_labels(ticks, tick_format(ticks)) == ["\u22121e+15", "0e+0", "1e+15"]


def test_the_charts_draw_these_ticks():
    from nnviz_widgets.views.chart import metric_colour
    from nnviz_widgets.views.metrics import MetricsView

    view = MetricsView()
    epochs = np.array([0.0, 1.0, 2.0])
    view.show(epochs, {"val_loss": np.array([0.1025, 0.1, 0.0975]), "loss": np.ones(3)}, 0)
    epoch_axis, first, _ = view.figure.axes
    assert list(epoch_axis.tick_values) == [0, 1, 2] and epoch_axis.tick_format == ",d"
    assert first.tick_format == ".3f" and len(first.tick_values) <= MOST_TICKS
    assert first.label_offset  # the axis name clear of its tick labels
    # the loss has one colour wherever it is shown, whatever the metrics' order
    assert view._lines["loss"].colors == [metric_colour("train_loss")]
    assert view._lines["val_loss"].colors == [metric_colour("test_loss")]


def test_long_titles_get_a_font_that_fits():
    from nnviz_widgets.views.chart import title_size

    assert title_size("fc1 \u00b7 weight \u00b7 epoch 1", 470) == "13px"
    long = (
        "features.0 \u00b7 weight \u00b7 epoch 12 \u00b7 reduced 1000x1200 to 334x400 "
        "(block mean of 3x3)"
    )
    size = int(title_size(long, 470)[:-2])
    assert 9 <= size < 13 and len(long) * 0.6 * size <= 470


def test_zero_in_exponent_notation_is_written_0():
    import bqplot

    from nnviz_widgets.views.chart import set_ticks

    axis = bqplot.Axis(scale=bqplot.LinearScale())
    ticks = nice_ticks(-2e-9, 2e-9)
    set_ticks(axis, ticks)
    assert axis.tick_format.endswith("e")  # d3 would write its zero "0e+0"
    assert axis.tick_labels == {"0": "0"}
    set_ticks(axis, np.array([0.0, 1.0, 2.0]))  # a plain axis: d3's own labels again
    assert axis.tick_labels is None


def test_a_vertical_axis_name_clears_its_widest_tick_label():
    import bqplot

    from nnviz_widgets.views.chart import set_ticks

    axis = bqplot.Axis(scale=bqplot.LinearScale(), side="left", label="loss")
    set_ticks(axis, np.array([0.0, 1.0, 2.0]))
    narrow = int(axis.label_offset[:-2])
    set_ticks(axis, np.array([0.0, 5e44, 1e45, 1.5e45]))  # "1.5e+45": seven characters
    assert int(axis.label_offset[:-2]) >= narrow + 6 * 6


def test_tick_labels_write_each_tick_as_itself():
    # distinct is not enough: ".0e" writes 1.5e45 as "2e+45" and ".1f" writes 0.25 as "0.2"
    for ticks in ([0.0, 5e44, 1e45, 1.5e45], [0.0, 0.25, 0.5, 0.75]):
        ticks = np.array(ticks)
        labels = tick_labels(ticks, tick_format(ticks))
        written = [float(label.replace("\u2212", "-")) for label in labels]
        np.testing.assert_allclose(written, ticks, rtol=1e-9)
