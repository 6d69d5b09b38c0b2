"""The explorer's parts without a widget: what can be selected, the frame cache, the text lines."""

from __future__ import annotations

import dataclasses
import re
import threading

import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.render.colour import DIVERGING, SEQUENTIAL
from nnviz_widgets.render.layout import layout_frame
from nnviz_widgets.widgets.explorer import frame_cache
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache, colour_limits
from nnviz_widgets.widgets.explorer.selection import (
    Selection,
    channel_count,
    channel_options,
    checked,
    choices,
    default_layer,
    default_quantity,
    fit_selection,
    frame_shape,
    is_half_made,
    layer_options,
    layer_quantities,
    sample_count,
    sample_options,
    selectable_layers,
)
from nnviz_widgets.widgets.explorer.source import open_source
from nnviz_widgets.widgets.explorer.text import (
    error_line,
    nonfinite_line,
    readout_text,
    strip_tags,
)
from tests.test_explorer import _declare


@pytest.fixture
def recording(rng):
    """Three snapshots of a conv, a ReLU and a dense layer, with a probe of three samples; the
    dense layer's weight gradient is missing at the first snapshot."""
    recording = Recording()
    _declare(recording)
    recording.set_probe(np.zeros((3, 1, 6, 6), np.float32), np.array([7, 8, 9]))
    for epoch in range(3):
        scale = 1.0 + epoch
        frames = {
            ("conv", "activation"): scale * rng.normal(size=(3, 4, 6, 6)),
            ("conv", "weight"): scale * rng.normal(size=(4, 1, 3, 3)),
            ("relu", "activation"): scale * np.abs(rng.normal(size=(3, 4, 6, 6))),
            ("fc", "weight"): scale * rng.normal(size=(5, 20)),
            ("fc", "weight_grad"): None if epoch == 0 else rng.normal(size=(5, 20)),
            ("fc", "activation"): rng.normal(size=(3, 5)),
            (INPUT, "saliency"): rng.normal(size=(3, 1, 6, 6)),
        }
        missing = {("fc", "weight_grad"): "no optimizer step ran"} if epoch == 0 else {}
        recording.append_snapshot(
            SnapshotData(epoch=epoch, step=10 * epoch, frames=frames, missing=missing)
        )
    return recording


