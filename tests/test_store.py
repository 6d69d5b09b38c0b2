"""Recordings on disk: round trip, following a writer in another process, crash safety, refusals."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from nnviz_widgets.recording import (
    INPUT,
    FrameMissingError,
    Recording,
    RecordingBudgetWarning,
    SnapshotData,
)
from nnviz_widgets.store import (
    FORMAT_VERSION,
    RecordingFormatError,
    RecordingStoreWarning,
    RecordingWriteError,
    RecordingWriter,
    StoredFrame,
)
from nnviz_widgets.store import writer as writer_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _snapshot(rng: np.random.Generator, epoch: float, step: int, **extra) -> SnapshotData:
    weight = rng.standard_normal((4, 3)).astype(np.float32)
    activation = rng.standard_normal((5, 4)).astype(np.float32)
    return SnapshotData(
        epoch=epoch,
        step=step,
        frames={("fc", "weight"): weight, ("fc", "activation"): activation},
        statistics={("fc", "weight_norm"): float(np.linalg.norm(weight))},
        metrics={"loss": 1.0 / (1 + epoch)},
        **extra,
    )


def _writer_with_layers(path: Path, **options) -> RecordingWriter:
    writer = RecordingWriter(path, **options)
    writer.write_layers({"fc": {"type": "Linear", "calls": 1}})
    return writer


def _full_recording(rng: np.random.Generator) -> Recording:
    """A recording with every kind of content, including a thinned snapshot."""
    # frames: 640 bytes at snapshot 0, 256 at each later one: the third and
    # fourth snapshots each thin one (1, then 2)
    recording = Recording(max_bytes=900)
    recording.set_layers(
        {
            INPUT: {"type": "input"},
            "fc": {"type": "Linear", "calls": 1, "shape": [4, 3], "bias": True},
            "relu": {"type": "ReLU", "calls": 2},
        }
    )
    recording.set_probe(rng.standard_normal((2, 8, 8)).astype(np.float32), np.array([3, 7]))
    special = rng.standard_normal((4, 3)).astype(np.float32)
    special[0, 0], special[1, 1], special[2, 2] = np.nan, np.inf, -np.inf
    recording.append_snapshot(
        SnapshotData(
            epoch=0.0,
            step=0,
            frames={
                ("fc", "weight"): special,
                ("fc", "activation"): rng.standard_normal((5, 4)),
                (INPUT, "probe"): rng.standard_normal((2, 8, 8)),
            },
            missing={("fc", "weight_grad"): "no optimizer step ran before this snapshot"},
            statistics={("fc", "weight_norm"): 2.5, ("fc", "grad_norm"): float("nan")},
            metrics={"loss": 2.0},
            notes={("fc", "activation"): "reduced from 500 to 5 samples"},
        )
    )
    for epoch in (1.0, 2.0, 3.5):
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=int(epoch * 10),
                frames={
                    ("fc", "weight"): rng.standard_normal((4, 3)),
                    ("fc", "weight_grad"): rng.standard_normal((4, 3)),
                    ("fc", "activation"): rng.standard_normal((5, 4)),
                    ("relu", "activation[1]"): rng.standard_normal((5, 4)),
                },
                statistics={("fc", "weight_norm"): epoch, ("relu", "dead_fraction"): 0.25},
                metrics={"loss": 1 / epoch, "accuracy": epoch / 4},
            )
        )
    recording.append_steps(
        np.arange(1, 11), {("fc", "grad_norm"): np.linspace(0, 1, 10), ("fc", "lr"): np.ones(10)}
    )
    recording.append_steps(
        np.arange(11, 16),
        {("fc", "grad_norm"): [np.nan, np.inf, 3, 4, 5], ("relu", "dead"): np.zeros(5)},
    )
    return recording


def _assert_same(opened: Recording, original: Recording) -> None:
    assert opened.snapshots == original.snapshots
    np.testing.assert_array_equal(opened.snapshot_steps, original.snapshot_steps)
    assert opened.layers == original.layers
    for layer in (*original.layers, INPUT):
        assert opened.layer_info(layer) == original.layer_info(layer)
        assert opened.quantities(layer) == original.quantities(layer), "in the recorded order"
        assert opened.statistics(layer) == original.statistics(layer)
        for name in original.statistics(layer):
            np.testing.assert_array_equal(
                opened.statistic(layer, name), original.statistic(layer, name)
            )
        assert opened.step_statistics(layer) == original.step_statistics(layer)
        for name in original.step_statistics(layer):
            np.testing.assert_array_equal(
                opened.step_series(layer, name), original.step_series(layer, name)
            )
        for quantity in original.quantities(layer):
            assert opened.note(layer, quantity) == original.note(layer, quantity)
            for index in range(len(original)):
                reason = original.missing_reason(layer, quantity, index)
                assert opened.missing_reason(layer, quantity, index) == reason
                if reason is None:
                    frame = opened.frame(layer, quantity, index)
                    assert frame.dtype == np.float32
                    np.testing.assert_array_equal(frame, original.frame(layer, quantity, index))
                else:
                    with pytest.raises(FrameMissingError):
                        opened.frame(layer, quantity, index)
    assert opened.metric_names == original.metric_names
    for name in original.metric_names:
        np.testing.assert_array_equal(opened.metric(name), original.metric(name))
    np.testing.assert_array_equal(opened.steps, original.steps)
    assert opened.probe.keys() == original.probe.keys()
    for name, array in original.probe.items():
        assert opened.probe[name].dtype == array.dtype
        np.testing.assert_array_equal(opened.probe[name], array)
    assert opened.thinned == original.thinned
    assert opened.max_bytes == original.max_bytes


def test_round_trip_keeps_every_kind_of_content(tmp_path, rng):
    with pytest.warns(RecordingBudgetWarning):
        original = _full_recording(rng)
    assert original.thinned == (1, 2), "the fixture must exercise thinning"
    original.save(tmp_path / "run")
    opened = Recording.open(tmp_path / "run")
    _assert_same(opened, original)
    # the special values made it through, and the thinned snapshot explains itself the same way
    weight = opened.frame("fc", "weight", 0)
    assert np.isnan(weight[0, 0])
    assert weight[1, 1] == np.inf
    assert weight[2, 2] == -np.inf
    thinned = original.thinned[0]
    assert "memory budget" in opened.missing_reason("fc", "weight", thinned)


def test_opened_frames_stay_on_disk_until_asked_for(tmp_path, rng, monkeypatch):
    with pytest.warns(RecordingBudgetWarning):
        _full_recording(rng).save(tmp_path / "run")
    loads = []  # the .npz files opened (every file of a recording is opened through os.open)
    real_open = os.open

    def spying_open(path, *args, **kwargs):
        if str(path).endswith(".npz"):
            loads.append(Path(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)
    opened = Recording.open(tmp_path / "run")
    assert [p.name for p in loads] == ["probe.npz"], "opening must not read snapshot files"
    assert isinstance(opened._frames.get(("fc", "weight"), 3), StoredFrame)
    assert opened.nbytes == 0
    opened.frame("fc", "weight", 3)
    assert [p.name for p in loads[1:]] == ["000003.npz"], "one frame reads one file"


def test_saving_an_opened_recording_reads_its_frames(tmp_path, rng):
    with pytest.warns(RecordingBudgetWarning):
        original = _full_recording(rng)
    original.save(tmp_path / "a")
    Recording.open(tmp_path / "a").save(tmp_path / "b")
    _assert_same(Recording.open(tmp_path / "b"), original)


def test_files_are_plain_numpy_and_json(tmp_path, rng):
    with pytest.warns(RecordingBudgetWarning):
        _full_recording(rng).save(tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["format"] == "nnviz-recording"
    assert manifest["version"] == FORMAT_VERSION
    assert manifest["closed"] is True
    with np.load(tmp_path / "run" / "snapshots" / "000000.npz", allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        name = next(f[2] for f in meta["frames"] if f[:2] == ["fc", "weight"])
        assert archive[name].shape == (4, 3)
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    # standard JSON: NaN is written as the string "NaN", never as a bare NaN token
    assert all(json.loads(line, parse_constant=pytest.fail) for line in lines)


def test_layer_infos_come_back_as_json(tmp_path):
    writer = RecordingWriter(tmp_path / "run")
    writer.write_layers({"fc": {"shape": (4, np.int64(3)), "scale": np.float32(0.5), "x": None}})
    writer.close()
    info = Recording.open(tmp_path / "run").layer_info("fc")
    assert info == {"shape": [4, 3], "scale": 0.5, "x": None}


# ------------------------------------------------------------------------------ another process
_WRITER_SCRIPT = """
import sys, time
from pathlib import Path
import numpy as np
from nnviz_widgets.recording import SnapshotData
from nnviz_widgets.store import RecordingWriter

