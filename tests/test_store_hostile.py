"""A recording from a stranger, one bad record, two runs mixed: what each costs (issue 13).

- A file that could take the machine's memory or hang it is refused before it is read, naming
  it: a compressed member, a header declaring more than the file holds, a FIFO, a directory or
  a link out of the directory in place of a file (``store/archive.py``, ``format.open_regular``).
- One bad value in one record costs that record, with a warning naming the file and the line;
  a bad manifest is the store's documented error naming it (``store/fields.py``).
- A directory another run replaced is never read as the run that was opened: a follower
  stops and says so, a writer stops writing (the run id, ``store/manifest.py``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import signal
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from nnviz_widgets.recording import FrameMissingError, Recording, SnapshotData
from nnviz_widgets.store import (
    RecordingFormatError,
    RecordingStoreWarning,
    RecordingWriteError,
    RecordingWriter,
)
from nnviz_widgets.store.archive import parse_header


class Hung(Exception):
    """Raised by :func:`no_hang`; not an OSError, so that no reader's handler takes it."""


@contextlib.contextmanager
def no_hang(seconds: int = 10):
    """A backstop only: what it guards must return at once; a hang fails the test instead of
    blocking the suite."""

    def hung(*_):
        raise Hung(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_peak(limit: int):
    """Fail if Python's allocations (numpy's included) peak past ``limit`` bytes inside."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < limit, f"{peak / 2**20:.1f} MiB allocated, at most {limit / 2**20:.1f} expected"


def _snapshot(index: int, metric: str = "loss", shape=(4, 3)) -> SnapshotData:
    return SnapshotData(
        epoch=float(index),
        step=10 * index,
        frames={("fc", "weight"): np.full(shape, index, np.float32)},
        statistics={("fc", "weight_norm"): float(index)},
        metrics={metric: 1.0 / (index + 1)},
    )


def _write(
    path: Path, count: int = 3, *, index: bool = True, overwrite: bool = False, **options
) -> Path:
    with RecordingWriter(path, sync=False, overwrite=overwrite) as writer:
        writer.write_layers({"fc": {"type": "Linear"}})
        writer.write_probe(np.ones((2, 3), np.float32), np.array([0, 1]))
        for number in range(count):
            writer.write_snapshot(number, _snapshot(number, **options))
    if not index:
        (path / "index.bin").unlink()
    return path


def _readable(recording: Recording, index: int) -> bool:
    try:
        frame = recording.frame("fc", "weight", index)
    except FrameMissingError:
        return False
    return bool((frame == recording.snapshots[index]).all())


# ------------------------------------------------------------------------ a stranger's files
def test_a_compressed_member_is_refused_before_it_expands(tmp_path, monkeypatch):
    """16 MiB of zeros deflate to some KiB: the frame, its block and the probe are refused."""
    path = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(np, "savez", np.savez_compressed)  # what a stranger's writer might do
        _write(path, count=1, shape=(2048, 2048))
    assert (path / "snapshots" / "000000.npz").stat().st_size < 1 << 20
    with pytest.warns(RecordingStoreWarning, match=r"probe\.npz.*compressed"):
        recording = Recording.open(path)
    assert recording.probe == {}, "the recording opens without its probe"
    with memory_peak(4 << 20):
        with pytest.raises(FrameMissingError, match=r"000000\.npz.*'f0'.*compressed"):
            recording.frame("fc", "weight", 0)
        with pytest.raises(FrameMissingError, match=r"000000\.npz.*compressed"):
            recording.exact("fc", "weight", 0, (slice(0, 2), slice(0, 2)))


def _declare_shape(file: Path, member: str, shape: str) -> None:
    """Make ``member``'s ``.npy`` header declare ``shape``, the file's size unchanged (the
    header's padding absorbs the difference), as a hostile file would."""
    content = bytearray(file.read_bytes())
    start = content.index(b"{'descr'", content.index(f"{member}.npy".encode()))
    end = content.index(b"\n", start)
    header = content[start:end].decode("latin1")
    changed = re.sub(r"'shape': \([^)]*\)", f"'shape': {shape}", header.rstrip())
    assert len(changed) <= end - start
    content[start:end] = changed.ljust(end - start).encode("latin1")
    file.write_bytes(bytes(content))


def test_a_header_declaring_32_gib_is_a_clear_error_not_a_memory_error(tmp_path):
    path = _write(tmp_path / "run")
    _declare_shape(path / "snapshots" / "000001.npz", "f0", "(8589934592,)")  # 32 GiB
    _declare_shape(path / "probe.npz", "input", "(8589934592,)")
    with memory_peak(8 << 20):
        with pytest.warns(RecordingStoreWarning, match=r"probe\.npz.*'input'.*declares"):
            recording = Recording.open(path)
        with pytest.raises(FrameMissingError, match=r"000001\.npz.*'f0'.*declares 34359738368"):
            recording.frame("fc", "weight", 1)
    assert recording.probe == {}
    assert _readable(recording, 0) and _readable(recording, 2), "the rest stays readable"


@pytest.mark.parametrize("index", [True, False])
def test_fifos_in_place_of_files_are_refused_without_blocking(tmp_path, index):
    path = _write(tmp_path / "run", index=index)
    for name in ("probe.npz", "snapshots/000001.npz", "scalars.bin", "index.bin"):
        if (path / name).exists():
            (path / name).unlink()
            os.mkfifo(path / name)
    with no_hang(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording = Recording.open(path)
        assert recording.probe == {}
        with pytest.raises(FrameMissingError, match=r"000001\.npz"):
            recording.frame("fc", "weight", 1)
        assert _readable(recording, 0) and _readable(recording, 2)
        np.testing.assert_array_equal(recording.metric("loss"), [1, 1 / 2, 1 / 3])
    said = " ".join(str(w.message) for w in caught)
    assert "probe.npz is a FIFO" in said
    assert "000001.npz is not a regular file" in said
    # the log is what the recording is: a FIFO there refuses it, in words
    (path / "log.jsonl").unlink()
    os.mkfifo(path / "log.jsonl")
    with no_hang(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the probe's, said above
        with pytest.raises(RecordingFormatError, match=r"log\.jsonl is a FIFO"):
            Recording.open(path)


def test_a_directory_in_place_of_the_scalars_reads_as_nan(tmp_path):
    path = _write(tmp_path / "run")
    (path / "scalars.bin").unlink()
    (path / "scalars.bin").mkdir()
    recording = Recording.open(path)
    with pytest.warns(RecordingStoreWarning, match=r"scalars\.bin is a directory"):
        assert np.isnan(recording.metric("loss")).all()
    assert _readable(recording, 1), "frames do not need the scalars"


def test_a_manifest_linked_from_outside_is_refused(tmp_path):
    path = _write(tmp_path / "run")
    (tmp_path / "elsewhere.json").write_bytes((path / "manifest.json").read_bytes())
    (path / "manifest.json").unlink()
    (path / "manifest.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(RecordingFormatError, match=r"manifest\.json.*symbolic link outside"):
        Recording.open(path)
    # a link that stays inside is followed, as for every other file
    (path / "manifest.json").unlink()
    (tmp_path / "elsewhere.json").rename(path / "copy.json")
    (path / "manifest.json").symlink_to(path / "copy.json")
    assert len(Recording.open(path)) == 3


def test_a_path_no_file_could_have_is_refused(tmp_path):
    path = _write(tmp_path / "run")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "log": "a" * 5000}))
    with pytest.raises(RecordingFormatError, match=r"the log .*aaaa cannot be looked at"):
        Recording.open(path)
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "log.jsonl").unlink()
    (path / "log.jsonl").symlink_to(path / "log.jsonl")  # a loop
    with pytest.raises(RecordingFormatError, match=r"log\.jsonl cannot be looked at"):
        Recording.open(path)


def test_a_directory_in_place_of_the_manifest_is_refused(tmp_path):
    path = _write(tmp_path / "run")
    (path / "manifest.json").unlink()
    (path / "manifest.json").mkdir()
    with pytest.raises(RecordingFormatError, match=r"manifest\.json is a directory"):
        Recording.open(path)


# ------------------------------------------------------------------------ one bad record
def _edit_record(path: Path, number: int, change) -> None:
    """Apply ``change(record)`` to line ``number`` (from 0) of the log, as raw text."""
    log = path / "log.jsonl"
    lines = log.read_bytes().split(b"\n")
    lines[number] = change(json.loads(lines[number])).encode()
    log.write_bytes(b"\n".join(lines))


def _replace(field: str, raw: str):
    """A change writing ``raw`` (JSON text, possibly what json.dumps cannot write) as the
    value of ``field``."""

    def change(record: dict) -> str:
        record[field] = "@@"
        return json.dumps(record).replace('"@@"', raw)

    return change


def _frame(position: int, raw: str):
    def change(record: dict) -> str:
        record["frames"][0][position] = "@@"
        return json.dumps(record).replace('"@@"', raw)

    return change


BAD_RECORDS = {
    "a huge step": _replace("step", "1" + "0" * 30),
    "a step past float": _replace("step", "1e400"),
    "an epoch past float": _replace("epoch", "1" + "0" * 400),
    "a string for the frames": _replace("frames", '"fc"'),
    "an undeclared layer": _frame(0, '"conv9"'),
    "a negative size": _frame(3, "[-4, 3]"),
    "a huge shape": _frame(3, "[1000000000000, 1000000000000]"),
    "deep nesting": _replace("metrics", '{"loss": ' + "[" * 5000 + "]" * 5000 + "}"),
    "a metric of the wrong type": _replace("metrics", '{"loss": {"a": 1}}'),
    "a huge place in the run": _replace("index", "1" + "0" * 30),
    "a number for the file": _replace("file", "5"),
    "text for the size": _replace("bytes", '"many"'),
    "huge lost snapshots": _replace("lost", "[1" + "0" * 30 + "]"),
}


@pytest.mark.parametrize("index", [True, False], ids=["with index", "without index"])
@pytest.mark.parametrize("bad", list(BAD_RECORDS))
def test_one_bad_record_costs_that_record(tmp_path, bad, index):
    path = _write(tmp_path / "run", index=index)
    _edit_record(path, 1, BAD_RECORDS[bad])  # the second snapshot's line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording = Recording.open(path)
        readable = [_readable(recording, i) for i in range(len(recording))]
    said = [str(w.message) for w in caught]
    assert all(issubclass(w.category, RecordingStoreWarning) for w in caught)
    by_epoch = dict(zip(recording.snapshots, readable))
    assert by_epoch.get(0.0) and by_epoch.get(2.0), f"the other snapshots stay: {by_epoch}"
    if not by_epoch.get(1.0):  # the bad record is skipped, or its frames missing: said so
        named = [m for m in said if re.search(r"line 2\b.*log\.jsonl|log\.jsonl, line 2\b", m)]
        assert named, said


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b'{"format": "nnviz-recording", "version": 1, "x": "\xff"}', "not valid UTF-8"),
        (b'{"format": "nnviz-recording",', "not valid UTF-8 JSON"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
        ({"max_bytes": "lots"}, "'max_bytes' must be"),
        ({"max_bytes": 10**400}, "'max_bytes' must be"),
        ({"version": True}, "format version True"),
        ({"closed": []}, "'closed' must be"),
        ({"probe": {"file": "probe.npz", "arrays": [["input"]]}}, "'probe' must be"),
        ({"layers": [{"name": "fc", "info": {"a": json.loads("[" * 500 + "]" * 500)}}]}, "nests"),
    ],
)
def test_a_bad_manifest_is_the_documented_error_naming_it(tmp_path, content, complaint):
    path = _write(tmp_path / "run")
    if isinstance(content, dict):
        manifest = json.loads((path / "manifest.json").read_text())
        manifest.update(content)
        content = json.dumps(manifest).encode()
    (path / "manifest.json").write_bytes(content)
    with pytest.raises(RecordingFormatError, match=rf"manifest\.json.*{re.escape(complaint)}"):
        Recording.open(path)


