"""Writing a recording directory, one snapshot at a time: the writer a Recorder uses.

:class:`RecordingWriter` commits each snapshot whole or not at all (``docs/format.md``, "How
writing stays safe"): the snapshot's ``.npz`` file is written under a temporary name, flushed and
renamed, and only then is its line appended to the log. :func:`save_recording` writes a whole
Recording through the same writer (``Recording.save``), reading the Recording through its public
API only.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from nnviz_widgets.recording.types import LazyFrame, SnapshotData
from nnviz_widgets.store.files import (
    append_whole,
    open_for_append,
    prepare_directory,
    replace_atomically,
    write_at,
)
from nnviz_widgets.store.format import (
    LOG,
    MANIFEST,
    PROBE,
    SNAPSHOT_DIR,
    STEPS,
    RecordingWriteError,
    dumps,
    jsonable,
    write_error,
)
from nnviz_widgets.store.log import frame_label, snapshot_record, steps_record
from nnviz_widgets.store.manifest import make_manifest
from nnviz_widgets.store.stored_frame import StoredFrame, StoredSnapshot

__all__ = ["RecordingWriter", "save_recording"]


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
        # one write at a time: the Recorder's writer thread, and close() from another thread
        self._lock = threading.Lock()
        self._closed = False
        self._next_index = 0
        self._steps_end = 0  # bytes of steps.bin committed in the log
        self._layers: dict[str, dict] = {}
        self._probe: list[str] = []
        self._max_bytes = int(max_bytes) if max_bytes is not None else None
        self._created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        prepare_directory(self.path, overwrite=overwrite)
        self._log_fd: int | None = None
        try:
            self._log_fd = open_for_append(self.path / LOG)
            # the manifest comes last: its presence says a recording has started here
            self._write_manifest()
        except OSError as error:
            self._close_log()
            raise write_error(error, self.path, "start a recording in", starting=True) from error

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
                self._layers[str(layer)] = jsonable(dict(info))
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
    ) -> StoredSnapshot:
        """Write one snapshot to its own file and commit it to the log.

        Returns where each written frame, preview and histogram now lies, so that the in-memory
        copies can be let go.

        Parameters
        ----------
        index : int
            The snapshot's index in the Recorder's Recording: the number of snapshots taken
            before it. A gap (an earlier write failed) is recorded, and readers are told.
        data : SnapshotData
            What the snapshot holds; frames become float32.
        thinned : bool
            The frames of this snapshot were dropped for memory (also taken from
            ``data.thinned``; ``Recording.save`` writes such snapshots).

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
            relative = f"{SNAPSHOT_DIR}/{index:06d}.npz"
            target = self.path / relative
            arrays, listed, stored = self._snapshot_arrays(index, data, target)
            record = snapshot_record(
                index,
                relative,
                data,
                listed,
                thinned=thinned or data.thinned,
                lost=range(self._next_index, index),
            )
            # the snapshot file carries its own record too, so it can be understood alone
            arrays["meta"] = np.array(dumps(record))
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
                write_at(target, payload, self._steps_end, sync=self._sync)
            except OSError as error:
                raise write_error(error, target, "append step series to") from error
            record = steps_record(self._steps_end, int(steps.size), columns, payload)
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
    def _snapshot_arrays(
        self, index: int, data: SnapshotData, target: Path
    ) -> tuple[dict[str, np.ndarray], dict[str, list], StoredSnapshot]:
        """What snapshot ``index``'s file holds: its arrays by name, the lists of them for its
        record (see :func:`snapshot_record`), and where each will lie once written."""
        arrays: dict[str, np.ndarray] = {}
        listed: dict[str, list] = {"frames": [], "previews": [], "histograms": []}
        stored = StoredSnapshot()
        for number, (key, value) in enumerate(data.frames.items()):
            self._check_layer(key[0])
            if value is None:  # a missing frame: its reason is in data.missing
                continue
            label = frame_label(key, index, data.epoch)
            if key in data.reduced:  # the frame is a preview: the tensor goes beside it
                array = _loaded(value)
                name = f"p{number}"
                arrays[name] = array
                full_shape = [int(n) for n in data.reduced[key]]
                listed["previews"].append([*key, name, list(array.shape), full_shape])
                stored.previews[key] = StoredFrame(target, name, array.shape, label)
                value = data.full.get(key)
            if value is not None:
                array = _loaded(value)
                name = f"f{number}"
                arrays[name] = array
                listed["frames"].append([*key, name, list(array.shape)])
                stored.frames[key] = StoredFrame(target, name, array.shape, label)
            counts = data.histograms.get(key)
            if counts is not None:
                name = f"h{number}"
                arrays[name] = np.asarray(_loaded(counts), dtype=np.float64)
                listed["histograms"].append([*key, name])
                stored.histograms[key] = StoredFrame(target, name, arrays[name].shape, label)
        for layer, _ in data.missing:
            self._check_layer(layer)
        return arrays, listed, stored

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
        # uncompressed: float frames barely compress, and writing stays near disk speed. No
        # array here can need pickle (frames are float32, the probe is checked, the record is a
        # str array), and older numpy has no allow_pickle for savez.
        try:
            return replace_atomically(
                target, lambda file: np.savez(file, **arrays), sync=self._sync
            )
        except OSError as error:
            raise write_error(error, target, "write") from error

    def _append_log(self, record: dict, data_path: Path) -> None:
        log = self.path / LOG
        try:
            if self._log_fd is None:
                raise OSError(errno.EBADF, "the log is not open")
            append_whole(self._log_fd, (dumps(record) + "\n").encode("utf-8"), sync=self._sync)
        except OSError as error:
            raise write_error(error, log, f"commit {data_path.name} to") from error

    def _write_manifest(self, *, closed: bool = False) -> None:
        text = make_manifest(
            created=self._created,
            layers=self._layers,
            probe=self._probe,
            max_bytes=self._max_bytes,
            closed=closed,
        )
        target = self.path / MANIFEST
        try:
            replace_atomically(target, lambda file: file.write(text), sync=self._sync)
        except OSError as error:
            raise write_error(error, target, "write") from error

    def _close_log(self) -> None:
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_fd)
            self._log_fd = None


