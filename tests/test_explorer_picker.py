"""The explorer at scale: the layer picker, the model's own parameters as a layer, and the
gradient charts as a way to pick a layer. No browser (tests/browser/ looks at the page)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer.layer_picker import (
    SMALL,
    LayerEntry,
    describe_layers,
    matching,
    module_paths,
    type_options,
    where_line,
)
from nnviz_widgets.widgets.explorer.selection import (
    MODEL_LABEL,
    Selection,
    checked,
    fit_selection,
    is_half_made,
    layer_label,
    layer_options,
)
from tests.test_explorer import _declare, _snapshot

BLOCKS = 3
CONVS = ["conv1", *(f"layer{b}.0.{n}" for b in range(BLOCKS) for n in ("conv1", "conv2"))]


def _layers() -> dict[str, dict]:
    """A ResNet-like model: the model's own parameter, a stem, BLOCKS blocks of conv and norm
    (the first with a downsample), a head: 5 + 5 * BLOCKS layers and the input."""
    layers = {
        INPUT: {"type": "input", "calls": 1, "shape": [2, 3, 8, 8]},
        "": {"type": "Net", "parameters": {"scale": [1]}, "output_shapes": [[2, 10]]},
        "conv1": {"type": "Conv2d", "parameters": {"weight": [4, 3, 3, 3]}},
        "bn1": {"type": "BatchNorm2d", "parameters": {"weight": [4], "bias": [4]}},
    }
    for block in range(BLOCKS):
        for name, kind in (("conv1", "Conv2d"), ("bn1", "BatchNorm2d"), ("conv2", "Conv2d")):
            layers[f"layer{block}.0.{name}"] = {
                "type": kind,
                "parameters": {"weight": [4, 4, 3, 3]},
                "output_shapes": [[2, 4, 8, 8]],
            }
        layers[f"layer{block}.0.relu"] = {"type": "ReLU", "output_shapes": [[2, 4, 8, 8]] * 2}
        layers[f"layer{block}.0.norm"] = {"type": "GroupNorm"}
    layers["norm"] = {"type": "LayerNorm"}
    layers["fc"] = {"type": "Linear", "parameters": {"weight": [10, 4]}}
    return layers


@pytest.fixture
def nested(rng) -> Recording:
    """Two snapshots of the model of _layers(): a weight, or an activation, per layer."""
    layers = _layers()
    recording = Recording()
    recording.set_layers(layers)
    recording.set_probe(rng.random((2, 3, 8, 8)).astype(np.float32))
    for epoch in range(2):
        frames = {}
        statistics = {}
        for k, (name, info) in enumerate(layers.items()):
            if name == INPUT:
                continue
            if name == "":
                frames[("", "scale")] = rng.normal(size=(1,))
            elif info.get("parameters"):
                frames[(name, "weight")] = rng.normal(size=(4, 4))
            else:
                frames[(name, "activation")] = rng.normal(size=(2, 4))
            statistics[(name, "grad_norm")] = 10.0 ** -(k % 5) * (epoch + 1)
        recording.append_snapshot(
            SnapshotData(epoch=epoch, step=epoch, frames=frames, statistics=statistics)
        )
    return recording


@pytest.fixture
def explorer(nested):
    explorer = TrainingExplorer(nested, min_interval=0.0)
    yield explorer
    explorer.close(widget=True)


def _offered(explorer) -> list[str]:
    return [value for _, value in explorer.layer_box.options]


# ---------------------------------------------------------------------------- the model's own
def test_the_model_s_own_parameters_are_a_layer_called_model(nested):
    assert layer_label("") == MODEL_LABEL == "(model)"
    assert layer_options(nested)[:2] == (("input", INPUT), ("(model)", ""))
    # "" with no quantity is nothing chosen yet; with one, the model's own parameters
    assert fit_selection(nested, Selection()).layer == "conv1"  # the first with a weight
    assert fit_selection(nested, Selection("", "weight")) == Selection("", "scale", sample=-1)
    assert not is_half_made(nested, Selection("", "scale"))
    assert is_half_made(nested, Selection("", "weight"))
    assert checked(nested, Selection("conv1", "weight"), "layer", "(model)") == ""
    assert checked(nested, Selection("conv1", "weight"), "layer", "") == ""
    with pytest.raises(ValueError, match="unknown quantity 'bias' for layer '\\(model\\)'"):
        checked(nested, Selection("", "scale"), "quantity", "bias")


def test_the_explorer_selects_and_draws_the_model_s_own_parameters(explorer, nested):
    explorer.layer = ""
    assert (explorer.layer, explorer.quantity) == ("", "scale")
    assert explorer.layer_box.value == ""
    assert explorer.layer_box.label == "(model) \u00b7 Net"
    assert explorer.heatmap.figure.title.startswith("(model) \u00b7 scale \u00b7 epoch 1")
    np.testing.assert_array_equal(
        explorer.heatmap.picture.values.ravel(), nested.frame("", "scale")
    )
    assert explorer.error.value == ""
    assert "Net: parameters of the model itself" in explorer.layer_picker.where.value
    explorer.layer = "conv1"
    explorer.layer = "(model)"  # the label works too, as "input" does
    assert explorer.layer == ""


def test_an_empty_layer_name_is_still_refused_where_no_model_layer_exists(rng):
    recording = Recording()
    _declare(recording)
    recording.append_snapshot(_snapshot(rng, 0))
    explorer = TrainingExplorer(recording, min_interval=0.0)
    with pytest.raises(Exception, match="unknown layer ''"):
        explorer.layer = ""
    assert explorer.layer == "conv"
    explorer.close(widget=True)


# ---------------------------------------------------------------------------- pure parts
def test_entries_know_type_shapes_and_place(nested):
    entries = describe_layers(nested, layer_options(nested))
    by_name = {entry.name: entry for entry in entries}
    conv = by_name["layer1.0.conv1"]
    assert (conv.kind, conv.module, conv.breadcrumb()) == (
        "Conv2d",
        "layer1.0",
        "layer1 \u203a 0 \u203a conv1",
    )
    assert conv.long_label() == "layer1.0.conv1 \u00b7 Conv2d"
    assert conv.shapes() == "weight 4\u00d74\u00d73\u00d73, output 4\u00d78\u00d78"
    assert by_name["layer1.0.relu"].shapes() == "output 4\u00d78\u00d78 (called 2\u00d7)"
    assert by_name[INPUT].shapes() == "output 3\u00d78\u00d78"
    assert by_name[""].breadcrumb() == "(model)"
    assert module_paths(entries) == [
        *(f"layer{b}{tail}" for b in range(BLOCKS) for tail in ("", ".0"))
    ]
    assert type_options(entries)[:3] == (
        (f"all types ({len(entries)})", ""),
        ("Net (1)", "Net"),
        (f"Conv2d ({1 + 2 * BLOCKS})", "Conv2d"),
    )
    line = where_line(entries, "layer1.0.conv1", shown=len(entries))
    assert "<b>layer1 \u203a 0 \u203a conv1</b> \u00b7 Conv2d" in line
    assert f"layer 10 of {len(entries)}" in line and "filter" not in line
    assert "3 of" in where_line(entries, "fc", shown=3)
    assert where_line(entries, "gone", shown=3) == ""


@pytest.mark.parametrize(
    ("text", "kind", "kept", "picked"),
    [
        ("", "", None, None),  # everything
        ("layer1.0", "", ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2", "layer1.0.relu",
                          "layer1.0.norm"], None),  # a module path: what is under it
        ("BN1", "", ["bn1", *(f"layer{b}.0.bn1" for b in range(BLOCKS))], None),  # any case
        ("conv2", "", CONVS, None),  # "Conv2d" too: every convolution
        ("norm", "", ["bn1", *(f"layer{b}.0.{n}" for b in range(BLOCKS) for n in ("bn1", "norm")),
                      "norm"], None),  # the name and the type: not a pick, other layers match
        ("relu", "", [f"layer{b}.0.relu" for b in range(BLOCKS)], None),
        ("", "Conv2d", CONVS, None),
        ("layer2", "ReLU", ["layer2.0.relu"], None),
        ("fc", "", None, "fc"),  # the only match: picked, the whole top module listed
        ("layer1.0.conv2", "", ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2",
                                "layer1.0.relu", "layer1.0.norm"], "layer1.0.conv2"),
        ("(model)", "", None, ""),
        ("zzz", "", [], None),
    ],
)  # fmt: skip
def test_the_filter_keeps_and_picks(nested, text, kind, kept, picked):
    entries = describe_layers(nested, layer_options(nested))
    found, named = matching(entries, text, kind)
    everything = [entry.name for entry in entries]
    assert [entry.name for entry in found] == (everything if kept is None else kept)
    assert (named.name if named else None) == picked


def test_an_entry_without_a_module():
    entry = LayerEntry("fc", "fc", "Linear")
    assert (entry.module, entry.breadcrumb(), entry.shapes()) == ("", "fc", "")


# ---------------------------------------------------------------------------- the picker
def test_a_small_model_keeps_a_plain_dropdown_of_names(rng):
    recording = Recording()
    _declare(recording)
    recording.append_snapshot(_snapshot(rng, 0))
    explorer = TrainingExplorer(recording, min_interval=0.0)
    picker = explorer.layer_picker
    assert not picker.large and len(explorer.layer_box.options) <= SMALL
    assert explorer.layer_box.options == (("input", INPUT), ("conv", "conv"), ("relu", "relu"),
                                          ("fc", "fc"))  # fmt: skip
    assert picker.search.layout.display == picker.type_box.layout.display == "none"
    assert "<b>conv</b> \u00b7 Conv2d" in picker.where.value
    explorer.close(widget=True)


def test_a_large_model_gets_a_filter_and_types_in_its_labels(explorer, nested):
    picker = explorer.layer_picker
    assert picker.large
    assert picker.search.layout.display is None and picker.type_box.layout.display is None
    assert len(explorer.layer_box.options) == len(layer_options(nested))
    assert ("layer0.0.conv1 \u00b7 Conv2d", "layer0.0.conv1") in explorer.layer_box.options
    assert "layer0" in picker.search.options and "layer0.0.conv1" in picker.search.options


def test_filtering_narrows_the_dropdown_and_never_changes_the_picture(explorer):
    picker, title = explorer.layer_picker, explorer.heatmap.figure.title
    assert explorer.layer == "conv1"
    picker.search.value = "layer2"
    block = [f"layer2.0.{n}" for n in ("conv1", "bn1", "conv2", "relu", "norm")]
    assert _offered(explorer) == ["conv1", *block]
    assert (explorer.layer, explorer.layer_box.value) == ("conv1", "conv1")  # still offered
    assert explorer.heatmap.figure.title == title
    assert "5 of" in picker.where.value
    picker.type_box.value = "Conv2d"
    assert _offered(explorer) == ["conv1", "layer2.0.conv1", "layer2.0.conv2"]
    explorer.layer_box.value = "layer2.0.conv2"  # as the browser does, through the link
    assert explorer.layer == "layer2.0.conv2"
    assert _offered(explorer) == ["layer2.0.conv1", "layer2.0.conv2"]  # conv1 left the list
    picker.type_box.value, picker.search.value = "", ""
    assert len(_offered(explorer)) == len(picker.search.options) - 2 * BLOCKS


def test_a_name_typed_in_full_selects_that_layer(explorer):
    picker = explorer.layer_picker
    picker.search.value = "layer1.0.bn1"
    assert explorer.layer == "layer1.0.bn1"
    assert explorer.layer_box.value == "layer1.0.bn1"
    assert _offered(explorer) == [
        f"layer1.0.{n}" for n in ("conv1", "bn1", "conv2", "relu", "norm")
    ]
    assert explorer.heatmap.figure.title.startswith("layer1.0.bn1 \u00b7 weight")
    picker.search.value = "(model)"
    assert explorer.layer == ""


def test_a_filter_change_waits_for_a_live_update(explorer):
    """The filter moves the layer dropdown's options: under the explorer's lock, as the
    live updates do (the comm thread applies browser changes)."""
    moving, release = threading.Event(), threading.Event()

    def live_update():
        with explorer._lock:
            moving.set()
            release.wait(10)

    updater = threading.Thread(target=live_update)
    updater.start()
    moving.wait(10)
    browser = threading.Thread(
        target=lambda: explorer.layer_picker.search.set_state({"value": "layer0.0"})
    )
    browser.start()
    browser.join(0.2)
    assert browser.is_alive(), "the filter changed the dropdown during the live update"
    release.set()
    updater.join(10)
    browser.join(10)
    assert _offered(explorer)[1:] == [f"layer0.0.{n}" for n in
                                      ("conv1", "bn1", "conv2", "relu", "norm")]  # fmt: skip


# ---------------------------------------------------------------------------- gradient charts
def test_the_gradient_charts_highlight_the_selected_layer_and_pick_on_click(explorer, nested):
    gradients = explorer.gradients
    assert gradients.layers[:3] == ("", "conv1", "bn1")
    # 20 names do not fit under the axis: places there, names on hover (the points' names)
    assert list(gradients.across.x[:2]) == ["1", "2"]
    assert list(gradients.across_points.names[:2]) == ["(model)", "conv1"]
    assert gradients.layer_axis.num_ticks == 10
    assert list(gradients.across_selected.x) == ["2"]
    assert gradients.layer_axis.label == "conv1: 2 of 20 with gradients"
    np.testing.assert_allclose(gradients.history_selected.y, nested.statistic("conv1", "grad_norm"))
    assert gradients.history_figure.title == "gradient norm history: conv1"
    assert not gradients.history.display_legend
    # a click on a point of the across chart, then on a line of the history
    gradients.across_points._handle_custom_msgs(
        None, {"event": "element_click", "data": {"index": 3}}
    )
    assert explorer.layer == gradients.layers[3] == "layer0.0.conv1"
    assert list(gradients.across_selected.x) == ["4"]
    gradients.history._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 0}})
    assert explorer.layer == ""
    assert list(gradients.across_selected.x) == ["1"]
    # the input has no gradient norm: nothing highlighted, nothing fails
    explorer.layer = INPUT
    assert list(gradients.across_selected.x) == [] and explorer.error.value == ""
    assert gradients.history_figure.title == "gradient norm history"