@pytest.mark.parametrize("index", [True, False], ids=["with index", "without index"])
def test_names_with_line_separators_round_trip(tmp_path, index):
    """U+2028, U+2029 and \\x85 are line breaks to str.splitlines: the writer escapes them and
    the reader splits at b"\\n" only, so names survive, and an unrelated damaged line costs
    only itself."""
    path = tmp_path / "run"
    with RecordingWriter(path, sync=False) as writer:
        writer.write_layers({"fc\x85": {"type": "Linear\u2029"}})
        for number in range(3):
            writer.write_snapshot(
                number,
                SnapshotData(
                    epoch=number,
                    step=number,
                    frames={("fc\x85", "weight\u2028"): np.full((2, 2), number, np.float32)},
                    metrics={"val\u2028loss": 0.5},
                ),
            )
    text = (path / "log.jsonl").read_bytes().decode()
    assert text.splitlines() == text.split("\n")[:-1], "no line break but the newline"
    if not index:
        (path / "index.bin").unlink()
    with (path / "log.jsonl").open("ab") as log:
        log.write(b'{"kind": "snapsh\n')  # an unrelated damaged line
    with pytest.warns(RecordingStoreWarning, match="line 4 of .*damaged"):
        recording = Recording.open(path)
    assert recording.metric_names == ("val\u2028loss",)
    assert recording.layers == ("fc\x85",)
    assert recording.layer_info("fc\x85") == {"type": "Linear\u2029"}
    for number in range(3):
        np.testing.assert_array_equal(recording.frame("fc\x85", "weight\u2028", number), number)


