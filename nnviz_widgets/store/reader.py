"""Reading a recording directory into a Recording, and later whatever was added to it.

Opening reads the manifest, the probe and the index of the log (``index.bin``: one small row per
record, read in one call): a snapshot's epoch, step, statistics and metrics are known from it
without reading its log record, its statistics and metrics are read a column at a time when
asked for (:mod:`~nnviz_widgets.store.stored_columns`), and its record (frames, missing
reasons) the first time the snapshot is asked about (:mod:`~nnviz_widgets.store.records`).
Opening therefore costs about the same whatever the number of snapshots. Records without a
sound index row (a recording written before the index existed, a row not written yet, a damaged
one) are read from the log as before: parsed, decoded and appended whole. Frames are
:class:`~nnviz_widgets.store.stored_frame.StoredFrame` objects read when asked for. Nothing is
ever unpickled: every array is read with ``allow_pickle=False``, and every path written in the
manifest or log must stay inside the recording directory (``docs/format.md``, "Reading and
following").

The reader builds the Recording it is given the class of (or a factory), fills it through its
public writing methods, and is kept by it as its source: ``Recording.refresh`` and
``Recording.close`` call :meth:`RecordingReader.refresh` and :meth:`RecordingReader.close`.
"""

from __future__ import annotations

import gc
import os
import threading
import warnings
import weakref
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    SnapshotData,
    StoredSnapshots,
    StoredSteps,
)
from nnviz_widgets.store.catalog import Catalog
from nnviz_widgets.store.format import (
    LOG,
    MANIFEST,
    RecordingFormatError,
    RecordingStoreWarning,
    inside_directory,
)
from nnviz_widgets.store.index import ROW, SNAPSHOT, plan
from nnviz_widgets.store.indexed import IndexedParts
from nnviz_widgets.store.log import (
    decode_snapshot,
    decode_steps,
    merge_step_blocks,
    parse_lines,
    step_span,
)
from nnviz_widgets.store.manifest import manifest_stamp, read_manifest
from nnviz_widgets.store.records import SnapshotFiles
from nnviz_widgets.threads import Repeater, warn_quietly

__all__ = ["RecordingReader", "open_recording"]

Steps = tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]


class FilledRecording(Protocol):
    """What the reader needs of the Recording it fills: its public writing methods."""

    probe: dict[str, np.ndarray]

    def __len__(self) -> int: ...
    def set_layers(self, infos: Mapping[str, dict]) -> None: ...
    def set_probe(self, input: np.ndarray, target: np.ndarray | None = None) -> None: ...
    def append_snapshot(self, data: SnapshotData) -> int: ...
    def append_steps(self, steps: np.ndarray, series: Mapping) -> None: ...
    def append_stored(self, stored: StoredSnapshots) -> int: ...
    def append_stored_steps(self, stored: StoredSteps) -> None: ...


#: Builds the Recording to fill, given its memory budget and its source (the reader).
Factory = Callable[..., FilledRecording]


