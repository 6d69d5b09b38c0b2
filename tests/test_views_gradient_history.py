"""The gradient history chart at 1, 3 and 50 snapshots and with long layer names: dots where
there are few snapshots, the first and last ones inside the frame, titles and labels that fit
(docs/explorer.md, "What you see")."""

import numpy as np
import pytest

from nnviz_widgets.views.chart import LABEL_PIXELS, tick_labels
from nnviz_widgets.views.gradients import PLOT_WIDTH, GradientNormView, elide

RESNET_NAMES = ["conv1", "layer1.0.conv1", "layer3.1.downsample.0", "layer4.1.conv2", "fc"]


def _norms(names, snapshots):
    return {name: np.geomspace(1e-3, 1e-1, snapshots) * (k + 1) for k, name in enumerate(names)}


@pytest.mark.parametrize("snapshots", [1, 3, 50])
def test_every_snapshot_sits_inside_the_frame(snapshots):
    view = GradientNormView()
    epochs = np.arange(snapshots, dtype=np.float64)
    view.show(epochs, _norms(RESNET_NAMES, snapshots), snapshots - 1, "layer4.1.conv2")
    low, high = view.epoch_scale.min, view.epoch_scale.max
    # room at both ends: the last snapshot's dot and the cursor on it are not cut in half
    assert low < epochs[0] and high > epochs[-1]
    span = max(epochs[-1] - epochs[0], 1.0)
    assert (epochs[0] - low) / span <= 0.5 and (high - epochs[-1]) / span <= 0.5
    # every tick inside the scale
    ticks = np.asarray(view.history_figure.axes[0].tick_values)
    assert ticks.min() >= low and ticks.max() <= high
    # few snapshots: a dot at each, so one snapshot shows at all; many: lines only
    expected = "circle" if snapshots <= 12 else None
    assert view.history.marker == view.history_selected.marker == expected
    assert len(view.history_selected.x) == snapshots


def test_long_layer_names_fit_the_title_and_the_axis_label():
    names = [*RESNET_NAMES, "model.encoder.layers.11.self_attention.output_projection"]
    view = GradientNormView()
    view.show(np.arange(3.0), _norms(names, 3), 2, names[-1])
    title = view.history_figure.title
    size = float(view.history_figure.title_style["font-size"].rstrip("px"))
    assert 0.6 * size * len(title) <= PLOT_WIDTH  # the title's estimate, as for the heatmap
    assert size >= 9
    label = view.layer_axis.label
    assert len(label) * LABEL_PIXELS <= PLOT_WIDTH + 60  # under its chart (the margins)
    assert label.startswith("model.enc") and "6 of 6" in label and "\u2026" in label
    # a short name stays whole
    view.show(np.arange(3.0), _norms(names, 3), 2, "layer4.1.conv2")
    assert view.history_figure.title == "gradient norm history: layer4.1.conv2"
    assert view.history_figure.title_style["font-size"] == "12px"


def test_elide_keeps_both_ends():
    assert elide("layer4.1.conv2", 300) == "layer4.1.conv2"
    short = elide("a" * 30 + "middle" + "z" * 30, 130)
    assert short.startswith("aaaa") and short.endswith("zzzz") and len(short) == 20


def test_the_norm_axis_name_clears_its_widest_tick_label():
    # decades are labelled ".0e": at most five characters ("1e-30", "1e+14"), at any range
    view = GradientNormView()
    view.show(np.arange(2.0), {"a": np.array([1e-30, 1e-29]), "b": np.array([1e14, 1e15])}, 1)
    for axis in view.norm_axes:
        labels = tick_labels(np.asarray(axis.tick_values), axis.tick_format)
        widest = max(map(len, labels)) * LABEL_PIXELS
        assert widest + 10 <= float(axis.label_offset.rstrip("px"))