path, count, pause = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
writer = RecordingWriter(path)
writer.write_layers({"fc": {"type": "Linear"}})
for index in range(count):
    frame = np.full((64, 64), index, dtype=np.float32)
    writer.write_snapshot(
        index,
        SnapshotData(epoch=index, step=10 * index, frames={("fc", "weight"): frame},
                     metrics={"loss": 1.0 / (index + 1)}),
    )
    writer.write_steps(np.arange(10 * index, 10 * index + 10), {("fc", "grad_norm"): np.ones(10)})
    (path.parent / f"written-{index}").touch()
    time.sleep(pause)
writer.close()
"""


def _start_writer(tmp_path: Path, count: int, pause: float, script: str = _WRITER_SCRIPT):
    (tmp_path / "writer.py").write_text(textwrap.dedent(script))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            str(tmp_path / "writer.py"),
            str(tmp_path / "run"),
            str(count),
            str(pause),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_follow_sees_snapshots_another_process_is_writing(tmp_path):
    process = _start_writer(tmp_path, count=6, pause=0.4)
    try:
        _wait_for(lambda: (tmp_path / "written-0").exists(), what="the first snapshot")
        recording = Recording.open(tmp_path / "run", follow=True, poll_interval=0.05)
        seen = []
        recording.add_listener(lambda rec: seen.append(len(rec)))
        first = len(recording)
        assert 1 <= first < 6, "the writer must still be writing when we open"
        _wait_for(lambda: len(recording) == 6, what="the follower to see all 6 snapshots")
        assert process.wait(timeout=30) == 0, process.stdout.read().decode()
        assert max(seen) == 6, "listeners are called for snapshots picked up while following"
        for index in range(6):
            np.testing.assert_array_equal(
                recording.frame("fc", "weight", index), np.full((64, 64), index)
            )
        np.testing.assert_array_equal(recording.metric("loss"), 1 / np.arange(1, 7))
        _wait_for(lambda: recording.steps.size == 60, what="the last block of steps")
        np.testing.assert_array_equal(recording.steps, np.arange(60))
        # the writer closed the recording: the poller stops by itself
        _wait_for(lambda: not recording._source.following, what="the poller to stop")
        recording.close()
        recording.close()  # idempotent
    finally:
        process.kill()
        process.wait()


def test_refresh_picks_up_new_snapshots_and_ignores_a_half_written_log_line(tmp_path, rng):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_snapshot(0, _snapshot(rng, 0, 0))
    recording = Recording.open(tmp_path / "run")
    assert recording.refresh() == 0
    writer.write_snapshot(1, _snapshot(rng, 1, 5))
    log = tmp_path / "run" / "log.jsonl"
    whole = log.read_bytes()
    last = whole[whole.rstrip(b"\n").rfind(b"\n") + 1 :]
    # as a reader racing the writer would see it: the last line only half there
    log.write_bytes(whole[: -len(last) // 2])
    assert Recording.open(tmp_path / "run").snapshots == (0.0,)
    assert recording.refresh() == 0
    log.write_bytes(whole)
    assert recording.refresh() == 1
    assert recording.snapshots == (0.0, 1.0)
    writer.close()


def test_new_layers_declared_while_following_are_picked_up(tmp_path, rng):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_snapshot(0, _snapshot(rng, 0, 0))
    recording = Recording.open(tmp_path / "run")
    writer.write_layers({"head": {"type": "Linear"}})
    writer.write_snapshot(
        1, SnapshotData(epoch=1, step=1, frames={("head", "weight"): np.ones((2, 2))})
    )
    assert recording.refresh() == 1
    assert recording.layers == ("fc", "head")
    np.testing.assert_array_equal(recording.frame("head", "weight", 1), np.ones((2, 2)))


# ------------------------------------------------------------------------------ crash safety
_CRASHING_SCRIPT = """
import sys, time
from pathlib import Path
import numpy as np
import numpy.lib.format
from nnviz_widgets.recording import SnapshotData
from nnviz_widgets.store import RecordingWriter

