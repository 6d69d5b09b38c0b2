"""Large tensors kept small in memory: previews, exact facts, whole tensors on disk."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

import nnviz_widgets as nv
from nnviz_widgets.record.capture import FrameCapture, block_mean, plan_memory_values
from nnviz_widgets.recording import HISTOGRAM_BINS, block_slices


@pytest.mark.parametrize(
    ("shape", "limit", "keep_first"),
    [
        ((64, 64), 100, False),
        ((37, 53), 200, False),
        ((4, 10, 9, 7), 300, True),
        ((1000,), 9, False),
    ],
)
def test_each_preview_value_is_the_mean_of_its_block(rng, shape, limit, keep_first):
    tensor = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
    preview = block_mean(tensor, limit, keep_first=keep_first).numpy()
    assert preview.size <= limit or (keep_first and preview.shape[0] == shape[0])
    if keep_first:
        assert preview.shape[0] == shape[0]  # every sample kept
    full = tensor.numpy()
    for index in itertools.product(*(range(n) for n in preview.shape)):
        block = full[block_slices(shape, preview.shape, index)]
        assert block.size >= 1
        np.testing.assert_allclose(preview[index], block.mean(), rtol=1e-4, atol=1e-6)


def test_the_memory_plan_fills_the_budget_and_keeps_small_frames_whole():
    sizes = [10] * 50 + [1000] * 5 + [100_000] * 3
    level = plan_memory_values(sizes, 64 << 10)
    cost = sum(4 * s if s <= level else 2 * level for s in sizes)
    assert cost <= 64 << 10 and level >= 10
    assert sum(4 * s if s <= level + 1 else 2 * (level + 1) for s in sizes) > 64 << 10
    assert plan_memory_values([10, 20], 1 << 20) == 256  # all fit: the floor, whole frames
    assert plan_memory_values([300, 20], 1 << 20) == 300


def test_capture_keeps_exact_facts_of_the_whole_tensor(rng):
    values = rng.standard_normal((300, 400)).astype(np.float32)
    values[5, 7] = np.nan
    values[9, 9] = np.inf
    capture = FrameCapture(1000, 1 << 24, keep_full=True)
    captured = capture(torch.from_numpy(values), keep_first=False)
    assert captured.reduced and captured.array.size <= 1000
    assert captured.full.shape == (300, 400)
    np.testing.assert_array_equal(captured.full, values)
    finite = values[np.isfinite(values)]
    assert captured.nonfinite == 2
    assert captured.minimum == finite.min() and captured.maximum == finite.max()
    assert captured.histogram.shape == (HISTOGRAM_BINS,)
    assert captured.histogram.sum() == pytest.approx(finite.size, rel=1e-9)


def _wide_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(512, 384), nn.ReLU(), nn.Linear(384, 10))


def test_a_large_weight_is_kept_as_a_preview_and_says_what_it_stands_for():
    model = _wide_model()
    with nv.Recorder(model, probe=torch.randn(4, 512), memory_per_snapshot=256 << 10) as rec:
        rec.snapshot()
    recording = rec.recording
    weight = model[0].weight.detach().numpy()
    assert recording.frame_shape("0", "weight") == (384, 512)
    preview = recording.preview("0", "weight")
    assert preview.size < weight.size
    expected = block_mean(torch.from_numpy(weight), preview.size, keep_first=False).numpy()
    # float16 scaled to the largest value: three digits of it
    np.testing.assert_allclose(preview, expected, atol=2e-3 * np.abs(expected).max())
    # without a directory the preview is all there is of it, and frame() says so by its shape
    assert recording.frame("0", "weight").shape == preview.shape
    assert recording.statistic("0", "min_weight")[0] == weight.min()
    assert recording.statistic("0", "max_weight")[0] == weight.max()
    assert recording.histogram("0", "weight").sum() == pytest.approx(weight.size)
    # small frames stay whole and exact
    np.testing.assert_array_equal(recording.frame("2", "weight"), model[2].weight.detach())
    assert recording.frame_shape("2", "weight") == (10, 384)
    assert recording.nbytes <= 256 << 10


def test_with_a_directory_the_whole_tensor_is_read_from_disk(tmp_path):
    model = _wide_model()
    path = tmp_path / "run"
    with nv.Recorder(
        model, probe=torch.randn(4, 512), memory_per_snapshot=256 << 10, path=path
    ) as rec:
        rec.snapshot()
    weight = model[0].weight.detach().numpy()
    np.testing.assert_array_equal(rec.recording.frame("0", "weight"), weight)
    small = rec.recording.preview("0", "weight")
    opened = nv.Recording.open(path)
    np.testing.assert_array_equal(opened.frame("0", "weight"), weight)
    np.testing.assert_allclose(opened.preview("0", "weight"), small, rtol=1e-3, atol=1e-5)
    assert opened.frame_shape("0", "weight") == (384, 512)
    np.testing.assert_allclose(
        opened.histogram("0", "weight"), rec.recording.histogram("0", "weight")
    )
    assert opened.statistic("0", "max_weight")[0] == weight.max()
    # a frame kept whole has no histogram recorded: its values are counted when asked, in
    # memory and from disk alike
    small_weight = model[2].weight.detach().numpy()
    expected, _ = np.histogram(
        small_weight, bins=64, range=(small_weight.min(), small_weight.max())
    )
    for recording in (rec.recording, opened):
        counts = recording.histogram("2", "weight")
        assert counts.sum() == small_weight.size
        # equal bins from the smallest value to the largest (edges rounded in float32)
        assert np.abs(counts - expected).sum() <= 0.01 * small_weight.size


def test_saving_and_opening_keeps_previews_and_histograms(tmp_path):
    model = _wide_model()
    with nv.Recorder(model, probe=torch.randn(4, 512), memory_per_snapshot=256 << 10) as rec:
        rec.snapshot()
    rec.recording.save(tmp_path / "saved")
    opened = nv.Recording.open(tmp_path / "saved")
    np.testing.assert_allclose(
        opened.preview("0", "weight"), rec.recording.preview("0", "weight"), rtol=1e-6
    )
    assert opened.frame_shape("0", "weight") == (384, 512)
    np.testing.assert_allclose(
        opened.histogram("0", "activation"), rec.recording.histogram("0", "activation")
    )


def test_previews_count_half_their_float32_bytes_and_thin_like_frames():
    model = _wide_model()
    rec = nv.Recorder(model, probe=torch.randn(4, 512), memory_per_snapshot=256 << 10)
    rec.snapshot()
    per_snapshot = rec.recording.nbytes
    preview = rec.recording.preview("0", "weight")
    assert per_snapshot < 256 << 10
    recording = nv.Recording(max_bytes=int(per_snapshot * 2.5))
    recording.set_layers(rec.recording.layer_infos())
    with pytest.warns(nv.RecordingBudgetWarning):
        for _ in range(4):
            recording.append_snapshot(rec.recording.snapshot_data(0))
    assert recording.thinned and recording.nbytes <= recording.max_bytes
    np.testing.assert_allclose(recording.preview("0", "weight", -1), preview, rtol=1e-3)
    rec.close()


def _explorer_on(path=None):
    from nnviz_widgets.widgets.explorer import TrainingExplorer

    model = _wide_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = nv.Recorder(
        model,
        probe=torch.randn(4, 512),
        optimizer=optimizer,
        memory_per_snapshot=256 << 10,
        path=path,
    )
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 512)).square().mean().backward()
        optimizer.step()
        rec.snapshot()
    explorer = TrainingExplorer(rec.recording, min_interval=0.0)
    explorer.layer, explorer.quantity = "0", "weight"
    return rec, model, explorer


def test_the_explorer_colours_a_preview_on_its_block_means_and_histograms_the_whole_tensor():
    rec, _, explorer = _explorer_on()
    recording = rec.recording
    preview = recording.preview("0", "weight", explorer.index)
    assert explorer.heatmap.picture.values.shape == preview.shape
    highs = recording.statistic("0", "max_weight")
    lows = recording.statistic("0", "min_weight")
    extents = np.maximum(np.abs(lows), np.abs(highs))
    bound, widest = extents.max(), int(np.argmax(extents))
    # block means are narrower than the values: the fixed range is scaled to the means at the
    # widest snapshot, the same at every snapshot
    means = np.abs(recording.preview("0", "weight", widest)).max()
    assert means < 0.95 * bound
    assert explorer.heatmap.colour_limits == pytest.approx((-means, means), rel=1e-5)
    assert "block means' range" in explorer.note.value
    explorer.index = (explorer.index + 1) % len(recording)
    assert explorer.heatmap.colour_limits == pytest.approx((-means, means), rel=1e-5)
    # the histogram counts the whole tensor's values, its bins over their range
    assert explorer.histogram.counts.sum() == pytest.approx(384 * 512, rel=1e-3)
    centres = np.asarray(explorer.histogram.bars.x)
    half = (centres[1] - centres[0]) / 2
    assert (centres[0] - half, centres[-1] + half) == pytest.approx((-bound, bound), rel=1e-4)
    assert "block-mean preview of the (384, 512) tensor" in explorer.note.value
    explorer.heatmap._on_hover(0, 0, 1, 1)
    assert "only a preview is kept" in explorer.readout.value
    explorer.close(widget=True)
    rec.close()


def test_the_readout_reads_the_block_exactly_from_disk_and_scrubbing_never_does(
    tmp_path, monkeypatch
):
    from nnviz_widgets.store.stored_frame import StoredFrame

    rec, model, explorer = _explorer_on(tmp_path / "run")
    rec.close()
    weight = model[0].weight.detach().numpy()
    preview_shape = rec.recording.preview("0", "weight", -1).shape
    explorer.heatmap._on_hover(2, 3, 3, 4)
    block = block_slices((384, 512), preview_shape, (2, 3))
    values = weight[block]
    text = explorer.readout.value
    assert f"weight[{block[0].start}:{block[0].stop}, {block[1].start}:{block[1].stop}]" in text
    assert f"max {values.max():.4g}" in text and f"min {values.min():.4g}" in text
    # opened from disk, scrubbing reads previews only: the whole tensors are never loaded
    opened = nv.Recording.open(tmp_path / "run")

    def refuse(self):
        if self.shape == (384, 512):
            raise AssertionError("a scrub read a whole tensor")
        return original(self)

    original = StoredFrame.load
    monkeypatch.setattr(StoredFrame, "load", refuse)
    from nnviz_widgets.widgets.explorer import TrainingExplorer

    other = TrainingExplorer(opened, min_interval=0.0)
    other.layer, other.quantity = "0", "weight"
    for index in (0, 1, 2, 0):
        other.index = index
        assert other.error.value == "", other.error.value
    other.close(widget=True)
    explorer.close(widget=True)


def test_small_frames_measured_with_numpy_agree_with_the_torch_path(rng, monkeypatch):
    from nnviz_widgets.record import capture as capture_module
    from nnviz_widgets.recording.histogram import histogram_counts

    values = rng.standard_normal((6, 5, 4)).astype(np.float32)
    values[1, 2, 3] = np.nan
    values[0, 0, 0] = -np.inf
    tensor = torch.from_numpy(values)
    capture = FrameCapture(1 << 20, 1 << 24, keep_full=False)
    small = capture(tensor, keep_first=False, unit_dim=1)
    monkeypatch.setattr(capture_module, "SMALL", 0)  # force the torch path
    large = capture(tensor, keep_first=False, unit_dim=1)
    np.testing.assert_array_equal(small.array, large.array)
    for name in ("nonfinite", "minimum", "maximum", "dead_fraction"):
        assert getattr(small, name) == getattr(large, name), name
    assert small.squared_norm == pytest.approx(large.squared_norm, rel=1e-12, nan_ok=True)
    # a frame kept whole has no recorded histogram: the Recording counts its values when asked,
    # into the same bins the device path fills
    assert small.histogram is None
    np.testing.assert_array_equal(histogram_counts(small.array), large.histogram)
