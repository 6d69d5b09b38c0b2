"""The reader fuzzed: a few hundred seeded mutations of a small valid recording (issue 13).

Each case copies a valid recording (with an index, or without, as written before the index
existed), mutates it (bytes flipped, files truncated, fields of the manifest, a log line or an
index row replaced by huge, negative, nested or wrong-typed values, ``.npy`` headers changed,
members compressed, files swapped for links, FIFOs, directories or nothing), then opens it and
reads everything a view could ask for: every frame (whole, its shape, a block of it, its
histogram), every statistic, metric and step series, the probe, each snapshot whole, and a
refresh. Every outcome must be one of:

- ``Recording.open`` raises one of :data:`OPEN_ERRORS`, naming a file of the recording;
- reading a frame raises ``FrameMissingError`` naming the recording;
- warnings (``RecordingStoreWarning`` only), and the rest read.

Never another exception, never pickle (``pickle`` and ``numpy.load`` fail the case if called),
never a hang (each case runs under an alarm, and a watchdog ends the process past that),
never more than :data:`MEMORY` bytes allocated at once (tracemalloc, numpy's included).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import pickle
import random
import re
import shutil
import signal
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnviz_widgets.recording import INPUT, FrameMissingError, Recording, SnapshotData
from nnviz_widgets.store import RecordingFormatError, RecordingStoreWarning, RecordingWriter
from nnviz_widgets.store import index as index_module

#: What ``Recording.open`` may raise on a damaged or hostile directory (documented there).
OPEN_ERRORS = (RecordingFormatError, FileNotFoundError)
#: What reading a frame of an opened recording may raise (documented on ``Recording.frame``).
READ_ERRORS = (FrameMissingError,)
#: The most a case may allocate at once: the recording holds a few hundred KiB.
MEMORY = 64 << 20
#: Cases in all, half with an index, half without; seeded, so that a failure can be replayed.
CASES = 300
CHUNKS = 10
#: A case that runs longer has hung (each takes a few ms).
ALARM = 10


class Hung(Exception):
    """Raised by the alarm; not an OSError, so that no reader's handler takes it."""


# ------------------------------------------------------------------------ the valid recording
def _write_base(path: Path, *, index: bool) -> None:
    """Three snapshots: frames kept whole, a preview beside its tensor, histograms, a missing
    frame, notes, statistics and metrics (NaN among them), step series and a probe."""
    with RecordingWriter(path, sync=False) as writer:
        writer.write_layers({INPUT: {"type": "input"}, "fc": {"type": "Linear", "shape": [4, 3]}})
        writer.write_probe(np.arange(12, dtype=np.float32).reshape(2, 6), np.array([1, 0]))
        for number in range(3):
            grid = np.arange(12, dtype=np.float32).reshape(4, 3) + number
            data = SnapshotData(epoch=float(number), step=5 * number)
            data.frames = {
                ("fc", "weight"): grid,
                ("fc", "activation"): np.full((2, 3), number, np.float32),
                ("fc", "weight_grad"): None if number == 0 else grid / 10,
            }
            data.reduced = {("fc", "activation"): (4, 6)}
            data.full = {("fc", "activation"): np.full((4, 6), number, np.float32)}
            data.histograms = {("fc", "weight"): np.arange(64, dtype=np.float32)}
            if number == 0:
                data.missing = {("fc", "weight_grad"): "no optimizer step ran yet"}
                data.notes = {("fc", "activation"): "a preview"}
            data.statistics = {("fc", "weight_norm"): float(number), ("fc", "dead"): np.nan}
            data.metrics = {"loss": 1 / (1 + number)}
            writer.write_snapshot(number, data)
            writer.write_steps(
                np.arange(4) + 4 * number, {("fc", "grad_norm"): np.linspace(0, 1, 4) + number}
            )
    if not index:
        (path / "index.bin").unlink()
        (path / "scalars.bin").unlink()


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[bool, Path]:
    root = tmp_path_factory.mktemp("bases")
    found = {}
    for index in (True, False):
        found[index] = root / ("indexed" if index else "plain")
        _write_base(found[index], index=index)
    return found


# ------------------------------------------------------------------------ mutations
HOSTILE = [
    "1" + "0" * 30,
    "-1",
    "-" + "1" + "0" * 20,
    "1e400",
    "-1e400",
    "18446744073709551616",
    '"x"',
    "{}",
    "[]",
    "null",
    "true",
    "0.5",
    "[" * 3000 + "]" * 3000,
    '{"a": ' * 300 + "1" + "}" * 300,
    '"' + "a" * 5000 + '"',
    '"\\u2028"',
    '"../../outside"',
    '"/etc/passwd"',
    "[[1, 2], [3]]",
    '["fc", "weight", "f0", [4, 3]]',
]