class SavedRecording(Protocol):
    """What :func:`save_recording` reads of a Recording: its public reading API."""

    max_bytes: int
    probe: dict[str, np.ndarray]

    def __len__(self) -> int: ...
    def layer_infos(self) -> dict[str, dict]: ...
    def snapshot_data(self, index: int) -> SnapshotData: ...
    def step_data(self) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]: ...


def save_recording(
    recording: SavedRecording, path: str | os.PathLike, *, overwrite: bool = False
) -> None:
    """Write a whole Recording to a new directory; what ``Recording.save`` does.

    Frames kept on disk (a recording opened from elsewhere) are read and written again; one
    that cannot be read is saved as missing, with the reason. A recording still growing is
    saved as far as it had got when this began (its step series as far as they got by the end).

    Raises
    ------
    RecordingWriteError
        ``path`` is not empty or not writable, or a write failed.
    """
    count = len(recording)
    layers = recording.layer_infos()  # declared before any snapshot that uses them
    probe = recording.probe
    with RecordingWriter(path, overwrite=overwrite, max_bytes=recording.max_bytes) as writer:
        writer.write_layers(layers)
        if probe:
            writer.write_probe(probe["input"], probe.get("target"))
        for index in range(count):
            data = recording.snapshot_data(index)
            if index:
                data.notes = {}  # notes are per quantity, not per snapshot: written once
            writer.write_snapshot(index, data)
        steps, series = recording.step_data()
        if steps.size:
            writer.write_steps(steps, series)


def _loaded(value: np.ndarray | LazyFrame) -> np.ndarray:
    """An array to write: float32 (a lazy frame read first; FrameMissingError if it cannot be)."""
    if isinstance(value, LazyFrame):
        value = value.load()
    return np.ascontiguousarray(value, dtype=np.float32)
