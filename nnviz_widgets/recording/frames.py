"""A Recording's frames: one entry per snapshot and (layer, quantity), kept within a memory budget.

Each snapshot holds, per (layer, quantity), a read-only float32 array in memory (the tensor
itself), a :class:`~nnviz_widgets.recording.previews.HalfFrame` (the block-mean preview of a
larger tensor), a :class:`~nnviz_widgets.recording.types.LazyFrame` whose data lies on disk (it
costs no memory), or nothing where the frame is missing (and the reason given). Beside it, per
frame: the full tensor's shape and its place on disk when the entry is a preview, and the
histogram of its values.

Snapshots of a recording opened from disk are appended as
:class:`~nnviz_widgets.recording.types.StoredSnapshots`: a place each, filled from the store the
first time one of their frames is asked about, so that opening costs nothing per snapshot
(``docs/format.md``, "Reading and following").

Past the budget (``max_bytes``), memory is freed in this order:

1. frames that are also on disk (the Recorder wrote them there) leave memory, oldest first, and
   stay readable from disk;
2. the frames of every other snapshot are dropped ("thinned"), never the first or the newest
   while others are left, never a snapshot still on its way to disk ("storing": the writer's
   queue is bounded, so the overrun is too). A dropped frame that reaches the disk later comes
   back, read from there.

The scalar statistics, metrics and step series are never thinned: they are small and live
elsewhere (:mod:`~nnviz_widgets.recording.columns`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping

import numpy as np

from nnviz_widgets.recording.previews import HalfFrame
from nnviz_widgets.recording.types import LazyFrame, StoredSnapshots

__all__ = ["DROPPED", "FrameSeries", "as_frame", "dropped_message", "entry_values"]

Key = tuple[str, str]
Entry = np.ndarray | HalfFrame | LazyFrame | None

#: The missing reason a saved snapshot gives for a frame it lost to the memory budget.
DROPPED = "dropped to stay within the memory budget"


def as_frame(array: np.ndarray) -> np.ndarray:
    """An array as a frame: float32, contiguous, read-only (a copy only where needed)."""
    frame = np.ascontiguousarray(array, dtype=np.float32)
    frame.flags.writeable = False
    return frame


def entry_values(entry: np.ndarray | HalfFrame | LazyFrame) -> np.ndarray:
    """The values of an entry as a frame (a lazy one is read: call it outside any lock)."""
    if isinstance(entry, HalfFrame):
        return entry.values()
    if isinstance(entry, LazyFrame):
        return as_frame(entry.load())
    return entry


def dropped_message(max_bytes: int, epochs: list[float]) -> str:
    """The warning given when the frames of the snapshots labelled ``epochs`` were dropped."""
    labels = ", ".join(f"{epoch:g}" for epoch in epochs[:10])
    return (
        f"the recording reached its memory budget of {max_bytes / 2**20:.0f} MiB: "
        f"the frames of {len(epochs)} older snapshot(s) (epochs {labels}"
        f"{' ...' if len(epochs) > 10 else ''}) were dropped; their statistics and "
        "metrics are kept. Raise max_bytes, record fewer layers, take fewer snapshots, "
        "or record to disk (Recorder(path=...)) to keep every frame."
    )


class _Snapshot:
    """One snapshot's frames: the entries present, the reasons given for missing ones, and per
    frame that is a preview, the tensor's shape and its place on disk; the histograms."""

    __slots__ = ("entries", "full", "histograms", "missing", "reduced")

    def __init__(self) -> None:
        self.entries: dict[Key, Entry] = {}
        self.missing: dict[Key, str] = {}
        self.reduced: dict[Key, tuple[int, ...]] = {}
        self.full: dict[Key, LazyFrame] = {}
        self.histograms: dict[Key, np.ndarray | LazyFrame] = {}


#: The place of a snapshot whose frames are on disk and not read yet (see ``append_stored``).
_PENDING = object()


