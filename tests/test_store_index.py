"""Opening through the index: what is known at once, what is read later, and what damage costs.

A recording written by this version has an index of its log (``index.bin``) and its scalars
(``scalars.bin``); one written before has neither and opens by parsing the log
(``tests/data/recording-without-index``, written by the previous version). Either way a reader
sees the same recording; damage to the index costs time (the log is parsed instead), never data.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, FrameMissingError, Recording, SnapshotData
from nnviz_widgets.store import RecordingStoreWarning, RecordingWriter
from nnviz_widgets.store import files as files_module
from nnviz_widgets.store import index as index_module

WITHOUT_INDEX = Path(__file__).parent / "data" / "recording-without-index"


def write_example(path: Path) -> None:
    """What ``tests/data/recording-without-index`` holds, written by the previous version with
    this same function: three snapshots (one lost before the third, one thinned), previews,
    histograms, notes, NaN statistics, metrics and step series that start late."""
    with RecordingWriter(path, sync=False, max_bytes=4096) as writer:
        writer.write_layers(
            {
                INPUT: {"type": "input"},
                "fc": {"type": "Linear", "shape": [4, 3]},
                "relu": {"type": "ReLU", "calls": 2},
            }
        )
        writer.write_probe(np.arange(16, dtype=np.float32).reshape(2, 8), np.array([3, 7]))
        for index, epoch in ((0, 0.0), (1, 1.0), (3, 2.5)):  # snapshot 2 was lost
            grid = np.arange(12, dtype=np.float32).reshape(4, 3) + epoch
            data = SnapshotData(epoch=epoch, step=10 * index)
            data.frames = {
                ("fc", "weight"): grid,
                ("fc", "weight_grad"): None if index == 0 else grid / 10,
                ("fc", "activation"): np.full((2, 3), epoch, np.float32),
                ("relu", "activation[1]"): np.full((2, 5), -epoch, np.float32),
            }
            data.reduced = {("fc", "activation"): (4, 6)}
            data.full = {("fc", "activation"): np.full((4, 6), epoch, np.float32)}
            data.histograms = {("fc", "weight"): np.arange(64, dtype=np.float32)}
            if index == 0:
                data.missing = {("fc", "weight_grad"): "no optimizer step ran before this snapshot"}
                data.notes = {("relu", "activation[1]"): "2 of 8 probe samples kept"}
            if index == 1:  # a saved recording's budget had taken its frames
                data.frames = dict.fromkeys(data.frames)
                data.missing = dict.fromkeys(
                    data.frames, "dropped to stay within the memory budget"
                )
                data.reduced, data.full, data.histograms = {}, {}, {}
            data.statistics = {
                ("fc", "weight_norm"): float(np.linalg.norm(grid)),
                ("fc", "grad_norm"): float("nan") if index == 0 else 1 / index,
                ("fc", "min_weight"): float(grid.min()),
                ("fc", "max_weight"): float(grid.max()),
            }
            if index:
                data.statistics[("relu", "dead_fraction")] = 0.25 * index
            data.metrics = {"loss": 1 / (1 + epoch)}
            if index == 3:
                data.metrics["accuracy"] = 0.75
            writer.write_snapshot(index, data, thinned=index == 1)
            steps = np.arange(5) + 10 * index
            series = {("fc", "grad_norm"): np.linspace(0, 1, 5) + index}
            if index:
                series[("fc", "lr")] = np.full(5, 0.1)
            writer.write_steps(steps, series)


def _open(path: Path, **options) -> Recording:
    """Open, expecting the one warning the example gives: snapshot 2 of the run was lost."""
    with pytest.warns(RecordingStoreWarning, match=r"snapshot\(s\) 2 of the run were never"):
        return Recording.open(path, **options)


def _content(recording: Recording) -> dict:
    """Everything a reader can see, in plain values (frames read); NaN as None."""
    seen = {
        "snapshots": recording.snapshots,
        "steps": recording.snapshot_steps.tolist(),
        "thinned": recording.thinned,
        "metrics": {name: recording.metric(name).tolist() for name in recording.metric_names},
        "step numbers": recording.steps.tolist(),
        "probe": {name: array.tolist() for name, array in recording.probe.items()},
        "max_bytes": recording.max_bytes,
    }
    for layer in (*recording.layers, INPUT):
        statistic, series = recording.statistic, recording.step_series
        seen[layer] = {
            "info": recording.layer_info(layer),
            "quantities": recording.quantities(layer),
            "statistics": {n: statistic(layer, n).tolist() for n in recording.statistics(layer)},
            "series": {n: series(layer, n).tolist() for n in recording.step_statistics(layer)},
        }
        for quantity in recording.quantities(layer):
            seen[f"{layer}/{quantity}"] = found = [recording.note(layer, quantity)]
            for index in range(len(recording)):
                reason = recording.missing_reason(layer, quantity, index)
                found.append(reason)
                if reason is None:
                    found.append(recording.frame(layer, quantity, index).tolist())
                    found.append(recording.frame_shape(layer, quantity, index))
                    histogram = recording.histogram(layer, quantity, index)
                    found.append(None if histogram is None else histogram.tolist())
    return json.loads(json.dumps(seen).replace("NaN", "null"))


@pytest.fixture
def example(tmp_path) -> Path:
    write_example(tmp_path / "run")
    return tmp_path / "run"


def test_a_recording_written_before_the_index_opens_as_one_written_now(example):
    assert not (WITHOUT_INDEX / "index.bin").exists()
    assert "index" not in json.loads((WITHOUT_INDEX / "manifest.json").read_text())
    assert (example / "index.bin").exists() and (example / "scalars.bin").exists()
    old, new = _content(_open(WITHOUT_INDEX)), _content(_open(example))
    assert old == new
    assert new["snapshots"] == [0.0, 1.0, 2.5]
    assert new["thinned"] == [1]
    assert new["fc"]["quantities"] == ["weight", "weight_grad", "activation"]
    assert new["relu/activation[1]"][0] == "2 of 8 probe samples kept"
    assert new["fc"]["statistics"]["grad_norm"] == [None, 1.0, 1 / 3]
    assert new["metrics"]["accuracy"] == [None, None, 0.75]
    assert new["fc"]["series"]["lr"] == [None] * 5 + [0.1] * 10


def test_saving_an_indexed_recording_gives_the_same_recording(example, tmp_path):
    _open(example).save(tmp_path / "saved")
    assert _content(Recording.open(tmp_path / "saved")) == _content(_open(example))


def test_opening_reads_no_log_record(example):
    expected = _content(_open(example))
    log = example / "log.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    # every record still where the index says, each line now unreadable
    log.write_bytes(b"".join(b"#" * (len(line) - 1) + b"\n" for line in lines))
    with pytest.warns(RecordingStoreWarning) as caught:
        recording = Recording.open(example)
    # the lost snapshot is known from the index's rows; no damaged line was met
    assert [str(w.message)[:28] for w in caught] == ["snapshot(s) 2 of the run wer"]
    assert recording.snapshots == tuple(expected["snapshots"])
    assert recording.quantities("fc") == tuple(expected["fc"]["quantities"])
    assert (
        recording.statistic("fc", "max_weight").tolist()
        == expected["fc"]["statistics"]["max_weight"]
    )
    assert recording.steps.tolist() == expected["step numbers"]
    assert recording.note("relu", "activation[1]") == "2 of 8 probe samples kept"
    # a snapshot's record is read when it is first asked about: here it is damaged
    with pytest.warns(RecordingStoreWarning, match=r"snapshot 2: its record in .*log\.jsonl"):
        reason = recording.missing_reason("fc", "weight", 2)
    assert "unreadable" in reason
    with pytest.raises(FrameMissingError, match="unreadable"):
        recording.frame("fc", "weight", 2)


def _damage(path: Path, offset: int) -> None:
    content = bytearray(path.read_bytes())
    content[offset] ^= 0x40
    path.write_bytes(bytes(content))


@pytest.mark.parametrize(
    "change",
    [
        "a damaged row",
        "no index file",
        "half a row",
        "rows not written yet",
        "no scalars file",
        "a malformed catalog",
    ],
)
def test_damage_to_the_index_costs_time_never_data(example, change):
    expected = _content(_open(example))
    rows = example / "index.bin"
    if change == "a damaged row":
        _damage(rows, 2 * 64 + 30)  # the third record's row: the log is parsed for it
    elif change == "no index file":
        rows.unlink()
    elif change == "half a row":
        rows.write_bytes(rows.read_bytes()[:32])
    elif change == "rows not written yet":  # as after a crash between a log line and its row
        rows.write_bytes(rows.read_bytes()[: 3 * 64])
    elif change == "no scalars file":
        (example / "scalars.bin").unlink()
    else:
        manifest = json.loads((example / "manifest.json").read_text())
        manifest["index"]["frames"] = "fc"
        (example / "manifest.json").write_text(json.dumps(manifest))
    if change == "a malformed catalog":
        with pytest.warns(RecordingStoreWarning, match="index entry .* is malformed"):
            assert _content(_open(example)) == expected
    else:
        assert _content(_open(example)) == expected


def _rewrite_row(path: Path, number: int, **fields) -> None:
    """Change fields of an index row and make its check word match again."""
    content = bytearray(path.read_bytes())
    row = np.frombuffer(content, dtype=index_module.ROW)[number : number + 1].copy()
    for name, value in fields.items():
        row[name] = value
    row["check"] = index_module._checks(row.view("<u8").reshape(1, 8))
    content[number * 64 : (number + 1) * 64] = row.tobytes()
    path.write_bytes(bytes(content))


def test_a_record_not_where_the_index_says_costs_that_snapshot(example):
    # a sound row that names another record than the one where it points
    _rewrite_row(example / "index.bin", 4, count=7)
    with pytest.warns(RecordingStoreWarning, match=r"snapshot\(s\) 2, 3, 4, 5, 6 of the run"):
        recording = Recording.open(example)
    with pytest.warns(RecordingStoreWarning, match="the run's snapshot 3, not 7"):
        assert "unreadable" in recording.missing_reason("fc", "weight", 2)
    with pytest.raises(FrameMissingError, match="unreadable"):
        recording.frame("fc", "weight", 2)
    np.testing.assert_array_equal(recording.frame("fc", "weight", 0), np.arange(12).reshape(4, 3))
    assert recording.statistic("fc", "min_weight")[2] == 2.5, "its scalars are still known"


def test_a_damaged_block_of_steps_reads_as_nan_and_step_minus_one(example):
    _damage(example / "steps.bin", 8 * 5 + 3)  # the first block's first series
    recording = _open(example)
    with pytest.warns(RecordingStoreWarning, match=r"steps\.bin is damaged at byte 0"):
        series = recording.step_series("fc", "grad_norm")
    assert np.isnan(series[:5]).all() and not np.isnan(series[5:]).any()
    assert recording.steps.tolist()[:6] == [-1] * 5 + [10]


def test_damaged_scalars_read_as_nan_when_read_whole(example):
    _damage(example / "scalars.bin", 8 * 1 + 2)  # the first snapshot's grad_norm
    recording = _open(example)
    with pytest.warns(RecordingStoreWarning, match=r"scalars\.bin \(at byte 0\) are damaged"):
        data = recording.snapshot_data(0)
    assert all(np.isnan(value) for value in data.statistics.values())
    assert recording.snapshot_data(2).statistics[("fc", "min_weight")] == 2.5


def test_a_failed_index_write_is_retried_and_reported_once(tmp_path, monkeypatch):
    real_write_at = files_module.write_at
    failures = []

    def failing_on_the_index(path, data, offset, *, sync):
        if path.name == "index.bin" and len(failures) < 2:
            failures.append(offset)
            raise OSError(28, "No space left on device")
        real_write_at(path, data, offset, sync=sync)

    monkeypatch.setattr(files_module, "write_at", failing_on_the_index)
    with pytest.warns(RecordingStoreWarning, match="could not write the index") as caught:
        write_example(tmp_path / "run")
    assert len(caught) == 1, "reported once"
    monkeypatch.undo()
    assert len((tmp_path / "run" / "index.bin").read_bytes()) == 6 * 64, "every row, in the end"
    assert _content(_open(tmp_path / "run")) == _content(_open(WITHOUT_INDEX))


def test_refresh_takes_new_rows_and_log_lines_alike(tmp_path):
    layers = {"fc": {"type": "Linear"}}
    writer = RecordingWriter(tmp_path / "run", sync=False)
    writer.write_layers(layers)

    def snapshot(index: int) -> None:
        frames = {("fc", "weight"): np.full((2, 2), index, np.float32)}
        statistics = {("fc", f"norm{index % 3}"): float(index)}  # new names now and then
        writer.write_snapshot(index, SnapshotData(index, index, frames, statistics=statistics))

    snapshot(0)
    recording = Recording.open(tmp_path / "run")
    seen = []
    recording.add_listener(lambda rec: seen.append(len(rec)))
    snapshot(1)
    snapshot(2)
    index_bytes = (tmp_path / "run" / "index.bin").read_bytes()
    snapshot(3)
    # the row of snapshot 3 not written yet: its log line is read instead
    (tmp_path / "run" / "index.bin").write_bytes(index_bytes)
    assert recording.refresh() == 3
    assert seen == [2, 3, 4], "listeners are called for each new snapshot"
    snapshot(4)
    assert recording.refresh() == 1
    assert recording.snapshots == (0, 1, 2, 3, 4)
    assert recording.statistics("fc") == ("norm0", "norm1", "norm2")
    np.testing.assert_array_equal(
        recording.statistic("fc", "norm1"), [np.nan, 1, np.nan, np.nan, 4]
    )
    for index in range(5):
        np.testing.assert_array_equal(
            recording.frame("fc", "weight", index), np.full((2, 2), index)
        )
    writer.close()


def test_lazy_snapshots_are_read_safely_from_many_threads_while_following(tmp_path):
    writer = RecordingWriter(tmp_path / "run", sync=False)
    writer.write_layers({"a": {}, "b": {}})

    def snapshot(index: int) -> None:
        frame = np.full((4, 4), float(index), np.float32)
        frames = {("a", "activation"): frame, ("b", "activation"): frame}
        writer.write_snapshot(index, SnapshotData(index, index, frames, metrics={"i": index}))

    for index in range(40):
        snapshot(index)
    recording = Recording.open(tmp_path / "run", follow=True, poll_interval=0.01)
    stop, problems, reads = threading.Event(), [], []

    def read(seed: int) -> None:
        choose = random.Random(seed)
        while not stop.is_set():
            n = len(recording)
            index = choose.randrange(n)
            try:
                a = recording.frame("a", "activation", index)
                b = recording.preview("b", "activation", index)
                if not (a[0, 0] == b[0, 0] == index == recording.metric("i")[index]):
                    problems.append((index, a[0, 0], b[0, 0]))
                if recording.missing_reason("b", "activation", index) is not None:
                    problems.append((index, "missing"))
                reads.append(index)
            except Exception as error:  # any failure in a reader is the finding
                problems.append((index, repr(error)))

    readers = [threading.Thread(target=read, args=(seed,)) for seed in range(4)]
    for thread in readers:
        thread.start()
    for index in range(40, 120):
        snapshot(index)
        if index % 10 == 0:
            threading.Event().wait(0.01)  # let the follower take some while readers read
    writer.close()
    deadline = threading.Event()
    for _ in range(500):
        if len(recording) == 120:
            break
        deadline.wait(0.02)
    stop.set()
    for thread in readers:
        thread.join()
    recording.close()
    assert len(recording) == 120
    assert problems == []
    assert len(reads) > 100 and max(reads) >= 40, "the readers read while snapshots came in"


def test_a_directory_with_an_index_is_replaced_whole(example, tmp_path):
    with RecordingWriter(example, overwrite=True, sync=False) as writer:
        writer.write_layers({"fc": {}})
    # a stale index would describe the old recording's log: it goes with it
    assert sorted(p.name for p in example.iterdir()) == ["log.jsonl", "manifest.json", "snapshots"]
    assert len(Recording.open(example)) == 0
