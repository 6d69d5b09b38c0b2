"""Reading a recording directory into a Recording, and later whatever was added to it.

Opening reads the manifest, the probe and the index of the log (``index.bin``, read in one
call): each snapshot's epoch, step and the names of its statistics, metrics and quantities are
known from them; a statistic or metric is read a column at a time when asked for, a snapshot's
record (frames, missing reasons) the first time the snapshot is (see
:mod:`~nnviz_widgets.store.indexed`). Opening therefore costs about the same whatever the number
of snapshots. A record without a sound index row (written before the index existed, its row not
written yet or damaged) is read from the log as before, parsed and appended whole
(:mod:`~nnviz_widgets.store.replay`). Nothing is ever unpickled, every path must stay inside the
directory and lead to a regular file, and every value is checked before it is used: a bad record
costs that record. Before it appends what it read, the reader checks that the directory still
holds the run it opened (the manifest's run id); once another run replaced it, it appends
nothing more, stops following and says so (``docs/format.md``, "Reading and following").

The reader fills the Recording it builds through its public writing methods and is kept by it
as its source: ``Recording.refresh`` and ``Recording.close`` call :meth:`RecordingReader.refresh`
and :meth:`RecordingReader.close`.
"""

from __future__ import annotations

import gc
import os
import threading
import warnings
import weakref
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
from nnviz_widgets.store import fields
from nnviz_widgets.store.archive import read_arrays
from nnviz_widgets.store.format import (
    MANIFEST,
    SNAPSHOT_NAME,
    RecordingFormatError,
    RecordingStoreWarning,
    inside_directory,
    open_regular,
)
from nnviz_widgets.store.indexed import IndexedParts, catalog_of
from nnviz_widgets.store.manifest import Replaced, RunCheck, manifest_stamp, read_manifest
from nnviz_widgets.store.records import SnapshotFiles
from nnviz_widgets.store.replay import LogReplay
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
        # raises Replaced once another run holds the directory; _replaced then says why
        self._same_run = RunCheck(self.path, self.manifest.get("run"))
        self._replaced: str | None = None

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
        if probe is not None and "input" in probe["arrays"] and not recording.probe:
            target = inside_directory(self.path, probe["file"], "the probe file")
            try:  # checked as a snapshot's frames are (store/archive.py)
                arrays = read_arrays(target, probe["arrays"], "the probe file")
                recording.set_probe(arrays["input"], arrays.get("target"))
            except (OSError, ValueError) as error:
                self._warn(
                    f"the probe batch in {target} could not be read ({error}); "
                    "the recording opens without it"
                )

    def _apply_index(self) -> None:
        """Take the names the manifest's index knows; a malformed index is read as none."""
        if self.manifest.get("index") is None:
            return
        try:
            catalog = catalog_of(self.manifest, self._layers)
        except ValueError as error:
            self._warn(
                f"the index entry of {self.path / MANIFEST} is malformed ({error}); the log is "
                "read instead, which is slower"
            )
            return
        if self._indexed is None:
            self._indexed = IndexedParts(
                self.path, self.manifest, catalog, self._files, lambda: self._layers, self._same_run
            )
        else:
            self._indexed.use(catalog)

    def _reload_manifest(self, recording: FilledRecording) -> None:
        manifest, stamp = read_manifest(self.path)
        self._same_run.compare(manifest.get("run"))  # never another run's layers and names
        self.manifest, self._manifest_stamp = manifest, stamp
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
            if self._replaced is not None:
                return 0  # another run's now: nothing of it is this recording's
            count = len(recording)
            try:
                self._read(recording, initial=initial)
            except Replaced as error:
                self._stop_replaced(str(error), initial=initial)
            return len(recording) - count

    def _read(self, recording: FilledRecording, *, initial: bool) -> None:
        """Append what was committed since the last look (Replaced if the directory no longer
        holds the run opened: nothing read since that is appended)."""
        if not initial and manifest_stamp(self.path) not in (None, self._manifest_stamp):
            self._reload_manifest(recording)
        log = inside_directory(self.path, self.manifest["log"], "the log")
        try:
            with open_regular(log, "the log") as file:
                size = os.fstat(file.fileno()).st_size
        except FileNotFoundError:
            size = 0
            if initial:
                self._warn_no_log(log)
        segments = self._plan(recording, size)
        if any(segment[0] == "rows" for segment in segments):
            self._same_run()  # the rows read are the run's own
        for segment in segments:
            if segment[0] == "log":
                self._read_log(recording, log, segment[1:], initial=initial)
            else:
                self._take_rows(recording, segment[1], initial=initial)

    def _stop_replaced(self, reason: str, *, initial: bool) -> None:
        """The directory no longer holds the run opened: refuse it (opening), or stop."""
        message = f"the recording directory {self.path} was replaced: {reason}"
        if initial:
            raise RecordingFormatError(f"{message}, while it was being opened; open it again")
        self._replaced = reason
        if self._follower is not None:
            self._follower.stop(wait=False)
        warn_quietly(
            f"{message}. Stopped following it: the {len(self._recording() or ())} snapshot(s) "
            "read before stay those of the run opened; open the directory again to see the "
            "new run",
            RecordingStoreWarning,
        )

    def _warn_no_log(self, log: Path) -> None:
        """Say so when the log is missing but snapshot files are there (it commits them)."""
        folder = inside_directory(self.path, self.manifest["snapshots"], "the snapshot folder")
        try:
            count = sum(1 for entry in os.scandir(folder) if SNAPSHOT_NAME.match(entry.name))
        except OSError:
            count = 0
        if count:
            self._warn(
                f"the log {log} is missing, but {folder} holds {count} snapshot file(s): the "
                "log is what commits them, so the recording opens without them (was the log "
                "deleted?)"
            )

    def _plan(self, recording: FilledRecording, log_size: int) -> list[tuple]:
        """What to read, in the log's order: ``("rows", index rows)`` and ``("log", start,
        end)`` (see :func:`~nnviz_widgets.store.index.plan`)."""
        if self._indexed is None:
            return [("log", self._log_offset, log_size)] if log_size > self._log_offset else []

        def newer_names() -> bool:  # rows need names our copy of the manifest may lack
            if manifest_stamp(self.path) == self._manifest_stamp:
                return False
            self._reload_manifest(recording)
            return True

        segments, read = self._indexed.plan(
            self._index_offset, self._log_offset, log_size, newer_names
        )
        self._index_offset += read
        return segments

    def _take_rows(self, recording: FilledRecording, rows: np.ndarray, *, initial: bool) -> None:
        """Append the snapshots and steps of index rows without reading their records: all at
        once when opening, one snapshot at a time (listeners called for each) after."""
        count = len(recording)
        runs = self._indexed.append(recording, rows, each=not initial)
        self._warn_lost(runs, count)
        self._log_offset = int(rows["log_offset"][-1]) + int(rows["log_length"][-1])

    def _warn_lost(self, runs: np.ndarray, count: int) -> None:
        """Warn of snapshots of the run never written, before any of these (the run's indices
        of snapshots ``count`` onwards)."""
        expected = np.concatenate(([self._last_run + 1], runs[:-1] + 1))
        for i in np.flatnonzero(runs > expected):
            self._warn_lost_before(range(int(expected[i]), int(runs[i])), count + int(i))
        if runs.size:
            self._last_run = int(runs[-1])

    def _warn_lost_before(self, lost: range | list, position: int) -> None:
        listed = ", ".join(map(str, lost)) if len(lost) <= 10 else f"{lost[0]} to {lost[-1]}"
        self._warn(
            f"snapshot(s) {listed} of the run were never written to {self.path} (a write "
            f"failed at the time); snapshot {position} here is the run's snapshot {lost[-1] + 1}"
        )

    def _read_log(
        self, recording: FilledRecording, log: Path, span: tuple[int, int], *, initial: bool
    ) -> None:
        """Parse the log's complete lines in ``span`` (bytes) and append what they commit."""

        def place(record: dict, position: int) -> str | None:
            try:
                lost = fields.integers(record.get("lost") or [], "'lost'")
                index = fields.integer(record.get("index", self._last_run + 1), "'index'")
            except ValueError as error:
                return str(error)
            if index <= self._last_run:
                return (
                    f"its place in the run ({index}) is not after the last snapshot read "
                    f"({self._last_run}): a copy, or a line out of place"
                )
            if lost:
                self._warn_lost_before(lost, position)
            self._last_run = index
            return None

        replay = LogReplay(
            self.path, self.manifest, self._files, lambda layer: self._known_layer(layer, recording)
        )
        _, self._log_offset = replay.read(recording, log, span, initial, place, self._same_run)

    # -------------------------------------------------------------------------- helpers
    def _follow_once(self) -> bool:
        """One look while following; False when there is nothing left to follow."""
        if self._recording is None or self._recording() is None:
            return False  # the recording is gone: nothing left to follow for
        self.refresh()
        # the writer marks the manifest closed after its last log line, and each refresh reads
        # the manifest before the log: nothing more can come
        return not self.manifest.get("closed") and self._replaced is None

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
        The manifest is malformed, of an unsupported version, or names a path outside ``path``;
        the manifest or the log is not a regular file; or another run replaced the directory
        while it was being opened. The message names the file.
    """
    if follow and not poll_interval > 0:
        raise ValueError(f"poll_interval must be a positive number of seconds, got {poll_interval}")
    reader = RecordingReader(path)
    recording = reader.load(cls)
    if follow:
        reader.follow(poll_interval)
    return recording