class FrameSeries:
    """The frames of every snapshot, per (layer, quantity), within ``max_bytes`` of memory.

    Parameters
    ----------
    max_bytes : int
        The memory budget for frames held in memory, in bytes.

    Notes
    -----
    Not locked: its owner (the Recording) calls every method under its own lock. Indices are
    non-negative snapshot positions, already checked by the owner. Snapshots appended with
    :meth:`append_stored` are read from their store the first time one of their frames is asked
    about, under that lock (once each).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0  # bytes of the frames held in memory
        self._keys: dict[Key, None] = {}  # in the order they first appeared
        self._snapshots: list[_Snapshot | object] = []  # a _Snapshot, or _PENDING
        self._stored_starts: list[int] = []  # where each batch of stored snapshots starts
        self._stored_batches: list[StoredSnapshots] = []
        self._thinned: set[int] = set()  # snapshots whose frames were dropped for memory
        self._stored: dict[int, dict[Key, LazyFrame]] = {}  # in memory and on disk too
        self._stored_histograms: dict[int, dict[Key, LazyFrame]] = {}
        self._storing: set[int] = set()  # on their way to disk: not thinned meanwhile

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._snapshots)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[Key]:
        """The (layer, quantity) keys, in the order they first appeared."""
        return iter(self._keys)

    def get(self, key: Key, index: int) -> Entry:
        """The entry of ``key`` at snapshot ``index``: an array, a preview, a lazy frame, or
        None."""
        return self._at(index).entries.get(key)

    def full_shape(self, key: Key, index: int) -> tuple[int, ...] | None:
        """The tensor's shape when the entry is a preview of it, else None."""
        return self._at(index).reduced.get(key)

    def full(self, key: Key, index: int) -> LazyFrame | None:
        """The full tensor on disk, when the entry is a preview and the tensor was stored."""
        return self._at(index).full.get(key)

    def histogram(self, key: Key, index: int) -> np.ndarray | LazyFrame | None:
        """The histogram of the frame's values, if one was recorded."""
        return self._at(index).histograms.get(key)

    def why_missing(self, key: Key, index: int, epoch: float) -> str:
        """Why the frame of ``key`` at snapshot ``index`` (labelled ``epoch``) is missing, in
        words: the memory budget took it, or the reason given when it was appended."""
        where = f"{key[1]!r} of layer {key[0]!r} at snapshot {index} (epoch {epoch:g})"
        if index in self._thinned:
            return (
                f"{where} was dropped to keep the recording within its memory budget of "
                f"{self.max_bytes / 2**20:.0f} MiB"
            )
        reason = self._at(index).missing.get(key)
        return f"{where} is missing: {reason or 'it was not recorded at this snapshot'}"

    def is_thinned(self, index: int) -> bool:
        """Whether snapshot ``index`` lost its frames to the memory budget."""
        return index in self._thinned

    @property
    def thinned(self) -> tuple[int, ...]:
        """The snapshots whose frames were dropped for memory, in order."""
        return tuple(sorted(self._thinned))

    def extras(self, index: int) -> tuple[dict, dict, dict]:
        """Snapshot ``index``'s full shapes of previews, full tensors on disk, and histograms,
        each ``{key: value}`` (as :class:`~nnviz_widgets.recording.SnapshotData` holds them)."""
        found = self._at(index)
        return dict(found.reduced), dict(found.full), dict(found.histograms)

    def snapshot(self, index: int) -> tuple[dict[Key, Entry], dict[Key, str]]:
        """Every key's entry at ``index``, and the reasons of those missing (as appended).

        A frame dropped for memory is missing with :data:`DROPPED` as its reason.
        """
        found = self._at(index)
        frames = {key: found.entries.get(key) for key in self._keys}
        missing = {}
        for key, entry in frames.items():
            reason = found.missing.get(key)
            if entry is None and reason is None and index in self._thinned:
                reason = DROPPED
            if entry is None and reason is not None:
                missing[key] = reason
        return frames, missing

    # ------------------------------------------------------------------ appending
    def append(
        self,
        frames: Mapping[Key, Entry],
        missing: Mapping[Key, str],
        *,
        thinned: bool = False,
        reduced: Mapping[Key, tuple[int, ...]] | None = None,
        full: Mapping[Key, object] | None = None,
        histograms: Mapping[Key, np.ndarray | LazyFrame] | None = None,
    ) -> int:
        """Add one snapshot; returns its index. Call :meth:`keep_within_budget` after.

        ``frames`` as made by :func:`as_frame` (or lazy, or None), the reasons of the missing
        ones, and (see :class:`~nnviz_widgets.recording.SnapshotData`) the full shapes of the
        frames that are previews, the full tensors on disk (arrays are not kept: full tensors
        belong on disk) and the histograms.
        """
        index = len(self._snapshots)
        # in the order given, so that quantities are listed as the Recorder chose
        self._keys.update(dict.fromkeys([*frames, *missing]))
        found = _Snapshot()
        self.nbytes += _fill(found, frames, missing, reduced or {}, full or {}, histograms or {})
        self._snapshots.append(found)
        if thinned:  # read back from a saved recording that had dropped them
            self._thinned.add(index)
        return index

    def append_stored(self, stored: StoredSnapshots) -> None:
        """Add snapshots whose frames are on disk, read the first time one is asked about."""
        start = len(self._snapshots)
        self._keys.update(dict.fromkeys(stored.keys))
        self._snapshots.extend([_PENDING] * len(stored.epochs))
        self._stored_starts.append(start)
        self._stored_batches.append(stored)
        self._thinned.update((start + np.flatnonzero(stored.thinned)).tolist())

    def _at(self, index: int) -> _Snapshot:
        """Snapshot ``index``'s frames, read from its store first if they were not yet."""
        found = self._snapshots[index]
        if found is not _PENDING:
            return found
        batch = bisect.bisect_right(self._stored_starts, index) - 1
        stored = self._stored_batches[batch]
        data = stored.details(stored.first + index - self._stored_starts[batch], index)
        found = _Snapshot()
        # frames on disk cost no memory: nothing to count against the budget
        _fill(found, data.frames, data.missing, data.reduced, data.full, data.histograms)
        self._snapshots[index] = found
        return found

    # ------------------------------------------------------------------ on the way to disk
    def mark_storing(self, index: int) -> None:
        """Snapshot ``index`` is on its way to disk: do not thin it meanwhile."""
        self._storing.add(index)

    def mark_store_failed(self, index: int) -> None:
        """Snapshot ``index`` could not be written: it may be thinned again."""
        self._storing.discard(index)

    def mark_stored(
        self,
        index: int,
        frames: Mapping[Key, LazyFrame],
        previews: Mapping[Key, LazyFrame] | None = None,
        histograms: Mapping[Key, LazyFrame] | None = None,
    ) -> None:
        """Snapshot ``index``'s frames are also on disk: ``frames`` the full tensors (or the
        frames themselves, where they are not previews), ``previews`` the previews.

        Frames already thinned out come back (read from disk when asked for); the others may
        leave memory first when the budget is reached.
        """
        self._storing.discard(index)
        previews, histograms = previews or {}, histograms or {}
        found = self._at(index)
        on_disk = {}  # what stands for each in-memory entry once it leaves memory
        for key, lazy in frames.items():
            if key in found.reduced:
                found.full[key] = lazy
                if key in previews:
                    on_disk[key] = previews[key]
            else:
                on_disk[key] = lazy
        for key, lazy in previews.items():
            on_disk.setdefault(key, lazy)
        restored = False
        if index in self._thinned:
            for key, lazy in on_disk.items():
                if key in self._keys and found.entries.get(key) is None:
                    found.entries[key] = lazy
                    restored = True
        for key, lazy in histograms.items():
            if not isinstance(found.histograms.get(key), np.ndarray):
                found.histograms[key] = lazy
        if restored:
            self._thinned.discard(index)
        self._stored[index] = on_disk
        self._stored_histograms[index] = dict(histograms)

    # ------------------------------------------------------------------ the budget
    def keep_within_budget(self) -> list[int]:
        """Past the budget, free memory (see the module notes); return the snapshots thinned now.

        Frames that are on disk leave memory first; then the frames of every other snapshot are
        dropped until the budget holds, the newest kept.
        """
        if self.nbytes <= self.max_bytes:
            return []
        self._swap_to_disk()
        newly = []
        # snapshots with nothing in memory to drop, or on their way to disk
        skipped: set[int] = set(self._storing)
        while self.nbytes > self.max_bytes:
            count = len(self._snapshots)
            kept = [i for i in range(count) if i not in self._thinned and i not in skipped]
            # candidates: every other kept snapshot, never the first or the newest
            candidates = kept[1:-1][::2]
            if not candidates:
                # only the first and newest are left: drop the first too, keep the newest
                candidates = kept[:-1]
            if not candidates:
                break
            for index in candidates:
                if self._drop(index):
                    self._thinned.add(index)
                    newly.append(index)
                else:
                    skipped.add(index)
        return sorted(newly)

    def _drop(self, index: int) -> bool:
        """Drop the in-memory frames of snapshot ``index``; whether there were any."""
        found = self._snapshots[index]
        if found is _PENDING:
            return False  # on disk, never read: nothing in memory
        dropped = False
        for key, entry in list(found.entries.items()):
            if isinstance(entry, np.ndarray | HalfFrame):
                self.nbytes -= _nbytes(entry)
                found.entries[key] = None
                dropped = True
        for key, counts in list(found.histograms.items()):
            if isinstance(counts, np.ndarray):
                self.nbytes -= counts.nbytes
                del found.histograms[key]
        return dropped

    def _swap_to_disk(self) -> None:
        """Let in-memory frames that are also on disk go, oldest first, the newest kept."""
        newest = len(self._snapshots) - 1
        for index in sorted(self._stored):
            if self.nbytes <= self.max_bytes:
                return
            if index == newest:
                continue
            found = self._at(index)
            for key, lazy in self._stored.pop(index).items():
                entry = found.entries.get(key)
                if key in self._keys and isinstance(entry, np.ndarray | HalfFrame):
                    self.nbytes -= _nbytes(entry)
                    found.entries[key] = lazy
            for key, lazy in self._stored_histograms.pop(index, {}).items():
                if isinstance(found.histograms.get(key), np.ndarray):
                    self.nbytes -= found.histograms[key].nbytes
                    found.histograms[key] = lazy