# ---------------------------------------------------------------------------- Selection
def test_a_selection_is_a_frozen_value():
    selection = Selection("fc", "weight", 2, 0, -1, "fixed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        selection.index = 1
    assert selection.at(0) == Selection("fc", "weight", 0, 0, -1, "fixed")
    assert selection.same_view(selection.at(1))
    assert not selection.same_view(dataclasses.replace(selection, channel=2))
    assert {selection, selection.at(2)} == {selection}  # usable as a cache key

    class Holder:
        layer, quantity, index, sample, channel, colour_range = "fc", "weight", 2, 0, -1, "fixed"

    assert Selection.of(Holder()) == selection


# ---------------------------------------------------------------------------- layers, quantities
def test_selectable_layers_put_the_input_first_and_call_it_input(recording):
    assert selectable_layers(recording) == [INPUT, "conv", "relu", "fc"]
    assert layer_options(recording)[:2] == (("input", INPUT), ("conv", "conv"))
    assert selectable_layers(Recording()) == []


def test_quantities_come_in_reading_order(recording):
    assert layer_quantities(recording, "conv") == ["weight", "activation"]
    assert layer_quantities(recording, INPUT) == ["probe", "saliency"]
    shuffled = Recording()
    shuffled.set_layers({"lstm": {"type": "LSTM", "calls": 2}})
    names = [
        "output_grad", "activation[1]", "bias_grad", "activation", "weight_update", "bias",
        "weight_grad", "weight",
    ]  # fmt: skip
    shuffled.append_snapshot(
        SnapshotData(epoch=0, step=0, frames={("lstm", q): np.zeros((2, 2)) for q in names})
    )
    assert layer_quantities(shuffled, "lstm") == [
        "weight", "weight_grad", "bias", "bias_grad", "weight_update", "activation",
        "activation[1]", "output_grad",
    ]  # fmt: skip


def test_default_layer_and_quantity(recording):
    assert default_layer(recording, [INPUT, "conv", "relu", "fc"]) == "conv"  # first weights
    assert default_layer(recording, [INPUT, "relu"]) == INPUT  # none: the first
    assert default_quantity(["weight", "activation"], "activation") == "activation"  # kept
    # switching layers keeps the family: activation -> activation[0], weight -> bias
    assert default_quantity(["weight", "activation[0]"], "activation") == "activation[0]"
    assert default_quantity(["bias", "activation"], "weight") == "bias"
    assert default_quantity(["probe", "saliency"], "weight") == "saliency"  # preferred
    assert default_quantity([], "weight") == ""


# ---------------------------------------------------------------------------- samples, channels
@pytest.mark.parametrize(
    ("layer", "quantity", "samples", "channels"),
    [
        ("conv", "activation", 3, 4),  # per sample, per feature map
        ("conv", "weight", 0, 4),  # a kernel per output channel
        ("fc", "activation", 0, 0),  # dense: every sample is a row already
        ("fc", "weight", 0, 0),
        (INPUT, "saliency", 3, 1),
    ],
)
def test_sample_and_channel_counts(recording, layer, quantity, samples, channels):
    shape = frame_shape(recording, Selection(layer, quantity, 2))
    assert shape == recording.frame(layer, quantity, 2).shape
    assert sample_count(quantity, shape) == samples
    assert channel_count(quantity, shape) == channels


def test_frame_shape_reads_another_snapshot_when_the_selected_one_is_missing(recording):
    assert frame_shape(recording, Selection("fc", "weight_grad", 0)) == (5, 20)
    assert frame_shape(recording, Selection()) is None
    assert frame_shape(recording, Selection("relu", "weight", 0)) is None  # half-made
    assert frame_shape(Recording(), Selection("fc", "weight")) is None


def test_dropdown_options_name_samples_by_their_labels(recording):
    assert sample_options(recording, 2) == (("all", -1), ("0 (label 7)", 0), ("1 (label 8)", 1))
    assert sample_options(Recording(), 1) == (("all", -1), ("0", 0))
    assert channel_options(2) == (("all", -1), ("0", 0), ("1", 1))
    assert channel_options(0) == (("all", -1),)


# ---------------------------------------------------------------------------- whole selections
def test_fit_selection_makes_a_selection_whole(recording):
    # weights have no samples to choose: sample -1 ("all"), as the dropdown shows (issue 13)
    assert fit_selection(recording, Selection()) == Selection("conv", "weight", 0, -1, -1)
    # nothing to choose yet: all samples, all channels, as the dropdowns show (issue 13)
    assert fit_selection(Recording(), Selection()) == Selection(sample=-1)
    # a layer without the quantity: the same family; a channel it lacks: all
    relu = fit_selection(recording, Selection("relu", "weight", 1, 1, 3))
    assert relu == Selection("relu", "activation", 1, 1, 3)
    fc = fit_selection(recording, Selection("fc", "activation", 1, 1, 3))
    assert fc == Selection("fc", "activation", 1, -1, -1)  # no samples: "all" (issue 13)
    conv = fit_selection(recording, Selection("conv", "activation", 1, 5, -1))
    assert conv.sample == 0  # a sample the probe does not have
    whole = Selection("conv", "activation", 2, 2, 1, "robust")
    assert fit_selection(recording, whole) == whole


def test_fit_selection_reads_shapes_through_the_given_function(recording):
    asked = []

    def shape_of(selection):
        asked.append(selection)
        return (3, 2, 6, 6)

    fitted = fit_selection(recording, Selection("conv", "activation", 0, 0, 3), shape_of)
    assert fitted.channel == -1  # the given shape has 2 channels
    assert asked == [Selection("conv", "activation", 0, 0, 3)]


def test_choices_list_what_the_dropdowns_offer(recording):
    offered = choices(recording, Selection("conv", "activation", 2, 0, -1))
    assert offered.layers == layer_options(recording)
    assert offered.quantities == ("weight", "activation")
    assert [value for _, value in offered.samples] == [-1, 0, 1, 2]
    assert [value for _, value in offered.channels] == [-1, 0, 1, 2, 3]
    dense = choices(recording, Selection("fc", "weight", 2))
    assert (dense.samples, dense.channels) == ((("all", -1),), (("all", -1),))
    assert choices(Recording(), Selection()).quantities == ()


def test_a_half_made_selection(recording):
    assert is_half_made(recording, Selection("relu", "weight"))  # layer set, quantity not yet
    assert is_half_made(recording, Selection("gone", "weight"))
    assert not is_half_made(recording, Selection("relu", "activation"))
    assert not is_half_made(recording, Selection())


def test_checked_refuses_what_the_recording_does_not_hold(recording):
    selection = Selection("conv", "activation", 2, 0, -1)
    assert checked(recording, selection, "layer", "input") == INPUT
    assert checked(recording, selection, "quantity", "weight") == "weight"
    assert checked(recording, selection, "channel", 3) == 3
    assert checked(recording, selection.at(0), "index", 2) == 2
    assert checked(Recording(), Selection(), "index", 0) == 0
    assert checked(recording, Selection("fc", "weight"), "sample", -1) == -1
    with pytest.raises(ValueError, match="sample 9 is out of range: this quantity has no samples"):
        checked(recording, Selection("fc", "weight"), "sample", 9)  # issue 13: was kept
    refused = [
        # the close match first (issue 13)
        ("layer", "fc9", "unknown layer 'fc9' (did you mean 'fc'?); valid layers: 'input', 'conv'"),
        ("quantity", "bias", "valid quantities: 'weight', 'activation'"),
        ("index", 3, "index 3 is out of range: the recording has 3 snapshot(s) (0 to 2)"),
        ("sample", 3, "sample 3 is out of range: -1 (all) or 0 to 2"),
        ("sample", -2, "sample -2 is out of range"),
        ("channel", 4, "channel 4 is out of range: -1 (all) or 0 to 3"),
    ]
    for name, value, message in refused:
        with pytest.raises(ValueError, match=re.escape(message)):
            checked(recording, selection, name, value)
    with pytest.raises(ValueError, match="this quantity has no channels"):
        checked(recording, Selection("fc", "weight"), "channel", 0)
    with pytest.raises(ValueError, match="valid layers: none yet"):
        checked(Recording(), Selection(), "layer", "fc")


# ---------------------------------------------------------------------------- frame cache
def test_colour_limits():
    picture = layout_frame(np.array([[0.5, 1.0], [2.0, 3.0]], np.float32), "weight")
    # fixed: over every snapshot; non-negative data from zero, on the sequential map
    assert colour_limits([(0.5, 3.0), (1.0, 4.0), None], picture, "fixed")[::2] == (0.0, False)
    low, high, signed = colour_limits([(-1.0, 2.0), (0.0, 4.0)], picture, "fixed")
    assert (low, high, signed) == (-4.0, 4.0, True)
    # per snapshot: the picture's own range, still signed because another snapshot is
    assert colour_limits([(-1.0, 2.0), (0.5, 3.0)], picture, "snapshot") == (-3.0, 3.0, True)


def test_the_cache_prepares_once_and_recolours_when_the_range_moves(recording, rng):
    cache = FrameCache(recording, (400, 450))
    selection = Selection("fc", "weight", 1)
    prepared = cache.prepare(selection)
    assert selection in cache
    assert cache.prepare(selection) is prepared  # nothing changed: the same entry
    bound = max(np.abs(recording.frame("fc", "weight", i)).max() for i in range(3))
    assert prepared.limits[:2] == pytest.approx((-bound, bound))
    assert prepared.colour_map is DIVERGING
    assert prepared.png.startswith(b"\x89PNG")
    counts = prepared.histogram[1]
    assert counts.sum() == 100
    # a new snapshot with larger values widens the fixed range: the frame is recoloured
    big = {("fc", "weight"): 10 * rng.normal(size=(5, 20))}
    recording.append_snapshot(SnapshotData(epoch=3, step=30, frames=big))
    again = cache.prepare(selection)
    assert again is not prepared and again.frame is prepared.frame
    assert again.limits[1] > prepared.limits[1]
    assert cache.prepare(Selection("relu", "activation", 0, 0, 1)).colour_map is SEQUENTIAL
    cache.close()


def test_the_cache_is_bounded_by_count(recording, monkeypatch):
    monkeypatch.setattr(frame_cache, "MAX_ENTRIES", 3)
    cache = FrameCache(recording, (400, 450))
    selections = [
        Selection("fc", "weight", i, 0, -1, mode)
        for i in range(3)
        for mode in ("fixed", "snapshot")
    ]
    for selection in selections:
        cache.prepare(selection)
    assert [s in cache for s in selections] == [False, False, False, True, True, True]
    cache.close()


def test_prefetch_fills_in_the_other_snapshots_of_the_view_on_screen(recording):
    cache = FrameCache(recording, (400, 450))
    selection = Selection("conv", "weight", 2)
    cache.prefetch_around(selection, cache.prepare(selection))
    assert cache.wait(10)
    assert [selection.at(i) in cache for i in range(3)] == [True, True, True]
    # work queued for a view the user has left is skipped when its turn comes
    gate = threading.Event()
    cache._worker.submit(lambda: gate.wait(10))  # hold the worker
    left, now = Selection("conv", "activation", 2), Selection("relu", "activation", 2)
    cache.prefetch_around(left, cache.prepare(left))
    cache.prefetch_around(now, cache.prepare(now))
    gate.set()
    assert cache.wait(10)
    assert [left.at(i) in cache for i in range(3)] == [False, False, True]
    assert [now.at(i) in cache for i in range(3)] == [True, True, True]
    # none at all when turned off, or once closed
    off = Selection("fc", "weight", 2)
    cache.prefetching = False
    cache.prefetch_around(off, cache.prepare(off))
    assert cache.wait(10) and off.at(0) not in cache
    cache.close()
    cache.prefetching = True
    cache.prefetch_around(off, cache.prepare(off))
    assert cache.wait(1) and off.at(0) not in cache


def test_the_cache_reports_a_missing_frame(recording):
    cache = FrameCache(recording, (400, 450))
    with pytest.raises(KeyError, match="no optimizer step ran"):
        cache.prepare(Selection("fc", "weight_grad", 0))
    assert cache.shape(Selection("fc", "weight_grad", 0)) == (5, 20)
    cache.close()


# ---------------------------------------------------------------------------- text
def test_readout_text_of_a_cell_a_block_and_a_gap():
    frame = np.arange(2 * 1 * 2 * 2, dtype=np.float32).reshape(2, 1, 2, 2)  # two 2x2 kernels
    picture = layout_frame(frame, "weight", layer_type="Conv2d")
    cell = readout_text(picture, "weight", 0, 0, 1, 1)
    assert "weight[0, 0, 0, 0] = <b>0</b>" in cell
    assert readout_text(picture, "weight", 0, 2, 1, 3).endswith("gap between tiles")
    block = readout_text(picture, "weight", 0, 0, 2, 2)
    assert "rows 0&ndash;1, columns 0&ndash;1 (4 values): mean <b>1.5</b>" in block


def test_nonfinite_line_and_plain_text():
    assert nonfinite_line(np.ones(3)) == ""
    line = nonfinite_line(np.array([1.0, np.nan, np.inf]))
    assert "1 NaN at (1,)" in line and "magenta" in line
    assert strip_tags(line).startswith("! 1 NaN at (1,)")
    assert "ValueError: a &lt;b&gt;" in error_line("it failed", ValueError("a <b>"))


# ---------------------------------------------------------------------------- source
def test_open_source_without_a_model(tmp_path, recording):
    empty = open_source(None, None, None, {}, train_epoch=None, epochs=None)
    assert len(empty.recording) == 0 and empty.recorder is None and not empty.owned
    assert open_source(recording, None, None, {}, train_epoch=None, epochs=None).recording is (
        recording
    )
    recording.save(tmp_path / "run")
    opened = open_source(str(tmp_path / "run"), None, None, {}, train_epoch=None, epochs=None)
    assert opened.owned and len(opened.recording) == 3  # the explorer must close it
    opened.recording.close()
    with pytest.raises(TypeError, match="apply only to a model"):
        open_source(recording, None, None, {"every": 2}, train_epoch=None, epochs=None)
    with pytest.raises(TypeError, match="got int"):
        open_source(3, None, None, {}, train_epoch=None, epochs=None)