def test_a_deleted_log_with_snapshot_files_says_so(tmp_path):
    path = _write(tmp_path / "run")
    (path / "log.jsonl").unlink()
    with pytest.warns(RecordingStoreWarning, match=r"log\.jsonl is missing.*3 snapshot file"):
        assert len(Recording.open(path)) == 0


# ------------------------------------------------------------------------ two runs mixed
def test_a_reader_of_a_replaced_directory_stops_and_keeps_its_run(tmp_path):
    path = _write(tmp_path / "run", count=3)
    first = Recording.open(path)
    assert first.snapshots == (0.0, 1.0, 2.0)
    assert _readable(first, 1)  # its record read, its file seen
    with RecordingWriter(path, overwrite=True, sync=False) as second:  # another run
        second.write_layers({"fc": {"type": "Linear"}})
        for number in range(5):
            second.write_snapshot(number, _snapshot(10 + number))
    with pytest.warns(RecordingStoreWarning, match=rf"{re.escape(str(path))} was replaced"):
        assert first.refresh() == 0
    assert first.refresh() == 0, "it stays stopped"
    assert first.snapshots == (0.0, 1.0, 2.0), "never run 2's snapshots under run 1's labels"
    # run 1's files are gone: its frames say so rather than show run 2's
    with (
        pytest.warns(RecordingStoreWarning, match="record of another run"),
        pytest.raises(FrameMissingError, match="another run"),
    ):
        first.frame("fc", "weight", 0)
    with pytest.raises(FrameMissingError, match=r"000001\.npz.*changed since"):
        first.frame("fc", "weight", 1)
    assert Recording.open(path).snapshots == (10.0, 11.0, 12.0, 13.0, 14.0)


