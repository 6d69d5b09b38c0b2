"""Default colour ranges that show the point: robust over snapshots, per snapshot when the
snapshots' ranges differ by orders of magnitude, per sample when one sample is shown."""

import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.render.layout import layout_frame
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer.frame_cache import colour_choice


def _weights_recording(rng, scales) -> Recording:
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
    for epoch, scale in enumerate(scales):
        weight = (scale * rng.uniform(-1, 1, size=(4, 6))).astype(np.float32)
        weight[0, 0] = scale  # the extent of each snapshot, exactly
        recording.append_snapshot(
            SnapshotData(epoch=epoch, step=epoch, frames={("fc", "weight"): weight})
        )
    return recording


def test_a_diverging_run_keeps_its_sane_snapshots_readable(rng):
    # notebook 04's story: later snapshots NaN-adjacent huge; epoch 1 must not be all white
    recording = _weights_recording(rng, [1.0, 1.2, 3e14, 1.9e15])
    explorer = TrainingExplorer(recording)
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 1
    assert explorer.colour_range == "fixed"
    assert explorer.heatmap.colour_limits == pytest.approx((-1.2, 1.2))
    assert "this snapshot's range" in explorer.note.value
    assert "differ 10^15x" in explorer.note.value
    explorer.index = 3
    assert explorer.heatmap.colour_limits == pytest.approx((-1.9e15, 1.9e15))
    explorer.close(widget=True)


def test_fixed_leaves_out_an_outlying_snapshot_in_a_long_run(rng):
    scales = [1.0 + 0.01 * i for i in range(30)] + [4.0]  # one spike among 31 snapshots
    recording = _weights_recording(rng, scales)
    explorer = TrainingExplorer(recording)
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 0
    low, high = explorer.heatmap.colour_limits
    assert high == pytest.approx(1.29) and low == -high  # the spike saturates instead
    assert "fixed over snapshots (1 outlying snapshot saturate)" in explorer.note.value
    explorer.close(widget=True)


def test_few_snapshots_within_range_share_the_largest_range(rng):
    recording = _weights_recording(rng, [1.0, 2.0, 3.0])
    explorer = TrainingExplorer(recording)
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 0
    assert explorer.heatmap.colour_limits == pytest.approx((-3.0, 3.0))
    assert explorer.note.value.endswith("colours: fixed over snapshots</span>")
    explorer.close(widget=True)


def test_one_samples_saliency_is_ranged_on_that_sample(rng):
    # notebook 05's story: sample 14's saliency is 1000x smaller than another sample's
    recording = Recording()
    recording.set_layers({INPUT: {"type": "input", "calls": 1}})
    recording.set_probe(rng.random((3, 1, 6, 6)).astype(np.float32), np.array([0, 1, 2]))
    saliency = rng.normal(size=(3, 1, 6, 6)).astype(np.float32)
    saliency[0] *= 0.89 / np.abs(saliency[0]).max()
    saliency[1] *= 0.001 / np.abs(saliency[1]).max()
    saliency[2] *= 0.5 / np.abs(saliency[2]).max()
    recording.append_snapshot(SnapshotData(epoch=0, step=0, frames={(INPUT, "saliency"): saliency}))
    explorer = TrainingExplorer(recording)
    explorer.layer, explorer.quantity = INPUT, "saliency"
    explorer.sample = 1
    assert explorer.heatmap.colour_limits == pytest.approx((-0.001, 0.001), rel=1e-5)
    assert "this sample's range" in explorer.note.value
    explorer.sample = -1  # every sample: the range over all of them again
    assert explorer.heatmap.colour_limits == pytest.approx((-0.89, 0.89), rel=1e-5)
    assert "fixed over snapshots" in explorer.note.value
    explorer.close(widget=True)


def test_the_histogram_counts_the_sample_the_picture_shows(rng):
    recording = Recording()
    recording.set_layers({INPUT: {"type": "input", "calls": 1}})
    recording.set_probe(rng.random((3, 1, 6, 6)).astype(np.float32), np.array([0, 1, 2]))
    saliency = np.zeros((3, 1, 6, 6), np.float32)
    saliency[1] = 0.5  # sample 1: every value in one bin; the others at 0
    recording.append_snapshot(SnapshotData(epoch=0, step=0, frames={(INPUT, "saliency"): saliency}))
    explorer = TrainingExplorer(recording)
    explorer.layer, explorer.quantity = INPUT, "saliency"
    explorer.sample = 1
    assert explorer.histogram.counts.sum() == 36
    assert np.count_nonzero(explorer.histogram.counts) == 1
    assert explorer.histogram.figure.title == "histogram of sample 1: 36 values"
    explorer.sample = -1  # every sample: the whole frame
    assert explorer.histogram.counts.sum() == 108
    assert explorer.histogram.figure.title == "histogram of 108 values"
    explorer.close(widget=True)


def test_colour_choice_in_each_mode():
    picture = layout_frame(np.array([[-0.5, 1.0], [2.0, 3.0]], np.float32), "weight")
    extremes = [(-1.0, 1.0), None, (-1000.0, 2.0)]
    (low, high, signed), note = colour_choice(extremes, picture, "fixed", index=0)
    assert (low, high, signed) == (-1.0, 1.0, True)
    assert "differ 1,000x" in note
    # with no snapshot to fall back on, the widest range is kept
    assert colour_choice(extremes, picture, "fixed")[0] == (-1000.0, 1000.0, True)
    assert colour_choice(extremes, picture, "snapshot") == (
        (-3.0, 3.0, True),
        "colours: this snapshot's range",
    )
    assert colour_choice(extremes, picture, "robust")[1] == "colours: 1st to 99th percentile"
    # an all-zero snapshot beside others: each its own range
    (low, high, signed), note = colour_choice([(0.0, 0.0), (-1.0, 1.0)], picture, "fixed", index=0)
    assert (low, high) == (-1.0, 1.0)
    assert "some are all zero" in note


def test_a_picture_of_block_means_is_coloured_on_the_means_range(rng):
    # a 2048-wide layer shown reduced: the means of 36 random values are several times narrower
    # than the values; on the values' extremes most cells would be nearly white
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
    for epoch, scale in enumerate([1.0, 2.0]):
        weight = (scale * rng.uniform(-1, 1, size=(2048, 2048))).astype(np.float32)
        recording.append_snapshot(
            SnapshotData(epoch=epoch, step=epoch, frames={("fc", "weight"): weight})
        )
    explorer = TrainingExplorer(recording)
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 1
    shown = explorer.heatmap.shown.values
    assert shown.size <= 2048 * 2048 // 25  # block means of at least 5x5 values
    low, high = explorer.heatmap.colour_limits
    assert high == pytest.approx(np.abs(shown).max(), rel=1e-5) and low == -high
    assert high < 0.6 * 2.0
    assert "block means' range" in explorer.note.value
    # fixed: the earlier snapshot keeps the range (its means are half as wide, as its values)
    explorer.index = 0
    assert explorer.heatmap.colour_limits == pytest.approx((low, high))
    # per snapshot and robust modes already follow the picture shown
    explorer.colour_range = "snapshot"
    assert explorer.heatmap.colour_limits[1] == pytest.approx(
        np.abs(explorer.heatmap.shown.values).max(), rel=1e-5
    )
    explorer.close(widget=True)
