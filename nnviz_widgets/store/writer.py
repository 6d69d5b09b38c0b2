"""Writing a recording directory, one snapshot at a time: the writer a Recorder uses.

:class:`RecordingWriter` commits each snapshot whole or not at all (``docs/format.md``, "How
writing stays safe"): the snapshot's ``.npz`` file is written under a temporary name, flushed and
renamed, its statistics and metrics are written past the end of ``scalars.bin``, and only then is
its line appended to the log; a row of the index (``index.bin``) follows, so that a reader can
open the recording without reading the log. Before each write it checks that the directory is
still its run's (the manifest's run id): a writer whose directory another replaced stops,
rather than mix its snapshots into the other run's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store.catalog import Catalog
from nnviz_widgets.store.files import (
    Appender,
    append_whole,
    open_for_append,
    prepare_directory,
    replace_atomically,
    write_at,
)
from nnviz_widgets.store.format import (
    INDEX,
    LOG,
    MANIFEST,
    PROBE,
    SCALARS,
    SNAPSHOT_DIR,
    STEPS,
    RecordingStoreWarning,
    RecordingWriteError,
    dumps,
    file_stamp,
    jsonable,
    write_error,
)
from nnviz_widgets.store.index import MAX_METRICS, snapshot_row, steps_row
from nnviz_widgets.store.log import snapshot_record, steps_record
from nnviz_widgets.store.manifest import OwnManifest
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
        self._catalog = Catalog()  # the names the index knows, in the manifest
        # not flushed to disk: after a power cut a reader checks each row of the index and
        # parses the log past the last sound one
        self._rows = Appender(self.path / INDEX, sync=False)
        self._index_failed = False
        self._layers: dict[str, dict] = {}
        self._probe: list[str] = []
        self._max_bytes = int(max_bytes) if max_bytes is not None else None
        self._manifest = OwnManifest(self.path, sync=self._sync)
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
            self._check_open(self.path / MANIFEST)
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
            self._check_open(self.path / PROBE)
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
            relative = f"{SNAPSHOT_DIR}/{index:06d}.npz"
            target = self.path / relative
            self._check_open(target)
            if index < self._next_index:
                raise ValueError(
                    f"snapshot {index} was already written to {self.path}; the next one is "
                    f"{self._next_index}"
                )
            arrays, listed, stored = snapshot_arrays(index, data, target, self._check_layer)
            thinned = thinned or data.thinned
            record = snapshot_record(
                index, relative, data, listed, thinned=thinned, lost=range(self._next_index, index)
            )
            catalog = self._catalog.copy()
            named = catalog.add_snapshot(data)
            if len(catalog.metrics) > MAX_METRICS:
                raise ValueError(f"a recording holds at most {MAX_METRICS} metrics by name")
            record["run"] = self._manifest.run
            # the snapshot file carries its own record too, so it can be understood alone
            arrays["meta"] = np.array(dumps(record))
            status = self._write_npz(target, arrays)
            record["bytes"] = status.st_size
            stored.stamp(file_stamp(status))
            self._commit_snapshot(
                index, data, record, target, catalog, named=named, thinned=thinned
            )
            return stored

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
        self._take_names(catalog, named)
        offset, length = self._append_log(record, target)
        self._scalars_end += scalars.nbytes
        self._next_index = index + 1
        self._index(
            snapshot_row(
                log_offset=offset,
                log_length=length,
                index=index,
                epoch=data.epoch,
                step=data.step,
                thinned=thinned,
                catalog=self._catalog,
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
        steps = np.asarray(steps, dtype="<i8").ravel()
        checked = {}
        for key, values in series.items():
            checked[key] = np.asarray(values, dtype=np.float64).ravel()
            if checked[key].shape != steps.shape:
                raise ValueError(
                    f"step series {key} has {checked[key].size} values for {steps.size} steps"
                )
        with self._lock:
            self._check_open(self.path / STEPS)
            catalog = self._catalog.copy()
            named = catalog.add_steps(checked)
            # every series known, in the catalog's order: the index names a block's columns by
            # their number alone (a series absent from this block is NaN in it)
            block = catalog.step_block(steps, checked)
            payload = steps.tobytes() + block.tobytes()
            target, start = self.path / STEPS, self._steps_end
            self._write_at(target, payload, start, "append step series to")
            self._take_names(catalog, named)
            columns = list(catalog.steps)
            record = steps_record(start, int(steps.size), columns, payload)
            offset, length = self._append_log(record, target)
            self._steps_end += len(payload)
            self._index(
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
                self._manifest.check(self.path / MANIFEST)
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
    def _check_open(self, target: Path) -> None:
        """Before writing ``target``: ValueError if closed, RecordingWriteError if the
        directory is no longer this run's."""
        if self._closed:
            raise ValueError(f"the RecordingWriter for {self.path} is closed")
        self._manifest.check(target)

    def _check_layer(self, layer: str) -> None:
        if layer not in self._layers:
            raise ValueError(
                f"layer {layer!r} was not declared with write_layers(); declared: "
                f"{', '.join(map(repr, self._layers)) or 'none'}"
            )

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

    def _append_log(self, record: dict, data_path: Path) -> tuple[int, int]:
        """Commit a record: its line appended to the log; return where it lies (offset, bytes)."""
        log = self.path / LOG
        line = (dumps(record) + "\n").encode("utf-8")
        try:
            if self._log_fd is None:
                raise OSError(errno.EBADF, "the log is not open")
            return append_whole(self._log_fd, line, sync=self._sync), len(line)
        except OSError as error:
            raise write_error(error, log, f"commit {data_path.name} to") from error

    def _write_at(self, target: Path, payload: bytes, offset: int, doing: str) -> None:
        # written at the committed end, not appended: bytes a failed write left past it were
        # never committed and are overwritten here
        try:
            write_at(target, payload, offset, sync=self._sync)
        except OSError as error:
            raise write_error(error, target, doing) from error

    def _take_names(self, catalog: Catalog, named: bool) -> None:
        """Take the catalog with a record's names, just before the record is committed; if any
        is new (``named``), write the manifest first: a reader never meets an index row that
        needs a name its manifest lacks."""
        previous, self._catalog = self._catalog, catalog
        if named:
            try:
                self._write_manifest()
            except RecordingWriteError:
                self._catalog = previous
                raise

    def _index(self, row: bytes) -> None:
        """Write an index row after its record is committed. A failure costs readers time, never
        data (they parse the log where the index stops): it is reported once, and the row
        written again with the next (:class:`~nnviz_widgets.store.files.Appender`)."""
        error = self._rows.append(row)
        if error is not None and not self._index_failed:
            self._index_failed = True
            warnings.warn(
                f"could not write the index of {self.path} ({error}); readers will parse the "
                "log instead, which is slower",
                RecordingStoreWarning,
                stacklevel=4,
            )

    def _write_manifest(self, *, closed: bool = False) -> None:
        fields = {"layers": self._layers, "probe": self._probe, "max_bytes": self._max_bytes}
        try:
            self._manifest.write(**fields, closed=closed, index=self._catalog.to_json())
        except OSError as error:
            raise write_error(error, self.path / MANIFEST, "write") from error

    def _close_log(self) -> None:
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_fd)
            self._log_fd = None
