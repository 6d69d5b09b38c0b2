"""Recordings on disk: the directory format, the writer the Recorder uses, and the reader.

A recording directory holds a JSON manifest (what the directory is, its layers, its probe), one
uncompressed ``.npz`` file per snapshot, one append-only binary file of per-step series, and an
append-only log (JSON lines) that commits each snapshot and each block of steps once its data is
safely on disk. ``docs/format.md`` describes the format; this module is its only implementation.

Why this shape:

- A snapshot file is written to a temporary name, flushed to disk and renamed into place, and only
  then is its log line appended: a crash at any moment leaves earlier snapshots untouched, and a
  reader never sees a snapshot whose file is incomplete.
- Opening reads the manifest and the log (small JSON) and one file of step series; it never reads
  a snapshot file, so it costs the same whether frames total megabytes or terabytes. Frames are
  :class:`StoredFrame` objects read when asked for.
- Nothing is ever unpickled: every array is read with ``allow_pickle=False`` and every path
  written in the manifest or log must stay inside the recording directory.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gc
import json
import math
import os
import re
import stat
import threading
import warnings
import weakref
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nnviz_widgets.recording.recording import Recording
from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    FrameMissingError,
    LazyFrame,
    SnapshotData,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "RecordingFormatError",
    "RecordingStoreWarning",
    "RecordingWriteError",
    "RecordingWriter",
    "StoredFrame",
    "open_recording",
    "save_recording",
]

#: The value of ``"format"`` in every manifest.
FORMAT_NAME = "nnviz-recording"
#: The format version this module writes.
FORMAT_VERSION = 1
#: The format versions this module reads.
SUPPORTED_VERSIONS = (1,)

MANIFEST = "manifest.json"
LOG = "log.jsonl"
SNAPSHOT_DIR = "snapshots"
STEPS = "steps.bin"
PROBE = "probe.npz"
# the file names a writer creates; ``overwrite=True`` removes these and nothing else
_SNAPSHOT_NAME = re.compile(r"^\d{6,}\.npz$")
_OWN_FILES = (MANIFEST, LOG, STEPS, PROBE)


class RecordingWriteError(OSError):
    """Writing a recording to disk failed (unwritable path, full disk, ...).

    An :class:`OSError`, so that ``except OSError`` catches it; ``filename`` is the path that
    could not be written and ``errno`` the system's error number where there was one. The
    Recorder turns it into a warning: training never stops because a write failed.
    """

    def __str__(self) -> str:
        return str(self.strerror if self.strerror is not None else super().__str__())


class RecordingFormatError(ValueError):
    """A recording directory is not one this version can read safely.

    Raised for a missing or malformed manifest, an unsupported format version, or a path in the
    manifest or log that leads outside the recording directory.
    """


class RecordingStoreWarning(UserWarning):
    """Part of a recording on disk could not be read; the rest was opened."""


# ---------------------------------------------------------------------------------------- JSON
# JSON has no NaN or Infinity; statistics and metrics often are NaN. Non-finite floats are
# written as these strings so that the files stay standard JSON any tool can read.
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode_float(value: float) -> float | str:
    value = float(value)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decode_float(value: Any) -> float:
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise ValueError(f"expected a number or one of {sorted(_NONFINITE)}, got {value!r}")
        return _NONFINITE[value]
    return float(value)


def _jsonable(value: Any) -> Any:
    """Layer infos as JSON: numpy scalars become numbers, tuples lists, anything else text."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _encode_float(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------- paths
def _relative(root: Path, relative: Any, what: str) -> Path:
    """Check, by its text alone, that a path read from the manifest or log stays in ``root``.

    A recording may come from a stranger: an absolute path or ``..`` could otherwise make us read
    an arbitrary file. Symbolic links need the file system: see :func:`_inside`.
    """
    if not isinstance(relative, str) or not relative:
        raise RecordingFormatError(f"{what} in {root} must be a relative path, got {relative!r}")
    pure = Path(relative)
    if pure.is_absolute() or relative.startswith(("/", "\\")) or ".." in pure.parts:
        raise RecordingFormatError(
            f"{what} in {root} names {relative!r}, which is outside the recording directory; "
            "paths in a recording must be relative and stay inside it (no '..', not absolute)"
        )
    return root / pure


def _inside(root: Path, relative: Any, what: str) -> Path:
    """Like :func:`_relative`, and also refuse a path that a symbolic link leads out of ``root``."""
    path = _relative(root, relative, what)
    real_root = os.path.realpath(root)
    target = os.path.realpath(path)
    if os.path.commonpath([real_root, target]) != real_root:
        raise RecordingFormatError(
            f"{what} in {root} names {relative!r}, which resolves to {target} through a "
            "symbolic link outside the recording directory; refusing to read it"
        )
    return path


