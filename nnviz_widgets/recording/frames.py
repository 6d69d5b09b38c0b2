"""A Recording's frames: one series per (layer, quantity), kept within a memory budget.

Each series holds one entry per snapshot: a read-only float32 array in memory (the tensor
itself), a :class:`~nnviz_widgets.recording.previews.HalfFrame` (the block-mean preview of a
larger tensor), a :class:`~nnviz_widgets.recording.types.LazyFrame` whose data lies on disk (it
costs no memory), or None where the frame is missing. Beside it, per frame: the full tensor's
shape and its place on disk when the entry is a preview, and the histogram of its values.

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

from collections.abc import Iterator, Mapping

import numpy as np

from nnviz_widgets.recording.previews import HalfFrame
from nnviz_widgets.recording.types import LazyFrame

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


class FrameSeries:
    """The frames of every snapshot, per (layer, quantity), within ``max_bytes`` of memory.

    Parameters
    ----------
    max_bytes : int
        The memory budget for frames held in memory, in bytes.

    Notes
    -----
    Not locked: its owner (the Recording) calls every method under its own lock. Indices are
    non-negative snapshot positions, already checked by the owner.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0  # bytes of the frames held in memory
        self._count = 0  # snapshots appended: every series has this many entries
        self._series: dict[Key, list[Entry]] = {}
        self._missing: dict[Key, dict[int, str]] = {}  # the reasons given when appended
        self._thinned: set[int] = set()  # snapshots whose frames were dropped for memory
        self._stored: dict[int, dict[Key, LazyFrame]] = {}  # in memory and on disk too
        self._storing: set[int] = set()  # on their way to disk: not thinned meanwhile
        # per frame that is a preview: the full tensor's shape, and the tensor on disk
        self._reduced: dict[Key, dict[int, tuple[int, ...]]] = {}
        self._full: dict[Key, dict[int, LazyFrame]] = {}
        self._histograms: dict[Key, dict[int, np.ndarray | LazyFrame]] = {}
        self._stored_histograms: dict[int, dict[Key, LazyFrame]] = {}

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: object) -> bool:
        return key in self._series

    def __iter__(self) -> Iterator[Key]:
        """The (layer, quantity) keys, in the order they first appeared."""
        return iter(self._series)

    def get(self, key: Key, index: int) -> Entry:
        """The entry of ``key`` at snapshot ``index``: an array, a preview, a lazy frame, or
        None."""
        return self._series[key][index]

    def full_shape(self, key: Key, index: int) -> tuple[int, ...] | None:
        """The tensor's shape when the entry is a preview of it, else None."""
        return self._reduced.get(key, {}).get(index)

    def full(self, key: Key, index: int) -> LazyFrame | None:
        """The full tensor on disk, when the entry is a preview and the tensor was stored."""
        return self._full.get(key, {}).get(index)

    def histogram(self, key: Key, index: int) -> np.ndarray | LazyFrame | None:
        """The histogram of the frame's values, if one was recorded."""
        return self._histograms.get(key, {}).get(index)

    def why_missing(self, key: Key, index: int, epoch: float) -> str:
        """Why the frame of ``key`` at snapshot ``index`` (labelled ``epoch``) is missing, in
        words: the memory budget took it, or the reason given when it was appended."""
        where = f"{key[1]!r} of layer {key[0]!r} at snapshot {index} (epoch {epoch:g})"
        if index in self._thinned:
            return (
                f"{where} was dropped to keep the recording within its memory budget of "
                f"{self.max_bytes / 2**20:.0f} MiB"
            )
        reason = self._missing.get(key, {}).get(index)
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
        return tuple(
            {key: found[index] for key, found in table.items() if index in found}
            for table in (self._reduced, self._full, self._histograms)
        )

    def snapshot(self, index: int) -> tuple[dict[Key, Entry], dict[Key, str]]:
        """Every key's entry at ``index``, and the reasons of those missing (as appended).

        A frame dropped for memory is missing with :data:`DROPPED` as its reason.
        """
        frames = {key: series[index] for key, series in self._series.items()}
        missing = {}
        for key, entry in frames.items():
            reason = self._missing.get(key, {}).get(index)
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
        index = self._count
        reduced, full, histograms = reduced or {}, full or {}, histograms or {}
        # in the order given, so that quantities are listed as the Recorder chose
        for key in dict.fromkeys([*frames, *missing]):
            entry = frames.get(key)
            if key in reduced and isinstance(entry, np.ndarray):
                entry = HalfFrame(entry)  # a preview: half the bytes
            self._series.setdefault(key, [None] * index).append(entry)
            if key in missing:
                self._missing.setdefault(key, {})[index] = missing[key]
            if entry is None:
                continue
            self.nbytes += _nbytes(entry)
            if key in reduced:
                self._reduced.setdefault(key, {})[index] = tuple(int(n) for n in reduced[key])
            if isinstance(full.get(key), LazyFrame):
                self._full.setdefault(key, {})[index] = full[key]
            if histograms.get(key) is not None:
                counts = histograms[key]
                if isinstance(counts, np.ndarray):  # float32: exact up to 2**24 a bin, 4 bytes
                    counts = np.asarray(counts, dtype=np.float32)
                    counts.flags.writeable = False
                    self.nbytes += counts.nbytes
                self._histograms.setdefault(key, {})[index] = counts
        self._count += 1
        for series in self._series.values():  # quantities absent from this snapshot
            if len(series) == index:
                series.append(None)
        if thinned:  # read back from a saved recording that had dropped them
            self._thinned.add(index)
        return index

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
        on_disk = {}  # what stands for each in-memory entry once it leaves memory
        for key, lazy in frames.items():
            if self.full_shape(key, index) is not None:
                self._full.setdefault(key, {})[index] = lazy
                if key in previews:
                    on_disk[key] = previews[key]
            else:
                on_disk[key] = lazy
        for key, lazy in previews.items():
            on_disk.setdefault(key, lazy)
        restored = False
        for key, lazy in on_disk.items():
            series = self._series.get(key)
            if series is not None and series[index] is None and index in self._thinned:
                series[index] = lazy
                restored = True
        for key, lazy in histograms.items():
            found = self._histograms.setdefault(key, {})
            if not isinstance(found.get(index), np.ndarray):
                found[index] = lazy
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
            kept = [i for i in range(self._count) if i not in self._thinned and i not in skipped]
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
        dropped = False
        for series in self._series.values():
            entry = series[index]
            if isinstance(entry, np.ndarray | HalfFrame):
                self.nbytes -= _nbytes(entry)
                series[index] = None
                dropped = True
        for found in self._histograms.values():
            counts = found.get(index)
            if isinstance(counts, np.ndarray):
                self.nbytes -= counts.nbytes
                del found[index]
        return dropped

    def _swap_to_disk(self) -> None:
        """Let in-memory frames that are also on disk go, oldest first, the newest kept."""
        newest = self._count - 1
        for index in sorted(self._stored):
            if self.nbytes <= self.max_bytes:
                return
            if index == newest:
                continue
            for key, lazy in self._stored.pop(index).items():
                series = self._series.get(key)
                if series is not None and isinstance(series[index], np.ndarray | HalfFrame):
                    self.nbytes -= _nbytes(series[index])
                    series[index] = lazy
            for key, lazy in self._stored_histograms.pop(index, {}).items():
                found = self._histograms.get(key, {})
                if isinstance(found.get(index), np.ndarray):
                    self.nbytes -= found[index].nbytes
                    found[index] = lazy


def _nbytes(entry: Entry) -> int:
    """Memory an entry holds (a lazy frame: none)."""
    return entry.nbytes if isinstance(entry, np.ndarray | HalfFrame) else 0
