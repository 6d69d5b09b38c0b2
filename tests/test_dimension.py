"""The "colourful dimension" (values over snapshots): its numbers (shared bins, counts spread
from each snapshot's own bins, log), its bounded cost, and its link to the explorer's snapshot."""

from __future__ import annotations

import numpy as np

import nnviz_widgets as nv
from nnviz_widgets.recording import SnapshotData
from nnviz_widgets.render.dimension import column_indices, dimension_picture, rebin, rebin_many
from nnviz_widgets.widgets.explorer import dimension


def test_rebin_spreads_each_bin_evenly_and_keeps_the_total():
    edges = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    assert np.allclose(rebin(np.array([4.0]), 0.0, 1.0, edges), [2, 2, 0, 0])
    assert np.allclose(rebin(np.array([1.0, 3.0]), 0.5, 1.5, edges), [0, 1, 3, 0])
    spread = rebin(np.arange(64.0), -1.0, 3.0, np.linspace(-1, 3, 9))
    assert spread.sum() == np.arange(64.0).sum() and np.all(np.diff(spread) > 0)
    # one value everywhere: the whole count in the bin that holds it
    assert np.allclose(rebin(np.array([5.0, 0.0]), 1.2, 1.2, edges), [0, 0, 5, 0])
    assert not rebin(np.array([1.0]), np.nan, 1.0, edges).any()


def test_rebin_many_is_the_cumulative_count_interpolated_row_by_row(rng):
    counts = rng.integers(0, 50, size=(7, 64)).astype(float)
    lows = rng.normal(size=7)
    highs = lows + rng.uniform(0.1, 3.0, size=7)
    edges = np.linspace(-3.0, 5.0, 33)
    for row, low, high, got in zip(counts, lows, highs, rebin_many(counts, lows, highs, edges)):
        cumulative = np.concatenate([[0.0], np.cumsum(row)])
        expected = np.diff(np.interp(edges, np.linspace(low, high, 65), cumulative))
        assert np.allclose(got, expected)


def test_the_picture_shares_one_range_puts_large_values_on_top_and_logs_counts():
    columns = [(np.array([10.0, 0.0]), 0.0, 1.0), None, (np.array([0.0, 30.0]), 1.0, 3.0)]
    picture = dimension_picture(columns, [0, 1, 2], bins=3)
    assert np.allclose(picture.edges, [0, 1, 2, 3])
    # row 0 holds the largest values; column 1 recorded nothing
    assert np.allclose(picture.counts[:, 0], [0, 0, 10])
    assert np.allclose(picture.counts[:, 2], [30, 0, 0])  # all in its upper half: 2..3
    assert np.isnan(picture.counts[:, 1]).all() and np.isnan(picture.values[:, 1]).all()
    assert np.allclose(picture.values[:, 2], np.log1p([30, 0, 0]))
    assert picture.values.dtype == np.float32 and list(picture.snapshots) == [0, 1, 2]


def test_at_most_so_many_columns_evenly_spread():
    assert list(column_indices(5, 300)) == [0, 1, 2, 3, 4]
    many = column_indices(1000, 300)
    assert len(many) == 300 and many[0] == 0 and many[-1] == 999
    assert np.ptp(np.diff(many)) <= 1  # evenly spread


def _recording(count: int, *, histograms: bool = False) -> nv.Recording:
    """Layer "a" with a 4x8 activation growing by 1 a snapshot, and a weight gradient."""
    recording = nv.Recording()
    recording.set_layers({"a": {"type": "Linear", "parameters": {"weight": [8, 4]}, "frozen": []}})
    base = np.linspace(0.0, 1.0, 32, dtype=np.float32).reshape(4, 8)
    for i in range(count):
        values = base + i
        data = SnapshotData(
            epoch=i,
            step=10 * i,
            frames={("a", "activation"): values, ("a", "weight_grad"): -values},
            statistics={("a", "min_activation"): float(i), ("a", "max_activation"): i + 1.0},
        )
        if histograms:  # as the Recorder gives for a large tensor it keeps a preview of
            data.histograms[("a", "activation")] = np.full(64, 0.5)
        recording.append_snapshot(data)
    return recording


def _opened(recording: nv.Recording) -> nv.TrainingExplorer:
    explorer = nv.TrainingExplorer(recording)
    explorer.dimension.widget.selected_index = 0  # as a click on its title
    return explorer


def test_the_explorer_panel_follows_the_layer_and_the_snapshot_both_ways():
    explorer = _opened(_recording(6))
    try:
        views = explorer.dimension.views
        picture = views["activation"].picture
        assert picture.values.shape == (64, 6) and np.allclose(picture.counts.sum(axis=0), 32)
        assert np.allclose(picture.edges[[0, -1]], [0.0, 6.0])
        assert views["weight_grad"].picture.edges[-1] <= 0.0  # gradients on their own range
        assert list(views["activation"].marker.x) == [5.0, 5.0]  # the newest, followed
        explorer.index = 2
        assert list(views["activation"].marker.x) == [2.0, 2.0]
        views["weight_grad"]._handle_click(None, {"data": {"click_x": 3.8, "click_y": 0.0}})
        assert explorer.index == 4 and list(views["activation"].marker.x) == [4.0, 4.0]
        assert explorer.error.value == "" and "log(1 + count)" in explorer.dimension.note.value
    finally:
        explorer.close()


def test_recorded_histograms_are_used_on_their_statistics_range():
    explorer = _opened(_recording(3, histograms=True))
    try:
        picture = explorer.dimension.views["activation"].picture
        assert np.allclose(picture.counts.sum(axis=0), 32)  # 64 bins of 0.5
        assert np.allclose(picture.edges[[0, -1]], [0.0, 3.0])
    finally:
        explorer.close()


def test_a_thousand_snapshots_read_a_bounded_number_of_columns(monkeypatch):
    recording = _recording(1000)
    reads = []
    real = dimension.read_column

    def counting(*args):
        reads.append(args[3])
        return real(*args)

    monkeypatch.setattr(dimension, "read_column", counting)
    explorer = nv.TrainingExplorer(recording)
    try:
        explorer.layer = "a"
        assert reads == []  # closed: nothing read, nothing drawn
        assert explorer.dimension.views["activation"].picture is None
        explorer.dimension.widget.selected_index = 0
        per_quantity = dimension.MOST_COLUMNS
        assert len(reads) == 2 * per_quantity  # activation and gradient, once each
        explorer.index = 10  # scrubbing moves the marker, reads nothing
        assert len(reads) == 2 * per_quantity
        assert "300 of 1000 snapshots" in explorer.dimension.note.value
    finally:
        explorer.close()


def test_a_failure_is_said_in_the_panel(monkeypatch):
    def broken(*args):
        raise RuntimeError("no luck")

    monkeypatch.setattr(dimension, "read_column", broken)
    explorer = _opened(_recording(2))
    try:
        assert "RuntimeError: no luck" in explorer.dimension.note.value
        assert explorer.heatmap.rgb is not None  # the rest of the explorer draws
    finally:
        explorer.close()