def test_a_follower_of_a_replaced_directory_stops_following(tmp_path):
    path = tmp_path / "run"
    writer = RecordingWriter(path, sync=False)
    writer.write_layers({"fc": {"type": "Linear"}})
    writer.write_snapshot(0, _snapshot(0))
    follower = Recording.open(path, follow=True, poll_interval=0.01)
    seen = []
    follower.add_listener(lambda recording: seen.append(recording.snapshots[-1]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _write(path, count=8, overwrite=True)  # run 2 replaces the directory
        deadline = time.monotonic() + 30  # a backstop: the follower looks every 10 ms
        while follower._source.following and time.monotonic() < deadline:
            time.sleep(0.01)
    assert not follower._source.following, "the follower stopped by itself"
    assert follower.snapshots == (0.0,), "none of run 2's snapshots"
    assert seen == []
    assert any("was replaced" in str(w.message) for w in caught)
    follower.close()


def test_a_writer_whose_directory_was_taken_over_stops(tmp_path):
    path = tmp_path / "run"
    first = RecordingWriter(path, sync=False)
    first.write_layers({"fc": {"type": "Linear"}})
    first.write_snapshot(0, _snapshot(0))
    first.write_snapshot(1, _snapshot(1))
    second = RecordingWriter(path, overwrite=True, sync=False)
    second.write_layers({"fc": {"type": "Linear"}})
    second.write_snapshot(0, _snapshot(7))
    with pytest.raises(RecordingWriteError, match=r"000002\.npz.*no longer this writer's"):
        first.write_snapshot(2, _snapshot(2))
    with pytest.raises(RecordingWriteError, match=r"no longer this writer's"):
        first.write_steps([1], {("fc", "grad_norm"): [1.0]})
    with pytest.raises(RecordingWriteError, match=r"manifest\.json.*no longer"):
        first.close()
    assert not (path / "snapshots" / "000002.npz").exists(), "nothing of run 1 written"
    second.write_snapshot(1, _snapshot(8))
    second.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recording = Recording.open(path)
    assert recording.snapshots == (7.0, 8.0)
    assert recording.steps.size == 0
    assert json.loads((path / "manifest.json").read_text())["closed"] is True


def test_the_writers_frames_are_never_another_runs(tmp_path):
    path = tmp_path / "run"
    first = RecordingWriter(path, sync=False)
    first.write_layers({"fc": {"type": "Linear"}})
    stored = first.write_snapshot(0, _snapshot(0))
    np.testing.assert_array_equal(stored.frames[("fc", "weight")].load(), 0)
    _write(path, count=1, overwrite=True)
    with pytest.raises(FrameMissingError, match="changed since"):
        stored.frames[("fc", "weight")].load()


def test_the_run_id_is_in_the_manifest_and_old_recordings_open(tmp_path):
    path = _write(tmp_path / "run")
    manifest = json.loads((path / "manifest.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{32}", manifest["run"])
    assert manifest["version"] == 1, "readers of version 1 ignore the new field"
    assert (
        _write(tmp_path / "other").joinpath("manifest.json").read_text()
        != (path / "manifest.json").read_text()
    )
    old = Path(__file__).parent / "data" / "recording-without-index"
    assert "run" not in json.loads((old / "manifest.json").read_text())
    with pytest.warns(RecordingStoreWarning, match="never written"):
        assert len(Recording.open(old)) == 3


# ------------------------------------------------------------------------ .npy headers
def _header_text(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    raw = buffer.getvalue()
    width = 2 if raw[6] == 1 else 4
    length = int.from_bytes(raw[8 : 8 + width], "little")
    return raw[8 + width : 8 + width + length].decode("latin1")


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((3, 4), np.float32),
        np.zeros(5, ">i8"),
        np.zeros((), np.bool_),
        np.asfortranarray(np.zeros((2, 3), np.float16)),
        np.zeros((0, 7), np.uint8),
    ],
)
def test_headers_numpy_writes_are_read_as_numpy_reads_them(array):
    header = np.lib.format.read_array_header_1_0(io.BytesIO(_header_bytes(array)))
    assert parse_header(_header_text(array)) == (header[0], header[1], header[2])


def _header_bytes(array: np.ndarray) -> bytes:
    text = _header_text(array).encode("latin1")
    return len(text).to_bytes(2, "little") + text


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("__import__('os').system('true')", "not a dict"),
        ("{'descr': '<f4', 'fortran_order': False}", r"lacks \['shape'\]"),
        ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", "unexpected"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", "unexpected"),
        ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", "unexpected"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", "unexpected"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4)}", "unexpected"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': ((3,),)}", "unexpected"),
        ("{'descr': 'no such type', 'fortran_order': False, 'shape': (3,)}", "names no type"),
    ],
)
def test_a_header_that_is_not_what_numpy_writes_is_refused_in_words(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_header(text)


def test_headers_are_read_without_pythons_parser(tmp_path, monkeypatch):
    """Python's ``ast`` keeps its parser state per process in CPython 3.11: readers in two
    threads at once could fail with "AST constructor recursion depth mismatch" (a follower and
    the explorer's prefetcher do read at once). The reader must not need it."""
    path = _write(tmp_path / "run")

    def refused(*args, **kwargs):
        raise AssertionError("a recording's reader called Python's parser")

    monkeypatch.setattr(ast, "parse", refused)
    monkeypatch.setattr(ast, "literal_eval", refused)
    recording = Recording.open(path)
    assert _readable(recording, 2)
    assert recording.probe["input"].shape == (2, 3)