def _fsync_directory(path: Path) -> None:
    # a rename is durable only once its directory is flushed; not possible on every platform
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_at(path: Path, data: bytes, offset: int, *, sync: bool) -> None:
    """Write ``data`` at byte ``offset`` of ``path`` (created if needed), then flush it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        view = memoryview(data)
        while view:  # os.write may write less than asked
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, "nothing could be written (is the disk full?)")
            view = view[written:]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(
    error: OSError, path: Path, doing: str, *, starting: bool = False
) -> RecordingWriteError:
    reason = error.strerror or str(error)
    hint = (
        "choose a directory you can write to"
        if starting
        else "what was committed before stays readable; free space or fix the path for the "
        "next snapshots"
    )
    return RecordingWriteError(
        error.errno or errno.EIO, f"could not {doing} {path}: {reason}; {hint}", str(path)
    )


# ---------------------------------------------------------------------------------------- frames
class StoredFrame(LazyFrame):
    """A frame in a snapshot file, read (and its checksum checked) when asked for.

    Parameters
    ----------
    path : pathlib.Path
        The snapshot's ``.npz`` file.
    name : str
        The array's name inside it.
    shape : tuple of int
        The shape the log recorded for it; a frame that reads back otherwise is reported.
    label : str
        What the frame is, in words, for error messages.
    """

    __slots__ = ("label", "name", "path", "shape")

    def __init__(self, path: Path, name: str, shape: tuple[int, ...], label: str) -> None:
        self.path = path
        self.name = name
        self.shape = tuple(shape)
        self.label = label

    def __repr__(self) -> str:
        return f"StoredFrame({str(self.path)!r}, {self.name!r}, shape={self.shape})"

    def load(self) -> np.ndarray:
        """Read the frame from its file.

        Raises
        ------
        FrameMissingError
            The file is missing, truncated or damaged (its CRC-32 does not match); the message
            names the file.
        """
        try:
            # zipfile checks each member's CRC-32 as it reads it, so damage is noticed here
            with np.load(self.path, allow_pickle=False) as archive:
                array = archive[self.name]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise FrameMissingError(
                f"{self.label} could not be read from {self.path}: {type(error).__name__}: {error}"
            ) from error
        if array.shape != self.shape or array.dtype.kind != "f":
            raise FrameMissingError(
                f"{self.label} in {self.path} has shape {array.shape} and dtype {array.dtype}; "
                f"the recording's log says shape {self.shape}, float32: the file is damaged"
            )
        return array


# ---------------------------------------------------------------------------------------- writer
class RecordingWriter:
    """Writes a recording directory, one snapshot at a time; what the Recorder uses.

    Every write is committed whole or not at all: a crash (or a full disk) while writing a
    snapshot leaves every earlier snapshot readable. Every failure to write raises
    :class:`RecordingWriteError` (an :class:`OSError`) naming the path.

    Parameters
    ----------
    path : str or os.PathLike
        The recording directory. It is created if needed; it must be empty, or hold a recording
        and ``overwrite=True`` be given.
    overwrite : bool
        Replace a recording already in ``path`` (only the files this format names are removed).
    max_bytes : int, optional
        The memory budget of the Recording written, kept in the manifest so that an opened
        recording explains thinned frames with the same figure.
    sync : bool
        Flush each snapshot to the disk (``fsync``) before committing it (default). Without it a
        power cut (not a crash of the process) can lose recent snapshots.

    Raises
    ------
    RecordingWriteError
        ``path`` cannot be created or written, or holds something other than a recording.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        max_bytes: int | None = None,
        sync: bool = True,
    ) -> None:
        self.path = Path(path)
        self._sync = bool(sync)
        self._lock = threading.Lock()
        self._closed = False
        self._next_index = 0
        self._steps_end = 0  # bytes of steps.bin committed in the log
        self._layers: dict[str, dict] = {}
        self._probe: list[str] = []
        self._max_bytes = int(max_bytes) if max_bytes is not None else None
        self._created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self._prepare(overwrite)
        self._log_fd: int | None = None
        try:
            self._log_fd = os.open(
                self.path / LOG,
                os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0),
                0o644,
            )
            # the manifest comes last: its presence says a recording has started here
            self._write_manifest()
        except OSError as error:
            self._close_log()
            raise _write_error(error, self.path, "start a recording in", starting=True) from error

    # -------------------------------------------------------------------------- public
    def write_layers(self, infos: Mapping[str, Mapping]) -> None:
        """Declare layers (in order) and what is known of each; later calls may add layers.

        Info values are stored as JSON: tuples come back as lists, numpy numbers as numbers,
        anything else JSON cannot hold as its text.

        Raises
        ------
        RecordingWriteError
            The manifest could not be written.
        """
        with self._lock:
            self._check_open()
            previous = dict(self._layers)
            for layer, info in infos.items():
                self._layers[str(layer)] = _jsonable(dict(info))
            try:
                self._write_manifest()
            except RecordingWriteError:
                # a layer the manifest does not name must not be usable in a snapshot
                self._layers = previous
                raise

    def write_probe(self, input: np.ndarray, target: np.ndarray | None = None) -> None:
        """Keep the probe batch (``input`` and optionally ``target``) in ``probe.npz``.

        Raises
        ------
        RecordingWriteError
            The file could not be written.
        ValueError
            An array of Python objects, which cannot be stored without pickle.
        """
        arrays = {"input": np.asarray(input)}
        if target is not None:
            arrays["target"] = np.asarray(target)
        for name, array in arrays.items():
            if array.dtype.hasobject:
                raise ValueError(f"the probe {name} holds Python objects; give a numeric array")
        with self._lock:
            self._check_open()
            self._write_npz(self.path / PROBE, arrays)
            self._probe = list(arrays)
            self._write_manifest()

    def write_snapshot(
        self, index: int, data: SnapshotData, *, thinned: bool = False
    ) -> dict[tuple[str, str], StoredFrame]:
        """Write one snapshot to its own file and commit it to the log.

        Returns ``{(layer, quantity): StoredFrame}``: where each written frame now lies, so that
        the in-memory copy can be let go.

        Parameters
        ----------
        index : int
            The snapshot's index in the Recorder's Recording: the number of snapshots taken
            before it. A gap (an earlier write failed) is recorded, and readers are told.
        data : SnapshotData
            What the snapshot holds; frames become float32.
        thinned : bool
            The frames of this snapshot were dropped for memory (used by ``Recording.save``).

        Raises
        ------
        RecordingWriteError
            The file or the log could not be written; nothing of this snapshot is committed.
        ValueError
            ``index`` was already written, or a frame's layer was not declared.
        FrameMissingError
            A :class:`LazyFrame` in ``data`` could not be read (only when re-saving a recording
            opened from disk; ``Recording.save`` turns it into a missing frame).
        """
        with self._lock:
            self._check_open()
            if index < self._next_index:
                raise ValueError(
                    f"snapshot {index} was already written to {self.path}; the next one is "
                    f"{self._next_index}"
                )
            arrays: dict[str, np.ndarray] = {}
            frames = []
            relative = f"{SNAPSHOT_DIR}/{index:06d}.npz"
            target = self.path / relative
            stored: dict[tuple[str, str], StoredFrame] = {}
            for number, ((layer, quantity), value) in enumerate(data.frames.items()):
                self._check_layer(layer)
                if value is None:  # a missing frame: its reason is in data.missing
                    continue
                if isinstance(value, LazyFrame):
                    value = value.load()
                array = np.ascontiguousarray(value, dtype=np.float32)
                name = f"f{number}"
                arrays[name] = array
                frames.append([layer, quantity, name, list(array.shape)])
                label = (
                    f"{quantity!r} of layer {layer!r} at snapshot {index} (epoch {data.epoch:g})"
                )
                stored[(layer, quantity)] = StoredFrame(target, name, array.shape, label)
            for layer, _ in data.missing:
                self._check_layer(layer)
            record = {
                "kind": "snapshot",
                "index": int(index),
                "file": relative,
                "epoch": _encode_float(data.epoch),
                "step": int(data.step),
                "frames": frames,
                "missing": [[lay, q, str(r)] for (lay, q), r in data.missing.items()],
                "statistics": [
                    [lay, n, _encode_float(v)] for (lay, n), v in data.statistics.items()
                ],
                "metrics": {str(k): _encode_float(v) for k, v in data.metrics.items()},
                "notes": [[lay, q, str(t)] for (lay, q), t in data.notes.items()],
                # the order quantities were given in, missing ones included
                "order": [[lay, q] for lay, q in dict.fromkeys([*data.frames, *data.missing])],
            }
            if thinned:
                record["thinned"] = True
            if index > self._next_index:
                record["lost"] = list(range(self._next_index, index))
            # the snapshot file carries its own record too, so it can be understood alone
            arrays["meta"] = np.array(_dumps(record))
            record["bytes"] = self._write_npz(target, arrays)
            self._append_log(record, target)
            self._next_index = index + 1
            return stored

    def write_steps(self, steps: np.ndarray, series: Mapping[tuple[str, str], np.ndarray]) -> None:
        """Append per-step statistics: ``steps`` (n,) and ``{(layer, name): values (n,)}``.

        Raises
        ------
        RecordingWriteError
            ``steps.bin`` or the log could not be written; none of these steps is committed.
        ValueError
            A series whose length differs from ``steps``.
        """
        steps = np.asarray(steps, dtype="<i8").ravel()
        columns = list(series)
        block = np.empty((len(columns), steps.size), dtype="<f8")
        for row, key in enumerate(columns):
            values = np.asarray(series[key], dtype=np.float64).ravel()
            if values.shape != steps.shape:
                raise ValueError(
                    f"step series {key} has {values.size} values for {steps.size} steps"
                )
            block[row] = values
        payload = steps.tobytes() + block.tobytes()
        with self._lock:
            self._check_open()
            target = self.path / STEPS
            try:
                # written at the committed end, not appended: bytes a failed write left past it
                # were never committed and are overwritten here
                _write_at(target, payload, self._steps_end, sync=self._sync)
            except OSError as error:
                raise _write_error(error, target, "append step series to") from error
            record = {
                "kind": "steps",
                "offset": self._steps_end,
                "rows": int(steps.size),
                "columns": [[str(lay), str(n)] for lay, n in columns],
                "crc32": zlib.crc32(payload),
            }
            self._append_log(record, target)
            self._steps_end += len(payload)

    def close(self) -> None:
        """Mark the recording complete in its manifest; calling it again does nothing.

        Raises
        ------
        RecordingWriteError
            The manifest could not be written (the snapshots already written stay readable).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._write_manifest(closed=True)
            finally:
                self._close_log()

    @property
    def next_index(self) -> int:
        """The index :meth:`write_snapshot` expects next."""
        return self._next_index

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RecordingWriter({str(self.path)!r}, {self._next_index} snapshots, {state})"

    # -------------------------------------------------------------------------- helpers
    def _prepare(self, overwrite: bool) -> None:
        path = self.path
        try:
            path.mkdir(parents=True, exist_ok=True)
            entries = sorted(os.listdir(path))
        except OSError as error:
            raise _write_error(
                error, path, "create the recording directory", starting=True
            ) from error
        if entries:
            others = [e for e in entries if e not in (*_OWN_FILES, SNAPSHOT_DIR)]
            if MANIFEST not in entries or others:
                listed = ", ".join((others or entries)[:5])
                raise RecordingWriteError(
                    errno.EEXIST,
                    f"the recording directory {path} is not empty: it holds other files "
                    f"({listed}{' ...' if len(others or entries) > 5 else ''}); choose a new or "
                    "empty directory",
                    str(path),
                )
            if not overwrite:
                raise RecordingWriteError(
                    errno.EEXIST,
                    f"{path} already holds a recording; choose a new directory, or pass "
                    "overwrite=True to replace it",
                    str(path),
                )
            try:
                self._remove_recording()
            except OSError as error:
                raise _write_error(
                    error, path, "remove the old recording in", starting=True
                ) from error
        try:
            (path / SNAPSHOT_DIR).mkdir(exist_ok=True)
            probe = path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise _write_error(error, path, "write in", starting=True) from error

    def _remove_recording(self) -> None:
        # the manifest goes first, so a reader never sees a manifest over a half-removed recording
        for name in _OWN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
        snapshots = self.path / SNAPSHOT_DIR
        if snapshots.is_dir() and not snapshots.is_symlink():
            for entry in os.listdir(snapshots):
                if _SNAPSHOT_NAME.match(entry) or entry.endswith(".tmp"):
                    (snapshots / entry).unlink()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the RecordingWriter for {self.path} is closed")

    def _check_layer(self, layer: str) -> None:
        if layer not in self._layers:
            raise ValueError(
                f"layer {layer!r} was not declared with write_layers(); declared: "
                f"{', '.join(map(repr, self._layers)) or 'none'}"
            )

    def _write_npz(self, target: Path, arrays: Mapping[str, np.ndarray]) -> int:
        """Write an uncompressed ``.npz`` atomically; return its size in bytes."""
        temporary = target.with_name(target.name + ".tmp")
        try:
            with open(temporary, "wb") as file:
                # uncompressed: float frames barely compress, and writing stays near disk speed.
                # No array here can need pickle (frames are float32, the probe is checked, the
                # record is a str array), and older numpy has no allow_pickle for savez.
                np.savez(file, **arrays)
                file.flush()
                size = file.tell()
                if self._sync:
                    os.fsync(file.fileno())
            os.replace(temporary, target)
            if self._sync:
                _fsync_directory(target.parent)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise _write_error(error, target, "write") from error
        return size

    def _append_log(self, record: dict, data_path: Path) -> None:
        line = (_dumps(record) + "\n").encode("utf-8")
        log = self.path / LOG
        try:
            if self._log_fd is None:
                raise OSError(errno.EBADF, "the log is not open")
            start = os.lseek(self._log_fd, 0, os.SEEK_END)
            try:
                written = os.write(self._log_fd, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, "short write (is the disk full?)")
                if self._sync:
                    os.fsync(self._log_fd)
            except OSError:
                # a torn line would hide every later record from readers: cut it off
                with contextlib.suppress(OSError):
                    os.ftruncate(self._log_fd, start)
                raise
        except OSError as error:
            raise _write_error(error, log, f"commit {data_path.name} to") from error

    def _write_manifest(self, *, closed: bool = False) -> None:
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "created": self._created,
            "writer": "nnviz_widgets",
            "log": LOG,
            "steps": STEPS,
            "snapshots": SNAPSHOT_DIR,
            "probe": {"file": PROBE, "arrays": self._probe} if self._probe else None,
            "layers": [{"name": name, "info": info} for name, info in self._layers.items()],
            "max_bytes": self._max_bytes,
            "closed": closed,
        }
        target = self.path / MANIFEST
        temporary = target.with_name(target.name + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(json.dumps(manifest, allow_nan=False, ensure_ascii=False, indent=1))
                file.flush()
                if self._sync:
                    os.fsync(file.fileno())
            os.replace(temporary, target)
            if self._sync:
                _fsync_directory(self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise _write_error(error, target, "write") from error

    def _close_log(self) -> None:
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_fd)
            self._log_fd = None


# ---------------------------------------------------------------------------------------- reader
class RecordingReader:
    """Reads a recording directory into a :class:`Recording`, and later whatever was added.

    Kept by a Recording opened from disk (``Recording.open``); :meth:`refresh` appends the
    snapshots and steps committed to the log since the last call. Not public: use
    ``Recording.open`` and ``Recording.refresh``.

    Parameters
    ----------
    path : str or os.PathLike
        The recording directory.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()  # a listener may call refresh() again
        self._recording: weakref.ref[Recording] | None = None
        self._log_offset = 0
        self._manifest_stamp: tuple[int, int] | None = None
        self._manifest: dict = {}
        self._layers: set[str] = set()
        self._checked_directories: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.manifest = self._read_manifest()

    # -------------------------------------------------------------------------- public
    def load(self, cls: type[Recording] = Recording) -> Recording:
        """Build the Recording from what is on disk now (frames stay on disk)."""
        max_bytes = self.manifest.get("max_bytes") or DEFAULT_MAX_BYTES
        recording = cls(max_bytes=int(max_bytes))
        self._recording = weakref.ref(recording)
        self._apply_manifest(recording)
        # Loading a long log makes many small objects that all survive; the collector's passes
        # over them cost more than the loading itself (measured: about half the time for 1,000
        # snapshots), so it waits until the end. Its previous state is restored.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._refresh(recording, initial=True)
        finally:
            if collecting:
                gc.enable()
        recording._source = self  # what Recording.refresh and Recording.close delegate to
        return recording

    def refresh(self) -> int:
        """Append the snapshots and steps committed since the last call; return how many snapshots.

        Listeners of the recording are called for each, in this thread.
        """
        recording = self._recording() if self._recording is not None else None
        if recording is None:
            return 0
        return self._refresh(recording, initial=False)

    def follow(self, interval: float) -> None:
        """Start a daemon thread that calls :meth:`refresh` every ``interval`` seconds."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._poll, args=(float(interval),), name=f"follow {self.path}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop following; calling it again does nothing."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    @property
    def following(self) -> bool:
        """Whether the background poller is running."""
        return self._thread is not None and self._thread.is_alive()

    # -------------------------------------------------------------------------- manifest
    def _read_manifest(self) -> dict:
        target = self.path / MANIFEST
        if not self.path.is_dir():
            raise FileNotFoundError(
                errno.ENOENT, f"no recording directory at {self.path}", str(self.path)
            )
        try:
            status = target.stat()
            text = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT,
                f"{self.path} holds no {MANIFEST}: it is not a recording directory, or writing "
                "it has not started yet",
                str(target),
            ) from None
        try:
            manifest = json.loads(text)
        except ValueError as error:
            raise RecordingFormatError(f"{target} is not valid JSON: {error}") from error
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise RecordingFormatError(
                f"{target} does not describe an nnviz_widgets recording: its format is "
                f"{found!r}, expected {FORMAT_NAME!r}"
            )
        version = manifest.get("version")
        if version not in SUPPORTED_VERSIONS:
            raise RecordingFormatError(
                f"{target} is format version {version!r}; this nnviz_widgets reads version(s) "
                f"{', '.join(map(str, SUPPORTED_VERSIONS))}. A newer nnviz_widgets may read it"
            )
        for key in ("log", "steps", "snapshots"):
            _inside(self.path, manifest.get(key), f"{key!r} of {MANIFEST}")
        probe = manifest.get("probe")
        if probe is not None:
            if not isinstance(probe, dict) or not isinstance(probe.get("arrays"), list):
                raise RecordingFormatError(
                    f"{target}: 'probe' must be null or {{'file': ..., 'arrays': [...]}}, "
                    f"got {probe!r}"
                )
            _inside(self.path, probe.get("file"), f"the probe file of {MANIFEST}")
        layers = manifest.get("layers")
        if not isinstance(layers, list) or not all(
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("info", {}), dict)
            for entry in layers
        ):
            raise RecordingFormatError(
                f"{target}: 'layers' must be a list of {{'name': text, 'info': {{...}}}}, "
                f"got {str(layers)[:200]}"
            )
        self._manifest_stamp = (status.st_mtime_ns, status.st_size)
        return manifest

    def _apply_manifest(self, recording: Recording) -> None:
        infos = {}
        for entry in self.manifest["layers"]:
            infos[str(entry["name"])] = dict(entry.get("info") or {})
        recording.set_layers(infos)
        self._layers = set(infos)
        probe = self.manifest.get("probe")
        if probe is not None and probe.get("arrays") and not recording.probe:
            target = _inside(self.path, probe["file"], "the probe file")
            try:
                with np.load(target, allow_pickle=False) as archive:
                    arrays = {name: archive[name] for name in probe["arrays"]}
                recording.set_probe(arrays["input"], arrays.get("target"))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                self._warn(
                    f"the probe batch in {target} could not be read ({error}); "
                    "the recording opens without it"
                )

    def _reload_manifest_if_changed(self, recording: Recording) -> None:
        try:
            status = (self.path / MANIFEST).stat()
        except OSError:
            return
        if (status.st_mtime_ns, status.st_size) != self._manifest_stamp:
            self.manifest = self._read_manifest()
            self._apply_manifest(recording)

    # -------------------------------------------------------------------------- log
    def _refresh(self, recording: Recording, *, initial: bool) -> int:
        with self._lock:
            if not initial:
                self._reload_manifest_if_changed(recording)
            log = _inside(self.path, self.manifest["log"], "the log")
            try:
                with open(log, "rb") as file:
                    file.seek(self._log_offset)
                    data = file.read()
            except FileNotFoundError:
                data = b""
            end = data.rfind(b"\n") + 1  # a line without its newline is still being written
            self._log_offset += end
            records = self._parse(data[:end], log)
            steps = self._read_steps(records)
            if initial:
                return self._replay_initial(recording, records, steps)
            added = 0
            for record in records:
                if record.get("kind") == "snapshot":
                    try:
                        snapshot = self._snapshot(record, recording)
                    except RecordingFormatError as error:
                        # opening refuses such a recording; while following, the records
                        # after it still count
                        self._warn(f"{error}; the snapshot was skipped")
                        continue
                    if snapshot is not None:
                        recording.append_snapshot(snapshot)
                        self._after_snapshot(record, recording)
                        added += 1
                elif record.get("kind") == "steps":
                    block = self._steps(record, *steps)
                    if block is not None:
                        recording.append_steps(*block)
            return added

    def _parse(self, data: bytes, log: Path) -> list[dict]:
        """The records in complete log lines; a damaged line is reported and skipped."""
        lines = data.decode("utf-8", errors="replace").splitlines()
        try:
            # one call for the whole batch is several times faster than one per line
            records = json.loads("[" + ",".join(lines) + "]")
            if all(isinstance(record, dict) for record in records):
                return records
        except ValueError:
            pass
        records = []
        for number, line in enumerate(lines):
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                records.append(record)
            except ValueError as error:
                self._warn(
                    f"line {number + 1} of the new part of {log} is damaged ({error}); "
                    "it was skipped"
                )
        return records

    def _replay_initial(
        self, recording: Recording, records: list[dict], steps: tuple[int, bytes]
    ) -> int:
        # steps are gathered into one append: one call, whatever the number of blocks
        step_blocks = []
        added = 0
        for record in records:
            if record.get("kind") == "snapshot":
                data = self._snapshot(record, recording)
                if data is not None:
                    recording.append_snapshot(data)
                    self._after_snapshot(record, recording)
                    added += 1
            elif record.get("kind") == "steps":
                block = self._steps(record, *steps)
                if block is not None:
                    step_blocks.append(block)
        if step_blocks:
            all_steps = np.concatenate([b[0] for b in step_blocks])
            keys: dict[tuple[str, str], None] = {}
            for _, series in step_blocks:
                keys.update(dict.fromkeys(series))
            columns = {key: np.full(all_steps.size, np.nan) for key in keys}
            start = 0
            for block_steps, series in step_blocks:
                for key, values in series.items():
                    columns[key][start : start + block_steps.size] = values
                start += block_steps.size
            recording.append_steps(all_steps, columns)
        return added

    def _after_snapshot(self, record: dict, recording: Recording) -> None:
        index = len(recording) - 1
        if record.get("thinned"):
            with recording._lock:
                recording._thinned.add(index)
        if record.get("lost"):
            self._warn(
                f"snapshot(s) {', '.join(map(str, record['lost']))} of the run were never written "
                f"to {self.path} (a write failed at the time); snapshot {index} here is the run's "
                f"snapshot {record.get('index')}"
            )

    def _snapshot(self, record: dict, recording: Recording) -> SnapshotData | None:
        try:
            target, damage = self._snapshot_file(record)
            index = len(recording)
            epoch = _decode_float(record["epoch"])
            data = SnapshotData(epoch=epoch, step=int(record["step"]))
            if damage:
                self._warn(
                    f"the snapshot file {target} is {damage}; its frames are reported missing, "
                    "the other snapshots are intact"
                )
            for layer, quantity, name, shape in record["frames"]:
                self._known_layer(layer, recording)
                key = (layer, quantity)
                if damage:
                    data.missing[key] = f"its file {target} is {damage}"
                else:
                    label = f"{quantity!r} of layer {layer!r} at snapshot {index} (epoch {epoch:g})"
                    data.frames[key] = StoredFrame(target, str(name), tuple(shape), label)
            for layer, quantity, reason in record["missing"]:
                self._known_layer(layer, recording)
                data.missing[(layer, quantity)] = str(reason)
            if "order" in record:  # restore the order the quantities were recorded in
                data.frames = {(lay, q): data.frames.get((lay, q)) for lay, q in record["order"]}
            for layer, name, value in record["statistics"]:
                data.statistics[(layer, name)] = _decode_float(value)
            data.metrics = {str(k): _decode_float(v) for k, v in record["metrics"].items()}
            for layer, quantity, text in record["notes"]:
                data.notes[(layer, quantity)] = str(text)
        except RecordingFormatError:
            raise
        except (KeyError, TypeError, ValueError) as error:
            self._warn(f"a snapshot record in {self.path / LOG} is malformed ({error!r}); skipped")
            return None
        return data

    def _snapshot_file(self, record: dict) -> tuple[Path, str | None]:
        """The snapshot's file, checked to stay inside the recording, and what is wrong with it.

        Opening a long recording does this for every snapshot, so the cheap checks come first:
        the text of the path, each directory resolved once, and one ``lstat`` for the file.
        """
        what = "a snapshot file in the log"
        relative = record["file"]
        target = _relative(self.path, relative, what)
        parent = os.path.dirname(relative) or "."
        if parent not in self._checked_directories:
            _inside(self.path, parent, what)
            self._checked_directories.add(parent)
        try:
            status = os.lstat(target)
            if stat.S_ISLNK(status.st_mode):
                _inside(self.path, relative, what)  # a link is fine while it stays inside
                status = os.stat(target)
        except FileNotFoundError:
            return target, "missing"
        except OSError as error:
            return target, f"unreadable ({error.strerror})"
        expected = record.get("bytes")
        if expected is not None and status.st_size != expected:
            return target, (
                f"truncated or damaged ({status.st_size} bytes; {expected} were written)"
            )
        return target, None

    def _known_layer(self, layer: str, recording: Recording) -> None:
        # the writer updates the manifest before committing a snapshot that needs it, so a layer
        # we do not know yet means our copy of the manifest is older than this record
        if layer not in self._layers:
            self.manifest = self._read_manifest()
            self._apply_manifest(recording)
            if layer not in self._layers:
                raise ValueError(f"layer {layer!r} is not declared in {MANIFEST}")

    def _read_steps(self, records: list[dict]) -> tuple[int, bytes]:
        """Read, in one go, the part of the step file these records commit: (offset, bytes)."""
        spans = []
        for record in records:
            if record.get("kind") == "steps":
                try:
                    length = 8 * int(record["rows"]) * (1 + len(record["columns"]))
                    spans.append((int(record["offset"]), int(record["offset"]) + length))
                except (KeyError, TypeError, ValueError):
                    continue  # reported by _steps
        if not spans:
            return 0, b""
        start = min(a for a, _ in spans)
        end = max(b for _, b in spans)
        target = _inside(self.path, self.manifest["steps"], "the step series file")
        try:
            with open(target, "rb") as file:
                file.seek(start)
                return start, file.read(end - start)
        except OSError as error:
            self._warn(f"the step series file {target} could not be read ({error})")
            return start, b""

    def _steps(self, record: dict, base: int, buffer: bytes) -> tuple[np.ndarray, dict] | None:
        try:
            rows = int(record["rows"])
            columns = [(str(lay), str(n)) for lay, n in record["columns"]]
            offset = int(record["offset"]) - base
            length = rows * 8 * (1 + len(columns))
            payload = buffer[offset : offset + length]
            if len(payload) != length or zlib.crc32(payload) != record["crc32"]:
                where = self.path / self.manifest["steps"]
                raise ValueError(f"{where} is truncated or damaged at byte {record['offset']}")
        except (KeyError, TypeError, ValueError) as error:
            self._warn(f"a block of step series could not be read ({error}); it was skipped")
            return None
        steps = np.frombuffer(payload, dtype="<i8", count=rows).astype(np.int64)
        block = np.frombuffer(payload, dtype="<f8", offset=rows * 8).reshape(len(columns), rows)
        return steps, {key: block[i] for i, key in enumerate(columns)}

    # -------------------------------------------------------------------------- helpers
    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if self._recording is None or self._recording() is None:
                return  # the recording is gone: nothing left to follow for
            try:
                self.refresh()
            except Exception as error:  # the poller must outlive a bad read; say so and go on
                self._warn(f"following {self.path} failed once: {type(error).__name__}: {error}")
                continue
            # the writer marks the manifest closed after its last log line, and each refresh
            # reads the manifest before the log: nothing more can come
            if self.manifest.get("closed"):
                return

    def _warn(self, message: str) -> None:
        warnings.warn(message, RecordingStoreWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------- entry
def open_recording(
    path: str | os.PathLike,
    *,
    follow: bool = False,
    poll_interval: float = 0.5,
    cls: type[Recording] = Recording,
) -> Recording:
    """Open a recording directory lazily; what ``Recording.open`` does.

    Parameters
    ----------
    path : str or os.PathLike
        The recording directory.
    follow : bool
        Also start a daemon thread that calls ``refresh()`` every ``poll_interval`` seconds, to
        pick up snapshots another process is still writing; ``Recording.close()`` stops it.
    poll_interval : float
        Seconds between two looks at the log when following.
    cls : type
        The Recording class to build.

    Returns
    -------
    Recording
        Its frames are :class:`StoredFrame` objects read on ``frame()``.

    Raises
    ------
    FileNotFoundError
        No recording directory or no manifest at ``path``.
    RecordingFormatError
        The manifest is malformed, of an unsupported version, or names a path outside ``path``.
    """
    if follow and not poll_interval > 0:
        raise ValueError(f"poll_interval must be a positive number of seconds, got {poll_interval}")
    reader = RecordingReader(path)
    recording = reader.load(cls)
    if follow:
        reader.follow(poll_interval)
    return recording


def save_recording(
    recording: Recording, path: str | os.PathLike, *, overwrite: bool = False
) -> None:
    """Write a whole Recording to a new directory; what ``Recording.save`` does.

    Frames kept on disk (a recording opened from elsewhere) are read and written again; one
    that cannot be read is saved as missing, with the reason.

    Raises
    ------
    RecordingWriteError
        ``path`` is not empty or not writable, or a write failed.
    """
    # Reads the Recording's private fields (same package): the public reading API gives missing
    # reasons only as finished sentences, which would be prefixed twice on the way back.
    with recording._lock:
        layers = {name: dict(recording._layer_info[name]) for name in recording._layers}
        probe = dict(recording._probe)
        epochs = list(recording._epochs)
        snapshot_steps = list(recording._snapshot_steps)
        frames = {key: list(series) for key, series in recording._frames.items()}
        missing = {key: dict(reasons) for key, reasons in recording._missing.items()}
        notes = dict(recording._notes)
        statistics = {key: list(v) for key, v in recording._statistics.items()}
        metrics = {key: list(v) for key, v in recording._metrics.items()}
        steps = np.asarray(recording._step_numbers, dtype=np.int64)
        step_series = {
            key: np.asarray(v, dtype=np.float64) for key, v in recording._step_series.items()
        }
        thinned = set(recording._thinned)
        max_bytes = recording.max_bytes
    with RecordingWriter(path, overwrite=overwrite, max_bytes=max_bytes) as writer:
        writer.write_layers(layers)
        if probe:
            writer.write_probe(probe["input"], probe.get("target"))
        for index, epoch in enumerate(epochs):
            data = SnapshotData(epoch=epoch, step=snapshot_steps[index])
            for key, series in frames.items():
                value = series[index]
                if isinstance(value, LazyFrame):
                    try:
                        value = value.load()
                    except FrameMissingError as error:
                        data.missing[key] = str(error)
                        continue
                if value is not None:
                    data.frames[key] = value
                elif index in missing.get(key, {}):
                    data.missing[key] = missing[key][index]
                elif index in thinned:
                    # keeps the quantity known even if every frame of it was thinned
                    data.missing[key] = "dropped to stay within the memory budget"
            # every key at every snapshot keeps the order of first appearance on the way back
            data.statistics = {key: values[index] for key, values in statistics.items()}
            data.metrics = {key: values[index] for key, values in metrics.items()}
            if index == 0:
                data.notes = notes  # notes are per quantity, not per snapshot
            writer.write_snapshot(index, data, thinned=index in thinned)
        if steps.size:
            writer.write_steps(steps, step_series)
