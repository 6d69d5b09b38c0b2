"""Writing a recording directory, one snapshot at a time: the writer a Recorder uses.

:class:`RecordingWriter` commits each snapshot whole or not at all (``docs/format.md``, "How
writing stays safe"): the snapshot's ``.npz`` file is written under a temporary name, flushed and
renamed, its statistics and metrics are written past the end of ``scalars.bin``, and only then is
its line appended to the log; a row of the index (``index.bin``) follows, so that a reader can
open the recording without reading the log. Before each write it checks that the directory is
still its run's (the manifest's run id): a writer whose directory another replaced stops,
rather than mix its snapshots into the other run's.

The writer writes the data files and keeps their committed ends; what the manifest declares
(layers, probe, the names the index knows) is :mod:`~nnviz_widgets.store.declared`'s, the log
and the index :mod:`~nnviz_widgets.store.commits`'s.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store.catalog import Catalog
from nnviz_widgets.store.commits import CommitFiles
from nnviz_widgets.store.declared import Declarations
from nnviz_widgets.store.files import prepare_directory, replace_atomically, write_at
from nnviz_widgets.store.format import (
    MANIFEST,
    PROBE,
    SCALARS,
    SNAPSHOT_DIR,
    STEPS,
    dumps,
    file_stamp,
    write_error,
)
from nnviz_widgets.store.index import MAX_METRICS, snapshot_row, steps_row
from nnviz_widgets.store.log import snapshot_record, steps_record
from nnviz_widgets.store.stored_frame import StoredSnapshot, snapshot_arrays

__all__ = ["RecordingWriter"]


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

    Notes
    -----
    Each write first checks that the directory is still this writer's run (its manifest's run
    id); once another writer replaced it (``overwrite=True``), every write raises
    :class:`RecordingWriteError` saying so, and nothing more is written there.
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
        self._scalars_end = 0  # bytes of scalars.bin committed in the log
        max_bytes = int(max_bytes) if max_bytes is not None else None
        self._declared = Declarations(self.path, sync=self._sync, max_bytes=max_bytes)
        self._files = CommitFiles(self.path, sync=self._sync)
        prepare_directory(self.path, overwrite=overwrite)
        try:
            self._files.open_log()
            # the manifest comes last: its presence says a recording has started here
            self._declared.write()
        except OSError as error:
            self._files.close_log()
            raise write_error(error, self.path, "start a recording in", starting=True) from error

    @property
    def _log_fd(self) -> int | None:
        # the log's descriptor, for tests that make its writes fail
        return self._files.log_fd

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
            self._check_open(self.path / MANIFEST)
            self._declared.add_layers(infos)

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
            self._check_open(self.path / PROBE)
            self._write_npz(self.path / PROBE, arrays)
            self._declared.set_probe(list(arrays))

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
            relative = f"{SNAPSHOT_DIR}/{index:06d}.npz"
            target = self.path / relative
            self._check_open(target)
            if index < self._next_index:
                raise ValueError(
                    f"snapshot {index} was already written to {self.path}; the next one is "
                    f"{self._next_index}"
                )
            thinned = thinned or data.thinned
            arrays, stored, record, catalog, named = self._encode(
                index, relative, data, thinned=thinned
            )
            status = self._write_npz(target, arrays)
            record["bytes"] = status.st_size
            stored.stamp(file_stamp(status))
            self._commit_snapshot(
                index, data, record, target, catalog, named=named, thinned=thinned
            )
            return stored

    def _encode(
        self, index: int, relative: str, data: SnapshotData, *, thinned: bool
    ) -> tuple[dict, StoredSnapshot, dict, Catalog, bool]:
        """A snapshot's arrays (its record among them), where each will lie, its log record,
        and the catalog with its names (``named``: some are new)."""
        target = self.path / relative
        check_layer = self._declared.check_layer
        arrays, listed, stored = snapshot_arrays(index, data, target, check_layer)
        record = snapshot_record(
            index, relative, data, listed, thinned=thinned, lost=range(self._next_index, index)
        )
        catalog = self._declared.catalog.copy()
        named = catalog.add_snapshot(data)
        if len(catalog.metrics) > MAX_METRICS:
            raise ValueError(f"a recording holds at most {MAX_METRICS} metrics by name")
        record["run"] = self._declared.run
        # the snapshot file carries its own record too, so it can be understood alone
        arrays["meta"] = np.array(dumps(record))
        return arrays, stored, record, catalog, named

    def _commit_snapshot(
        self,
        index: int,
        data: SnapshotData,
        record: dict,
        target: Path,
        catalog: Catalog,
        *,
        named: bool,
        thinned: bool,
    ) -> None:
        """After the snapshot's file is written: its scalars, names, log line and index row, in
        that order (the log line commits it; the index row is what readers find first)."""
        scalars = catalog.scalars(data)
        start = self._scalars_end
        self._write_at(self.path / SCALARS, scalars.tobytes(), start, "append statistics to")
        self._declared.take_names(catalog, named)
        offset, length = self._files.append_log(record, target)
        self._scalars_end += scalars.nbytes
        self._next_index = index + 1
        self._files.index(
            snapshot_row(
                log_offset=offset,
                log_length=length,
                index=index,
                epoch=data.epoch,
                step=data.step,
                thinned=thinned,
                catalog=self._declared.catalog,
                scalars_offset=start,
                crc32=zlib.crc32(scalars.tobytes()),
            )
        )

    def write_steps(self, steps: np.ndarray, series: Mapping[tuple[str, str], np.ndarray]) -> None:
        """Append per-step statistics: ``steps`` (n,) and ``{(layer, name): values (n,)}``.

        Raises
        ------
        RecordingWriteError
            ``steps.bin`` or the log could not be written; none of these steps is committed.
        ValueError
            A series whose length differs from ``steps``.
        """
        steps, checked = _checked_steps(steps, series)
        with self._lock:
            self._check_open(self.path / STEPS)
            catalog = self._declared.catalog.copy()
            named = catalog.add_steps(checked)
            # every series known, in the catalog's order: the index names a block's columns by
            # their number alone (a series absent from this block is NaN in it)
            block = catalog.step_block(steps, checked)
            payload = steps.tobytes() + block.tobytes()
            target, start = self.path / STEPS, self._steps_end
            self._write_at(target, payload, start, "append step series to")
            self._declared.take_names(catalog, named)
            columns = list(catalog.steps)
            record = steps_record(start, int(steps.size), columns, payload)
            offset, length = self._files.append_log(record, target)
            self._steps_end += len(payload)
            self._files.index(
                steps_row(
                    log_offset=offset,
                    log_length=length,
                    rows=int(steps.size),
                    columns=len(columns),
                    offset=start,
                    crc32=record["crc32"],
                )
            )

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
                self._declared.check(self.path / MANIFEST)
                self._declared.write(closed=True)
            finally:
                self._files.close_log()

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
    def _check_open(self, target: Path) -> None:
        """Before writing ``target``: ValueError if closed, RecordingWriteError if the
        directory is no longer this run's."""
        if self._closed:
            raise ValueError(f"the RecordingWriter for {self.path} is closed")
        self._declared.check(target)

    def _write_npz(self, target: Path, arrays: Mapping[str, np.ndarray]) -> os.stat_result:
        """Write an uncompressed ``.npz`` atomically; return the file's status."""
        # uncompressed: float frames barely compress, and writing stays near disk speed. No
        # array here can need pickle (frames are float32, the probe is checked, the record is a
        # str array), and older numpy has no allow_pickle for savez.
        try:
            return replace_atomically(
                target, lambda file: np.savez(file, **arrays), sync=self._sync
            )
        except OSError as error:
            raise write_error(error, target, "write") from error

    def _write_at(self, target: Path, payload: bytes, offset: int, doing: str) -> None:
        # written at the committed end, not appended: bytes a failed write left past it were
        # never committed and are overwritten here
        try:
            write_at(target, payload, offset, sync=self._sync)
        except OSError as error:
            raise write_error(error, target, doing) from error


def _checked_steps(
    steps: np.ndarray, series: Mapping[tuple[str, str], np.ndarray]
) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]:
    """``write_steps``'s arguments as int64 and float64 vectors; ValueError for a series whose
    length differs from ``steps``."""
    steps = np.asarray(steps, dtype="<i8").ravel()
    checked = {}
    for key, values in series.items():
        checked[key] = np.asarray(values, dtype=np.float64).ravel()
        if checked[key].shape != steps.shape:
            raise ValueError(
                f"step series {key} has {checked[key].size} values for {steps.size} steps"
            )
    return steps, checked