path = Path(sys.argv[1])
writer = RecordingWriter(path)
writer.write_layers({"fc": {"type": "Linear"}})
for index in range(3):
    frames = {("fc", "weight"): np.full((8, 8), index, np.float32)}
    writer.write_snapshot(index, SnapshotData(epoch=index, step=index, frames=frames))

real_write_array = numpy.lib.format.write_array
def stalled_write_array(file, array, *args, **kwargs):
    # write half the array, then hang as if the machine stopped here
    file.write(array.tobytes()[: array.nbytes // 2])
    file.flush()
    (path.parent / "stalled").touch()
    time.sleep(600)
numpy.lib.format.write_array = stalled_write_array
frames = {("fc", "weight"): np.full((512, 512), 3, np.float32)}
writer.write_snapshot(3, SnapshotData(epoch=3, step=3, frames=frames))
"""


@pytest.mark.slow
def test_a_writer_killed_mid_snapshot_leaves_earlier_snapshots_intact(tmp_path):
    process = _start_writer(tmp_path, 0, 0, script=_CRASHING_SCRIPT)
    try:
        _wait_for(
            lambda: (tmp_path / "stalled").exists() or process.poll() is not None,
            what="the writer to stall mid-write",
        )
        assert process.poll() is None, process.stdout.read().decode()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
    partial = tmp_path / "run" / "snapshots" / "000003.npz.tmp"
    assert partial.exists(), "the crash happened mid-write"
    assert partial.stat().st_size > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the half file was never committed
        recording = Recording.open(tmp_path / "run")
    assert recording.snapshots == (0.0, 1.0, 2.0)
    for index in range(3):
        np.testing.assert_array_equal(
            recording.frame("fc", "weight", index), np.full((8, 8), index)
        )


@pytest.fixture
def three_snapshots(tmp_path, rng) -> tuple[Path, list[SnapshotData]]:
    data = [_snapshot(rng, epoch, 10 * epoch) for epoch in range(3)]
    with _writer_with_layers(tmp_path / "run") as writer:
        for index, snapshot in enumerate(data):
            writer.write_snapshot(index, snapshot)
    return tmp_path / "run", data


def test_a_truncated_snapshot_file_is_reported_by_name_and_others_open(three_snapshots):
    path, data = three_snapshots
    damaged = path / "snapshots" / "000001.npz"
    damaged.write_bytes(damaged.read_bytes()[:200])
    # opening reads nothing of a snapshot: its file is checked when it is first asked about
    recording = Recording.open(path)
    assert len(recording) == 3
    with (
        pytest.warns(RecordingStoreWarning, match=r"000001\.npz"),
        pytest.raises(FrameMissingError, match=r"000001\.npz"),
    ):
        recording.frame("fc", "weight", 1)
    assert "000001.npz" in recording.missing_reason("fc", "activation", 1)
    for index in (0, 2):
        np.testing.assert_array_equal(
            recording.frame("fc", "weight", index), data[index].frames[("fc", "weight")]
        )
    np.testing.assert_array_equal(recording.metric("loss"), [1, 1 / 2, 1 / 3])


def test_a_corrupted_snapshot_file_is_reported_by_name_when_read(three_snapshots):
    path, data = three_snapshots
    damaged = path / "snapshots" / "000002.npz"
    content = bytearray(damaged.read_bytes())
    with np.load(damaged) as archive:
        offset = content.find(archive["f0"].tobytes())
    assert offset > 0
    content[offset + 5] ^= 0xFF  # same size, one byte of a frame flipped
    damaged.write_bytes(bytes(content))
    recording = Recording.open(path)  # the size is right: damage shows when read
    with pytest.raises(FrameMissingError, match=r"000002\.npz.*CRC"):
        recording.frame("fc", "weight", 2)
    np.testing.assert_array_equal(
        recording.frame("fc", "activation", 2), data[2].frames[("fc", "activation")]
    )
    np.testing.assert_array_equal(
        recording.frame("fc", "weight", 0), data[0].frames[("fc", "weight")]
    )


def test_a_missing_snapshot_file_is_reported_by_name(three_snapshots):
    path, _ = three_snapshots
    (path / "snapshots" / "000000.npz").unlink()
    recording = Recording.open(path)
    with (
        pytest.warns(RecordingStoreWarning, match=r"000000\.npz is missing"),
        pytest.raises(FrameMissingError, match=r"000000\.npz"),
    ):
        recording.frame("fc", "weight", 0)
    recording.frame("fc", "weight", 1)


def test_a_damaged_log_line_is_skipped_with_a_warning(three_snapshots):
    path, _ = three_snapshots
    log = path / "log.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + b'{"kind": "snapsh\n' + b"".join(lines[1:]))
    with pytest.warns(RecordingStoreWarning, match="damaged"):
        recording = Recording.open(path)
    assert recording.snapshots == (0.0, 1.0, 2.0)


# ------------------------------------------------------------------------------ refusals
def _edit_manifest(path: Path, **changes) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("escape", ["../outside.jsonl", "/etc/passwd", "snapshots/../../x"])
def test_a_manifest_path_outside_the_directory_is_refused(three_snapshots, escape):
    path, _ = three_snapshots
    _edit_manifest(path, log=escape)
    with pytest.raises(RecordingFormatError, match="outside the recording directory"):
        Recording.open(path)


def test_a_symbolic_link_out_of_the_directory_is_refused(three_snapshots, tmp_path):
    path, _ = three_snapshots
    (tmp_path / "secret.bin").write_bytes(b"secret")
    (path / "link.bin").symlink_to(tmp_path / "secret.bin")
    _edit_manifest(path, steps="link.bin")
    with pytest.raises(RecordingFormatError, match="symbolic link"):
        Recording.open(path)


def test_a_log_record_naming_a_file_outside_is_refused(three_snapshots):
    path, _ = three_snapshots
    log = path / "log.jsonl"
    record = json.loads(log.read_text().splitlines()[0])
    record["file"] = "../../elsewhere.npz"
    with log.open("a") as file:
        file.write(json.dumps(record) + "\n")
    with pytest.raises(RecordingFormatError, match=r"'\.\./\.\./elsewhere\.npz'.*outside"):
        Recording.open(path)


def test_an_unknown_format_version_names_found_and_supported(three_snapshots):
    path, _ = three_snapshots
    _edit_manifest(path, version=99)
    with pytest.raises(RecordingFormatError, match=r"version 99.*version\(s\) 1\b"):
        Recording.open(path)


def test_not_a_recording(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json"):
        Recording.open(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(RecordingFormatError, match="something-else"):
        Recording.open(tmp_path)


def test_an_unwritable_path_is_an_error_at_construction(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(RecordingWriteError, match="a-file") as caught:
        RecordingWriter(tmp_path / "a-file" / "run")
    assert isinstance(caught.value, OSError)
    assert caught.value.filename == str(tmp_path / "a-file" / "run")


def test_a_directory_with_other_content_is_refused(tmp_path, rng):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RecordingWriteError, match=r"not empty.*notes\.txt"):
        RecordingWriter(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_existing_recording_is_replaced_only_when_asked(three_snapshots, rng):
    path, _ = three_snapshots
    with pytest.raises(RecordingWriteError, match=r"already holds a recording.*overwrite=True"):
        RecordingWriter(path)
    with _writer_with_layers(path, overwrite=True) as writer:
        writer.write_snapshot(0, _snapshot(rng, 7, 70))
    assert Recording.open(path).snapshots == (7.0,)
    assert sorted(p.name for p in (path / "snapshots").iterdir()) == ["000000.npz"]


def test_a_failed_snapshot_write_is_a_catchable_error_and_commits_nothing(
    tmp_path, rng, monkeypatch
):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_snapshot(0, _snapshot(rng, 0, 0))

    def full_disk(file, *args, **kwargs):
        file.write(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(np, "savez", full_disk)
        with pytest.raises(OSError, match=r"000001\.npz.*No space left") as caught:
            writer.write_snapshot(1, _snapshot(rng, 1, 10))
    assert isinstance(caught.value, RecordingWriteError)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename.endswith("000001.npz")
    assert not list((tmp_path / "run" / "snapshots").glob("*.tmp")), "the temp file is removed"
    assert Recording.open(tmp_path / "run").snapshots == (0.0,)
    # space is back: the next snapshot is written, and readers learn that one was lost
    writer.write_snapshot(2, _snapshot(rng, 2, 20))
    writer.close()
    with pytest.warns(RecordingStoreWarning, match=r"snapshot\(s\) 1 of the run were never"):
        assert Recording.open(tmp_path / "run").snapshots == (0.0, 2.0)


def test_a_failed_log_write_leaves_no_torn_line(tmp_path, rng, monkeypatch):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_snapshot(0, _snapshot(rng, 0, 0))
    real_write = os.write

    def half_then_full(fd, data):
        if fd == writer._log_fd:
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", half_then_full)
        with pytest.raises(RecordingWriteError, match=r"log\.jsonl"):
            writer.write_snapshot(1, _snapshot(rng, 1, 10))
    writer.write_snapshot(2, _snapshot(rng, 2, 20))
    writer.close()
    with pytest.warns(RecordingStoreWarning, match="never written"):
        recording = Recording.open(tmp_path / "run")
    assert recording.snapshots == (0.0, 2.0)


def test_a_failed_steps_write_is_overwritten_by_the_next(tmp_path, monkeypatch):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_steps([0, 1], {("fc", "grad_norm"): [1.0, 2.0]})
    real_write_at = writer_module.write_at

    def partial(path, data, offset, *, sync):
        real_write_at(path, data[:5], offset, sync=sync)
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(writer_module, "write_at", partial)
        with pytest.raises(RecordingWriteError, match=r"steps\.bin"):
            writer.write_steps([2, 3], {("fc", "grad_norm"): [9.0, 9.0]})
    writer.write_steps([4], {("fc", "grad_norm"): [5.0], ("fc", "lr"): [0.1]})
    writer.close()
    recording = Recording.open(tmp_path / "run")
    np.testing.assert_array_equal(recording.steps, [0, 1, 4])
    np.testing.assert_array_equal(recording.step_series("fc", "grad_norm"), [1, 2, 5])
    np.testing.assert_array_equal(recording.step_series("fc", "lr"), [np.nan, np.nan, 0.1])


def test_writer_refuses_mistakes_in_words(tmp_path, rng):
    writer = _writer_with_layers(tmp_path / "run")
    with pytest.raises(ValueError, match="'conv' was not declared"):
        writer.write_snapshot(0, SnapshotData(0, 0, frames={("conv", "weight"): np.ones(2)}))
    writer.write_snapshot(0, _snapshot(rng, 0, 0))
    with pytest.raises(ValueError, match="snapshot 0 was already written"):
        writer.write_snapshot(0, _snapshot(rng, 0, 0))
    with pytest.raises(ValueError, match="3 values for 2 steps"):
        writer.write_steps([0, 1], {("fc", "grad_norm"): [1, 2, 3]})
    with pytest.raises(ValueError, match="Python objects"):
        writer.write_probe(np.array([object()]))
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="is closed"):
        writer.write_snapshot(1, _snapshot(rng, 1, 1))


def test_a_recording_in_memory_has_nothing_to_refresh(rng):
    recording = Recording()
    assert recording.refresh() == 0
    recording.close()


def test_the_benchmark_reports_both_measurements():
    from benchmarks.bench_store import run

    section = run(repeats=1, megabytes=(0.1,), counts=(2, 5))
    assert section.startswith("## Recording on disk")
    assert "| 0.1 MiB |" in section
    assert "| 2 |" in section
    assert "| 5 |" in section


def test_close_stops_following(tmp_path, rng):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_snapshot(0, _snapshot(rng, 0, 0))
    recording = Recording.open(tmp_path / "run", follow=True, poll_interval=0.02)
    writer.write_snapshot(1, _snapshot(rng, 1, 1))
    _wait_for(lambda: len(recording) == 2, what="the poller to pick up snapshot 1")
    recording.close()
    assert not recording._source.following
    writer.write_snapshot(2, _snapshot(rng, 2, 2))
    time.sleep(0.1)
    assert len(recording) == 2, "nothing is picked up after close()"
    assert recording.refresh() == 1, "refresh() by hand still works"
    writer.close()


def test_a_directory_removed_under_the_writer_is_a_catchable_error(tmp_path, rng):
    writer = _writer_with_layers(tmp_path / "run")
    writer.write_snapshot(0, _snapshot(rng, 0, 0))
    shutil.rmtree(tmp_path / "run")  # a real failure, as when a scratch file system goes away
    with pytest.raises(OSError, match=r"000001\.npz") as caught:
        writer.write_snapshot(1, _snapshot(rng, 1, 1))
    assert isinstance(caught.value, RecordingWriteError)
    with pytest.raises(RecordingWriteError, match=r"steps\.bin"):
        writer.write_steps([0], {("fc", "grad_norm"): [1.0]})
    with pytest.raises(RecordingWriteError, match=r"manifest\.json"):
        writer.close()


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"layers": [{"info": {}}]}, "'layers' must be a list"),
        ({"layers": "fc"}, "'layers' must be a list"),
        ({"probe": "probe.npz"}, "'probe' must be null"),
        ({"log": None}, "must be a relative path"),
    ],
)
def test_a_malformed_manifest_is_refused_in_words(three_snapshots, changes, complaint):
    path, _ = three_snapshots
    _edit_manifest(path, **changes)
    with pytest.raises(RecordingFormatError, match=complaint):
        Recording.open(path)


def test_poll_interval_must_be_positive(three_snapshots):
    path, _ = three_snapshots
    with pytest.raises(ValueError, match="poll_interval"):
        Recording.open(path, follow=True, poll_interval=0)