def _files(root: Path) -> list[Path]:
    """The regular files of the recording (an earlier mutation may have made others)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _flip(rng: random.Random, root: Path) -> None:
    target = rng.choice(_files(root))
    data = bytearray(target.read_bytes())
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    target.write_bytes(bytes(data))


def _truncate(rng: random.Random, root: Path) -> None:
    target = rng.choice(_files(root))
    data = target.read_bytes()
    target.write_bytes(data[: rng.randrange(len(data) + 1)])


def _places(value, path=()):
    """Every place in parsed JSON, as a path of keys and indices."""
    yield path
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield from _places(child, (*path, key))


def _replace_in(text: str, rng: random.Random) -> str:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # an earlier mutation broke it: break it more
        return text[::-1]
    place = rng.choice(list(_places(document))[1:] or [()])
    if not place:
        return rng.choice(HOSTILE)
    parent = document
    for key in place[:-1]:
        parent = parent[key]
    parent[place[-1]] = "@@hostile@@"
    return json.dumps(document).replace('"@@hostile@@"', rng.choice(HOSTILE))


def _field(rng: random.Random, root: Path) -> None:
    """A field of the manifest or of one log line replaced by a hostile value."""
    target = root / ("manifest.json" if rng.random() < 0.3 else "log.jsonl")
    if target not in _files(root):  # an earlier mutation made it a link (to /dev/zero, say)
        raise OSError(f"{target} is no longer a regular file")
    if target.name == "manifest.json":
        target.write_text(_replace_in(target.read_text(), rng))
        return
    log = target
    lines = log.read_text().split("\n")
    number = rng.randrange(len(lines) - 1)
    lines[number] = _replace_in(lines[number], rng)
    log.write_text("\n".join(lines))


def _row(rng: random.Random, root: Path) -> None:
    """A field of an index row replaced, its check word made to match again: a row a stranger
    crafted."""
    path = root / "index.bin"
    if path not in _files(root) or path.stat().st_size < 64:
        return _flip(rng, root)
    content = bytearray(path.read_bytes())
    number = rng.randrange(len(content) // 64)
    row = np.frombuffer(content, dtype=index_module.ROW)[number : number + 1].copy()
    name = rng.choice([n for n in index_module.ROW.names if n != "check"])
    kind = row.dtype[name]
    if kind.kind == "f":
        row[name] = rng.choice([np.nan, np.inf, -1e308, 1e308])
    else:
        info = np.iinfo(kind)
        row[name] = rng.choice([info.max, info.min, info.max // 2, 0, 1, 7])
    row["check"] = index_module._checks(row.view("<u8").reshape(1, 8))
    content[number * 64 : (number + 1) * 64] = row.tobytes()
    path.write_bytes(bytes(content))


def _header(rng: random.Random, root: Path) -> None:
    """An ``.npy`` header made to declare another shape or dtype (the file's size kept), or
    the file rewritten with its members compressed."""
    archives = [path for path in _files(root) if path.suffix == ".npz"]
    if not archives:
        return _flip(rng, root)
    target = rng.choice(archives)
    if rng.random() < 0.3:
        with zipfile.ZipFile(target) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                if name.startswith(("f", "input")) and rng.random() < 0.5:
                    # what deflate makes small: the header says far more than the bytes held
                    data = data[:128] + bytes(rng.choice([1 << 20, 16 << 20]))
                archive.writestr(name, data)
        return None
    content = bytearray(target.read_bytes())
    starts = [m.start() for m in re.finditer(rb"\{'descr'", content)]
    if not starts:
        return _flip(rng, root)
    start = rng.choice(starts)
    end = content.index(b"\n", start)
    header = content[start:end].decode("latin1").rstrip()
    changes = [
        (r"'shape': \([^)]*\)", "'shape': (8589934592,)"),
        (r"'shape': \([^)]*\)", "'shape': (-3, 4)"),
        (r"'shape': \([^)]*\)", "'shape': ()"),
        (r"'descr': '[^']*'", "'descr': '|O'"),
        (r"'descr': '[^']*'", "'descr': '<c16'"),
        (r"'descr': '[^']*'", "'descr': [('a', '<f4')]"),
        (r"'fortran_order': \w+", "'fortran_order': True"),
    ]
    pattern, replacement = rng.choice(changes)
    changed = re.sub(pattern, replacement, header)
    if len(changed) <= end - start:
        content[start:end] = changed.ljust(end - start).encode("latin1")
        target.write_bytes(bytes(content))
    return None


def _swap(rng: random.Random, root: Path) -> None:
    """A file (or the snapshot folder) replaced by a link out, a link loop, a link to another
    file of the recording, a FIFO, a directory, or nothing."""
    targets = [*_files(root), root / "snapshots"]
    target = rng.choice(targets)
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    how = rng.choice(["outside", "loop", "inside", "fifo", "directory", "gone"])
    if how == "outside":
        target.symlink_to(rng.choice(["/etc/passwd", "/dev/zero", str(root.parent)]))
    elif how == "loop":
        target.symlink_to(target)
    elif how == "inside":
        target.symlink_to(rng.choice(_files(root) or [root / "manifest.json"]))
    elif how == "fifo":
        os.mkfifo(target)
    elif how == "directory":
        target.mkdir()


MUTATIONS = [_flip, _truncate, _field, _field, _row, _header, _swap]


def mutate(seed: int, base: Path, case: Path) -> list[str]:
    """Copy ``base`` to ``case`` and apply one to three mutations drawn with ``seed``; return
    their names."""
    shutil.copytree(base, case, symlinks=True)
    rng = random.Random(seed)
    done = []
    for mutation in rng.choices(MUTATIONS, k=rng.choice([1, 1, 1, 2, 3])):
        try:
            mutation(rng, case)
        except (OSError, ValueError, IndexError, zipfile.BadZipFile):  # an earlier one's doing
            continue
        done.append(mutation.__name__)
    return done


# ------------------------------------------------------------------------ reading it all
def _read_everything(recording: Recording, where: str) -> None:
    """Everything a view may ask of the recording; only FrameMissingError for frames."""
    layers = list(recording.layer_infos())  # INPUT among them when declared
    for index in range(len(recording)):
        for layer in layers:
            for quantity in recording.quantities(layer):
                if recording.missing_reason(layer, quantity, index) is not None:
                    continue
                try:
                    recording.frame(layer, quantity, index)
                    recording.preview(layer, quantity, index)
                    shape = recording.frame_shape(layer, quantity, index)
                    recording.exact(layer, quantity, index, tuple(slice(0, 1) for _ in shape))
                    recording.histogram(layer, quantity, index)
                except READ_ERRORS as error:
                    if where not in str(error):
                        pytest.fail(f"the error names no file: {error}")
        recording.snapshot_data(index)
    for layer in layers:
        for name in recording.statistics(layer):
            recording.statistic(layer, name)
        for name in recording.step_statistics(layer):
            recording.step_series(layer, name)
    for name in recording.metric_names:
        recording.metric(name)
    assert recording.steps.dtype == np.int64
    for array in recording.probe.values():
        assert array.dtype.kind in "biuf"
    recording.refresh()
    recording.close()


def _forbidden(*_, **__):
    raise AssertionError("a recording was unpickled or read by numpy.load")


@contextlib.contextmanager
def _no_hang(seed: int):
    """An alarm that raises, and a watchdog that ends the process should even that be
    swallowed: backstops only, each case takes milliseconds."""

    def hung(*_):
        raise Hung(f"case {seed} blocked for more than {ALARM} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(ALARM)
    faulthandler.dump_traceback_later(6 * ALARM, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _bounded(what: str):
    """No pickle, no numpy.load, and the memory bound."""
    tracemalloc.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for module, name in ((pickle, "load"), (pickle, "loads"), (np, "load")):
                patch.setattr(module, name, _forbidden)
            yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY, f"{what} allocated {peak / 2**20:.0f} MiB"


def run_case(seed: int, base: Path, case: Path) -> str:
    """One case; returns how it ended, for the tally."""
    with _no_hang(seed):  # the mutations too: one may meet a FIFO an earlier one made
        done = mutate(seed, base, case)
        return _open_and_read(f"case {seed} ({', '.join(done)})", case)


def _open_and_read(label: str, case: Path) -> str:
    with _bounded(label), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            recording = Recording.open(case)
        except OPEN_ERRORS as error:
            if str(case) not in f"{error} {getattr(error, 'filename', '')}":
                pytest.fail(f"{label}: the error names no file: {error!r}")
            return "refused"
        except Exception as error:
            raise AssertionError(f"{label}: open raised {error!r}") from error
        try:
            _read_everything(recording, str(case))
        except Exception as error:
            raise AssertionError(f"{label}: reading raised {error!r}") from error
    wrong = [w for w in caught if not issubclass(w.category, RecordingStoreWarning)]
    assert not wrong, f"{label}: {[str(w.message) for w in wrong]}"
    return "warned" if caught else "clean"


@pytest.mark.slow  # a few seconds a chunk; run by `make test` all the same
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_the_reader_survives_mutated_recordings(bases, tmp_path, chunk):
    tally: dict[str, int] = {}
    for seed in range(chunk, CASES, CHUNKS):
        outcome = run_case(seed, bases[seed % 2 == 0], tmp_path / f"case-{seed}")
        tally[outcome] = tally.get(outcome, 0) + 1
    assert sum(tally.values()) == CASES // CHUNKS
    # the mutations do reach the reader: some cases are refused, some warn
    assert tally.get("refused", 0) + tally.get("warned", 0) > 0, tally


def test_an_unmutated_copy_reads_clean(bases, tmp_path):
    for index, base in bases.items():
        shutil.copytree(base, tmp_path / str(index))
        with _no_hang(-1), _bounded("the valid copy"), warnings.catch_warnings():
            warnings.simplefilter("error")
            recording = Recording.open(tmp_path / str(index))
            assert len(recording) == 3
            np.testing.assert_array_equal(recording.frame("fc", "activation", 2), 2)
            _read_everything(recording, str(tmp_path))