def _fill(
    found: _Snapshot,
    frames: Mapping[Key, Entry],
    missing: Mapping[Key, str],
    reduced: Mapping[Key, tuple[int, ...]],
    full: Mapping[Key, object],
    histograms: Mapping[Key, np.ndarray | LazyFrame],
) -> int:
    """Put one snapshot's frames into ``found``; return the bytes they hold in memory."""
    nbytes = 0
    found.missing.update(missing)
    for key, entry in frames.items():
        if entry is None:
            continue
        if key in reduced and isinstance(entry, np.ndarray):
            entry = HalfFrame(entry)  # a preview: half the bytes
        found.entries[key] = entry
        nbytes += _nbytes(entry)
        if key in reduced:
            found.reduced[key] = tuple(int(n) for n in reduced[key])
        if isinstance(full.get(key), LazyFrame):
            found.full[key] = full[key]
        counts = histograms.get(key)
        if counts is not None:
            if isinstance(counts, np.ndarray):  # float32: exact up to 2**24 a bin, 4 bytes
                counts = np.asarray(counts, dtype=np.float32)
                counts.flags.writeable = False
                nbytes += counts.nbytes
            found.histograms[key] = counts
    return nbytes


def _nbytes(entry: Entry) -> int:
    """Memory an entry holds (a lazy frame: none)."""
    return entry.nbytes if isinstance(entry, np.ndarray | HalfFrame) else 0
