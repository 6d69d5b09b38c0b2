"""The Recording: numpy-only storage, its errors in words, its listeners and its thread safety."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, FrameMissingError, Recording, SnapshotData


def make(n=3, rng=None):
    rng = rng or np.random.default_rng(0)
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear"}, INPUT: {"type": "input"}})
    for i in range(n):
        recording.append_snapshot(
            SnapshotData(
                epoch=i,
                step=10 * i,
                frames={("fc", "weight"): rng.normal(size=(3, 4)), ("fc", "weight_grad"): None},
                missing={("fc", "weight_grad"): "no step yet"},
                statistics={("fc", "weight_norm"): float(i)},
                metrics={"loss": 1.0 / (i + 1)},
            )
        )
    return recording


def test_reading_back_what_was_appended(rng):
    weights = [rng.normal(size=(3, 4)) for _ in range(3)]
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear"}})
    for i, w in enumerate(weights):
        recording.append_snapshot(SnapshotData(epoch=i * 2, step=i, frames={("fc", "weight"): w}))
    assert recording.snapshots == (0.0, 2.0, 4.0)
    assert recording.layers == ("fc",)
    assert recording.quantities("fc") == ("weight",)
    for i in (0, 1, 2, -1, -3):
        frame = recording.frame("fc", "weight", i)
        assert frame.dtype == np.float32
        np.testing.assert_array_equal(frame, weights[i].astype(np.float32))
    assert not recording.frame("fc", "weight", 0).flags.writeable


def test_errors_name_what_exists():
    recording = make()
    with pytest.raises(KeyError, match="no layer 'fx'.*Did you mean 'fc'"):
        recording.frame("fx", "weight", 0)
    with pytest.raises(KeyError, match="no quantity 'wieght'.*Did you mean 'weight'"):
        recording.frame("fc", "wieght", 0)
    with pytest.raises(
        IndexError, match=r"out of range: the recording has 3 snapshot\(s\) \(valid: -3 to 2\)"
    ):
        recording.frame("fc", "weight", 3)
    with pytest.raises(
        FrameMissingError,
        match="'weight_grad' of layer 'fc' at snapshot 1 .epoch 1. is missing: no step yet",
    ):
        recording.frame("fc", "weight_grad", 1)
    with pytest.raises(KeyError, match="no metric 'acc'"):
        recording.metric("acc")
    with pytest.raises(ValueError, match="max_bytes must be a positive"):
        Recording(max_bytes=0)


def test_metrics_statistics_and_steps_align_with_nan_gaps():
    recording = make(2)
    recording.append_snapshot(SnapshotData(epoch=2, step=20, metrics={"accuracy": 0.9}))
    np.testing.assert_array_equal(recording.metric("loss"), [1.0, 0.5, np.nan])
    np.testing.assert_array_equal(recording.metric("accuracy"), [np.nan, np.nan, 0.9])
    assert recording.metric_names == ("loss", "accuracy")
    assert recording.snapshot_steps.tolist() == [0, 10, 20]
    recording.append_steps(np.array([1, 2]), {("fc", "grad_norm"): np.array([0.5, 0.25])})
    recording.append_steps(np.array([3]), {("fc", "weight_norm"): np.array([2.0])})
    assert recording.steps.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(recording.step_series("fc", "grad_norm"), [0.5, 0.25, np.nan])
    np.testing.assert_array_equal(recording.step_series("fc", "weight_norm"), [np.nan, np.nan, 2.0])
    with pytest.raises(ValueError, match="has 2 values for 1 steps"):
        recording.append_steps(np.array([4]), {("fc", "grad_norm"): np.ones(2)})


def test_a_failing_listener_warns_and_never_raises():
    recording = make(0)
    seen = []
    recording.add_listener(lambda r: seen.append(len(r)))

    def broken(r):
        raise ValueError("view broke")

    recording.add_listener(broken)
    with pytest.warns(
        RuntimeWarning, match="listener .* failed and was ignored: ValueError: view broke"
    ):
        recording.append_snapshot(SnapshotData(epoch=0, step=0))
    assert seen == [1]
    recording.remove_listener(broken)
    recording.append_snapshot(SnapshotData(epoch=1, step=0))
    assert seen == [1, 2]


def test_readers_never_see_half_a_snapshot():
    recording = Recording()
    recording.set_layers({"a": {}, "b": {}})
    stop = threading.Event()
    problems = []

    def read():
        while not stop.is_set():
            n = len(recording.snapshots)
            if n == 0:
                continue
            a = recording.frame("a", "activation", n - 1)
            b = recording.frame("b", "activation", n - 1)
            if a[0, 0] != b[0, 0] or recording.metric("i")[n - 1] != a[0, 0]:
                problems.append(n)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(300):
        frame = np.full((16, 16), float(i))
        recording.append_snapshot(
            SnapshotData(
                epoch=i,
                step=i,
                frames={("a", "activation"): frame, ("b", "activation"): frame.copy()},
                metrics={"i": float(i)},
            )
        )
    stop.set()
    reader.join()
    assert problems == []
    assert len(recording) == 300


def test_recording_module_imports_no_torch():
    code = "import sys; import nnviz_widgets.recording; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_snapshot_read_whole_appends_back_as_it_was():
    recording = make(3)
    recording.append_steps(np.array([1, 2]), {("fc", "grad_norm"): np.array([0.5, 0.25])})
    copy = Recording()
    copy.set_layers(recording.layer_infos())
    for index in range(len(recording)):
        data = recording.snapshot_data(index)
        assert list(data.frames) == [("fc", "weight"), ("fc", "weight_grad")]
        assert data.frames[("fc", "weight_grad")] is None
        assert data.missing == {("fc", "weight_grad"): "no step yet"}, "the reason as given"
        assert not data.thinned
        copy.append_snapshot(data)
    copy.append_steps(*recording.step_data())
    assert copy.layer_infos() == {"fc": {"type": "Linear"}, INPUT: {"type": "input"}}
    assert copy.snapshots == recording.snapshots
    assert copy.quantities("fc") == recording.quantities("fc")
    np.testing.assert_array_equal(copy.frame("fc", "weight", 1), recording.frame("fc", "weight", 1))
    assert copy.missing_reason("fc", "weight_grad", 2) == recording.missing_reason(
        "fc", "weight_grad", 2
    )
    np.testing.assert_array_equal(copy.metric("loss"), recording.metric("loss"))
    np.testing.assert_array_equal(copy.step_series("fc", "grad_norm"), [0.5, 0.25])


def test_a_thinned_snapshot_stays_thinned_when_appended_again():
    recording = Recording(max_bytes=3 * 48)
    recording.set_layers({"fc": {}})
    with pytest.warns(UserWarning, match="memory budget"):
        for i in range(4):
            recording.append_snapshot(
                SnapshotData(epoch=i, step=i, frames={("fc", "weight"): np.ones((3, 4))})
            )
    assert recording.thinned == (1,)
    data = recording.snapshot_data(1)
    assert data.thinned
    assert data.frames == {("fc", "weight"): None}
    assert data.missing == {("fc", "weight"): "dropped to stay within the memory budget"}
    copy = Recording(max_bytes=recording.max_bytes)
    copy.set_layers({"fc": {}})
    assert copy.append_snapshot(data) == 0
    assert copy.thinned == (0,)
    assert "memory budget of" in copy.missing_reason("fc", "weight", 0)


def test_misaligned_step_series_add_nothing():
    recording = make(0)
    recording.append_steps(np.array([1]), {("fc", "grad_norm"): np.array([0.5])})
    with pytest.raises(ValueError, match="has 2 values for 1 steps"):
        recording.append_steps(
            np.array([2]), {("fc", "grad_norm"): np.array([0.25]), ("fc", "lr"): np.ones(2)}
        )
    assert recording.steps.tolist() == [1]
    np.testing.assert_array_equal(recording.step_series("fc", "grad_norm"), [0.5])
    assert recording.step_statistics("fc") == ("grad_norm",)


def test_refresh_and_close_go_to_the_source():
    calls = []

    class Source:
        def refresh(self):
            calls.append("refresh")
            return 2

        def close(self):
            calls.append("close")

    assert Recording().refresh() == 0, "a recording in memory has nothing to refresh"
    Recording().close()
    recording = Recording(source=Source())
    assert recording.refresh() == 2
    recording.close()
    assert calls == ["refresh", "close"]