class RecordingReader:
    """Reads a recording directory into a Recording, and later whatever was added.

    Kept by a Recording opened from disk (``Recording.open``) as its source; :meth:`refresh`
    appends the snapshots and steps committed to the log since the last call. Not public: use
    ``Recording.open`` and ``Recording.refresh``.

    Parameters
    ----------
    path : str or os.PathLike
        The recording directory.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        # held while reading the log and appending: the poller and a refresh() by hand take
        # turns; re-entrant because a listener may call refresh() again
        self._lock = threading.RLock()
        self._recording: weakref.ref[FilledRecording] | None = None
        self._log_offset = 0  # bytes of the log already read (through the index or not)
        self._index_offset = 0  # bytes of the index already read
        self._last_run = -1  # the run's index of the last snapshot read
        self._layers: set[str] = set()
        self._files = SnapshotFiles(self.path)
        self._indexed: IndexedParts | None = None  # None: the recording has no index
        self._follower: Repeater | None = None
        self.manifest, self._manifest_stamp = read_manifest(self.path)

    # -------------------------------------------------------------------------- public
    def load(self, factory: Factory) -> FilledRecording:
        """Build the Recording with ``factory(max_bytes=..., source=self)`` from what is on
        disk now (frames stay on disk)."""
        max_bytes = self.manifest.get("max_bytes") or DEFAULT_MAX_BYTES
        recording = factory(max_bytes=int(max_bytes), source=self)
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
        if self._follower is None:
            self._follower = Repeater(
                self._follow_once, float(interval), f"follow {self.path}", on_error=self._failed
            )

    def close(self) -> None:
        """Stop following; calling it again does nothing."""
        if self._follower is not None:
            self._follower.stop()

    @property
    def following(self) -> bool:
        """Whether the background poller is running."""
        return self._follower is not None and self._follower.alive

    # -------------------------------------------------------------------------- manifest
    def _apply_manifest(self, recording: FilledRecording) -> None:
        infos = {}
        for entry in self.manifest["layers"]:
            infos[str(entry["name"])] = dict(entry.get("info") or {})
        recording.set_layers(infos)
        self._layers = set(infos)
        self._apply_index()
        probe = self.manifest.get("probe")
        if probe is not None and probe.get("arrays") and not recording.probe:
            target = inside_directory(self.path, probe["file"], "the probe file")
            try:
                with np.load(target, allow_pickle=False) as archive:
                    arrays = {name: archive[name] for name in probe["arrays"]}
                recording.set_probe(arrays["input"], arrays.get("target"))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                self._warn(
                    f"the probe batch in {target} could not be read ({error}); "
                    "the recording opens without it"
                )

    def _apply_index(self) -> None:
        """Take the names the manifest's index knows; a malformed index is read as none."""
        entry = self.manifest.get("index")
        if entry is None:
            return
        try:
            catalog = Catalog.from_json(entry)
            if not (isinstance(entry.get("file"), str) and isinstance(entry.get("scalars"), str)):
                raise ValueError("'file' and 'scalars' must name files")
            unknown = {layer for layer, _ in catalog.keys} - self._layers
            if unknown:
                raise ValueError(f"it names layers the manifest does not: {sorted(unknown)}")
        except ValueError as error:
            self._warn(
                f"the index entry of {self.path / MANIFEST} is malformed ({error}); the log is "
                "read instead, which is slower"
            )
            return
        if self._indexed is None:
            self._indexed = IndexedParts(
                self.path, self.manifest, catalog, self._files, lambda: self._layers
            )
        else:
            self._indexed.use(catalog)

    def _reload_manifest(self, recording: FilledRecording) -> None:
        self.manifest, self._manifest_stamp = read_manifest(self.path)
        self._apply_manifest(recording)

    def _known_layer(self, layer: str, recording: FilledRecording) -> None:
        # the writer updates the manifest before committing a snapshot that needs it, so a layer
        # we do not know yet means our copy of the manifest is older than this record
        if layer not in self._layers:
            self._reload_manifest(recording)
            if layer not in self._layers:
                raise ValueError(f"layer {layer!r} is not declared in {MANIFEST}")

    # -------------------------------------------------------------------------- reading
    def _refresh(self, recording: FilledRecording, *, initial: bool) -> int:
        with self._lock:
            if not initial and manifest_stamp(self.path) not in (None, self._manifest_stamp):
                self._reload_manifest(recording)
            log = inside_directory(self.path, self.manifest["log"], "the log")
            try:
                size = os.stat(log).st_size
            except FileNotFoundError:
                size = 0
            added = 0
            for segment in self._plan(recording, size):
                if segment[0] == "log":
                    added += self._read_log(recording, log, *segment[1:], initial=initial)
                else:
                    added += self._take_rows(recording, segment[1], initial=initial)
            return added

    def _plan(self, recording: FilledRecording, log_size: int) -> list[tuple]:
        """What to read, in the log's order: ``("rows", index rows)`` and ``("log", start,
        end)`` (see :func:`~nnviz_widgets.store.index.plan`)."""
        if self._indexed is None:
            return [("log", self._log_offset, log_size)] if log_size > self._log_offset else []
        rows, sound = self._indexed.read(self._index_offset)
        usable = self._indexed.usable(rows, sound)
        if (sound & ~usable).any() and manifest_stamp(self.path) != self._manifest_stamp:
            # rows that need names our copy of the manifest is too old to have
            self._reload_manifest(recording)
            usable = self._indexed.usable(rows, sound)
        planned = plan(rows, usable, self._log_offset, log_size)
        self._index_offset += planned.rows_read * ROW.itemsize
        return [
            ("rows", rows[segment[1]]) if segment[0] == "rows" else segment
            for segment in planned.segments
        ]

    def _take_rows(self, recording: FilledRecording, rows: np.ndarray, *, initial: bool) -> int:
        """Append the snapshots and steps of index rows without reading their records: all at
        once when opening, one snapshot at a time (listeners called for each) after."""
        indexed = self._indexed
        is_snapshot = rows["kind"] == SNAPSHOT
        snapshots = np.compress(is_snapshot, rows)  # many times faster than rows[is_snapshot]
        self._warn_lost(snapshots["count"].astype(np.int64), len(recording))
        for batch in indexed.snapshots(snapshots, each=not initial):
            recording.append_stored(batch)
        steps = indexed.step_blocks(np.compress(~is_snapshot, rows))
        if steps is not None:
            recording.append_stored_steps(steps)
        self._log_offset = int(rows["log_offset"][-1]) + int(rows["log_length"][-1])
        return len(snapshots)

    def _warn_lost(self, runs: np.ndarray, count: int) -> None:
        """Warn of snapshots of the run never written, before any of these (the run's indices
        of snapshots ``count`` onwards)."""
        expected = np.concatenate(([self._last_run + 1], runs[:-1] + 1))
        for i in np.flatnonzero(runs > expected):
            self._warn_lost_before(range(int(expected[i]), int(runs[i])), count + int(i))
        if runs.size:
            self._last_run = int(runs[-1])

    def _warn_lost_before(self, lost: range | list, position: int) -> None:
        self._warn(
            f"snapshot(s) {', '.join(map(str, lost))} of the run were never written to "
            f"{self.path} (a write failed at the time); snapshot {position} here is the run's "
            f"snapshot {lost[-1] + 1}"
        )

    def _read_log(
        self, recording: FilledRecording, log: Path, start: int, end: int, *, initial: bool
    ) -> int:
        """Parse the log's complete lines from ``start`` to ``end`` and append what they commit."""
        try:
            with open(log, "rb") as file:
                file.seek(start)
                data = file.read(end - start)
        except FileNotFoundError:
            data = b""
        complete = data.rfind(b"\n") + 1  # a line without its newline is still being written
        self._log_offset = start + complete
        records, damaged = parse_lines(data[:complete])
        for number, error in damaged:
            self._warn(
                f"line {number} of the new part of {log} is damaged ({error}); it was skipped"
            )
        return self._replay(recording, records, self._read_steps(records), initial=initial)

    def _replay(
        self,
        recording: FilledRecording,
        records: list[dict],
        step_bytes: tuple[int, bytes],
        *,
        initial: bool,
    ) -> int:
        """Append what the records commit; when opening (``initial``), a record naming a path
        outside the directory refuses the whole recording, and steps make one append."""
        step_blocks = []
        added = 0
        for record in records:
            if record.get("kind") == "snapshot":
                data = self._snapshot(record, recording, refuse=initial)
                if data is not None:
                    recording.append_snapshot(data)
                    if record.get("lost"):
                        self._warn_lost_before(record["lost"], len(recording) - 1)
                    self._last_run = int(record.get("index", self._last_run + 1))
                    added += 1
            elif record.get("kind") == "steps":
                block = self._steps(record, *step_bytes)
                if block is not None and initial:
                    step_blocks.append(block)  # one call, whatever the number of blocks
                elif block is not None:
                    recording.append_steps(*block)
        if step_blocks:
            recording.append_steps(*merge_step_blocks(step_blocks))
        return added

    def _snapshot(
        self, record: dict, recording: FilledRecording, *, refuse: bool
    ) -> SnapshotData | None:
        """The snapshot a record commits; None (and a warning) if it cannot be read.

        A path outside the directory raises :class:`RecordingFormatError` when ``refuse``;
        otherwise (while following) it is reported and the records after it still count.
        """
        try:
            target, damage = self._files.check(record)
            if damage:
                self._warn(
                    f"the snapshot file {target} is {damage}; its frames are reported missing, "
                    "the other snapshots are intact"
                )
            return decode_snapshot(
                record,
                target,
                damage,
                len(recording),
                lambda layer: self._known_layer(layer, recording),
            )
        except RecordingFormatError as error:
            if refuse:
                raise
            self._warn(f"{error}; the snapshot was skipped")
            return None
        except (KeyError, TypeError, ValueError) as error:
            self._warn(f"a snapshot record in {self.path / LOG} is malformed ({error!r}); skipped")
            return None

    def _read_steps(self, records: list[dict]) -> tuple[int, bytes]:
        """Read, in one go, the part of the step file these records commit: (offset, bytes)."""
        span = step_span(records)
        if span is None:
            return 0, b""
        start, end = span
        target = inside_directory(self.path, self.manifest["steps"], "the step series file")
        try:
            with open(target, "rb") as file:
                file.seek(start)
                return start, file.read(end - start)
        except OSError as error:
            self._warn(f"the step series file {target} could not be read ({error})")
            return start, b""

    def _steps(self, record: dict, base: int, buffer: bytes) -> Steps | None:
        try:
            return decode_steps(record, base, buffer, self.path / self.manifest["steps"])
        except (KeyError, TypeError, ValueError) as error:
            self._warn(f"a block of step series could not be read ({error}); it was skipped")
            return None

    # -------------------------------------------------------------------------- helpers
    def _follow_once(self) -> bool:
        """One look while following; False when there is nothing left to follow."""
        if self._recording is None or self._recording() is None:
            return False  # the recording is gone: nothing left to follow for
        self.refresh()
        # the writer marks the manifest closed after its last log line, and each refresh reads
        # the manifest before the log: nothing more can come
        return not self.manifest.get("closed")

    def _failed(self, error: Exception) -> None:
        # the poller outlives a bad read: say so and go on
        message = f"following {self.path} failed once: {type(error).__name__}: {error}"
        warn_quietly(message, RecordingStoreWarning)

    def _warn(self, message: str) -> None:
        warnings.warn(message, RecordingStoreWarning, stacklevel=3)


def open_recording(
    path: str | os.PathLike,
    *,
    cls: Factory,
    follow: bool = False,
    poll_interval: float = 0.5,
) -> FilledRecording:
    """Open a recording directory lazily; what ``Recording.open`` does.

    Parameters
    ----------
    path : str or os.PathLike
        The recording directory.
    cls : type or callable
        The Recording class to build (or any factory called as ``cls(max_bytes=...,
        source=reader)``).
    follow : bool
        Also start a daemon thread that calls ``refresh()`` every ``poll_interval`` seconds, to
        pick up snapshots another process is still writing; ``Recording.close()`` stops it.
    poll_interval : float
        Seconds between two looks at the log when following.

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
