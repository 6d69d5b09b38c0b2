"""Scalar columns read from a recording's binary files a column at a time (``docs/format.md``).

:class:`ScalarFile` holds the statistics and metrics of the snapshots an index names
(``scalars.bin``: per snapshot, its values in the catalog's order); :class:`StepFile` the
per-step series of its blocks of steps (``steps.bin``). Both are the
:class:`~nnviz_widgets.recording.types.ColumnSource` of a Recording opened from disk: a column
is gathered from the memory-mapped file with one numpy call over every row, so asking for one
costs a few bytes per row whatever else each row holds, and nothing is read at open.

A snapshot's scalars are checked against their CRC-32 when read whole (``snapshot_data``,
``save``); a column gathered across rows is not (as a block of a frame read alone is not). A
block of steps is checked the first time any of its rows is used; a damaged block's values
read as NaN and its step numbers as -1, with a warning naming the file. A file that cannot be
read at all (gone, shorter than the index says, not a regular file, or the directory replaced
by another run since it was opened) reads as NaN, with a warning naming it. The files only
ever grow while mapped: the writer writes past their committed end and never truncates them.
"""

from __future__ import annotations

import mmap
import os
import threading
import warnings
import zlib
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np

from nnviz_widgets.store.catalog import Catalog
from nnviz_widgets.store.format import RecordingStoreWarning, open_regular
from nnviz_widgets.store.manifest import Replaced

__all__ = ["ScalarFile", "StepFile"]

Key = tuple[str, str]


def _warn(message: str) -> None:
    warnings.warn(message, RecordingStoreWarning, stacklevel=5)


class _Mapped:
    """A file's first bytes as float64, mapped; mapped again when more are needed.

    ``check()`` is called before the file is (re)opened: it raises ``Replaced`` if the
    directory no longer holds the run that was opened (the bytes would be another run's).
    """

    def __init__(self, path: Path, check: Callable[[], None]) -> None:
        self.path = path
        self._check = check
        self._values = np.empty(0, dtype="<f8")
        self.failed = False  # it could not be read once: a warning was given

    def values(self, end: int) -> np.ndarray:
        """At least the file's first ``end`` bytes (a multiple of 8) as little-endian float64;
        ValueError or OSError if the file is shorter or cannot be read."""
        if end > 8 * self._values.size:
            self._check()
            with open_regular(self.path, "a file of the recording") as file:
                size = os.fstat(file.fileno()).st_size
                if size < end:
                    raise ValueError(f"{self.path} has {size} bytes, {end} were committed")
                mapped = mmap.mmap(file.fileno(), size - size % 8, access=mmap.ACCESS_READ)
            self._values = np.frombuffer(mapped, dtype="<f8")  # the array keeps the map open
        return self._values


class _Rows:
    """Per-row fields appended in chunks, joined into arrays when read."""

    def __init__(self, *fields: str) -> None:
        self._fields = fields
        self._chunks: list[dict[str, np.ndarray]] = []
        self._joined: dict[str, np.ndarray] | None = None
        self.count = 0

    def add(self, **columns: np.ndarray) -> int:
        """Add rows; return the number of the first."""
        first = self.count
        self._chunks.append({name: np.asarray(columns[name]) for name in self._fields})
        self.count += len(columns[self._fields[0]])
        self._joined = None
        return first

    def __getitem__(self, field: str) -> np.ndarray:
        if self._joined is None:
            self._joined = {
                name: np.concatenate([chunk[name] for chunk in self._chunks])
                if self._chunks
                else np.empty(0, dtype=np.int64)
                for name in self._fields
            }
        return self._joined[field]


class _Column:
    """One of the two views of a :class:`ScalarFile`: its statistics, or its metrics."""

    def __init__(self, scalars: ScalarFile, metrics: bool) -> None:
        self._scalars, self._metrics = scalars, metrics

    def column(self, name: Hashable, start: int, stop: int) -> np.ndarray | None:
        return self._scalars.column(name, start, stop, metrics=self._metrics)

    def row(self, index: int) -> dict[Hashable, float]:
        return self._scalars.row(index, metrics=self._metrics)

    def labels(self, start: int, stop: int) -> np.ndarray:
        return np.arange(start, stop, dtype=np.int64)


class ScalarFile:
    """The statistics and metrics of the snapshots an index names, in ``scalars.bin``.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    catalog : Catalog
        Where each name's value lies in a snapshot's scalars (see :meth:`use`).

    Notes
    -----
    Thread-safe: the reader adds rows while other threads read columns (its lock is a leaf).
    """

    def __init__(self, path: Path, catalog: Catalog, check: Callable[[], None]) -> None:
        self.path = path
        self._catalog = catalog
        self._lock = threading.Lock()
        self._file = _Mapped(path, check)
        self._rows = _Rows("offset", "statistics", "metrics", "crc32")
        self._cache: dict[tuple[bool, Hashable], np.ndarray] = {}
        self.statistics = _Column(self, metrics=False)
        self.metrics = _Column(self, metrics=True)

    def use(self, catalog: Catalog) -> None:
        """Read names from a newer catalog (the manifest was read again): names only grow."""
        with self._lock:
            self._catalog = catalog

    def add(self, rows: np.ndarray) -> int:
        """Add the snapshots of index rows; return the number of the first."""
        with self._lock:
            return self._rows.add(
                offset=rows["data_offset"].astype(np.int64),
                statistics=rows["statistics"].astype(np.int64),
                metrics=rows["metrics"].astype(np.int64),
                crc32=rows["crc32"].astype(np.int64),
            )

    def column(self, name: Hashable, start: int, stop: int, *, metrics: bool) -> np.ndarray | None:
        """Rows ``start`` to ``stop`` of a statistic (or metric) column; None if unknown."""
        with self._lock:
            cached = self._cache.get((metrics, name))
            if cached is None or cached.size < stop:
                cached = self._gather(name, metrics)
                if cached is None:
                    return None
                self._cache[(metrics, name)] = cached
            return cached[start:stop]

    def _gather(self, name: Hashable, metrics: bool) -> np.ndarray | None:
        names = self._catalog.metrics if metrics else self._catalog.statistics
        place = names.get(name)
        if place is None or not self._rows.count:
            return None
        offsets, counts = self._rows["offset"] // 8, self._rows["statistics"]
        if metrics:
            offsets, counts = offsets + counts, self._rows["metrics"]
        values = np.full(self._rows.count, np.nan)
        has = counts > place
        if has.any():
            file = _read(self._file, int(8 * (offsets + counts).max()))
            values[has] = file[offsets[has] + place] if file.size else np.nan
        return values

    def row(self, index: int, *, metrics: bool) -> dict[Hashable, float]:
        """The values snapshot row ``index`` has, its CRC-32 checked; none (and a warning
        naming the file) if it does not match."""
        with self._lock:
            offset = int(self._rows["offset"][index])
            statistics, count = (
                int(self._rows["statistics"][index]),
                int(self._rows["metrics"][index]),
            )
            file = _read(self._file, offset + 8 * (statistics + count))
            block = np.array(file[offset // 8 : offset // 8 + statistics + count])
            if file.size and zlib.crc32(block.tobytes()) != int(self._rows["crc32"][index]):
                warnings.warn(
                    f"the statistics and metrics of a snapshot in {self.path} (at byte {offset}) "
                    "are damaged; they read as NaN",
                    RecordingStoreWarning,
                    stacklevel=4,
                )
                return {}
            names = self._catalog.metrics if metrics else self._catalog.statistics
            first, count = (statistics, count) if metrics else (0, statistics)
            if not file.size:  # unreadable: said once
                return {}
            return {
                name: float(block[first + place]) for name, place in names.items() if place < count
            }


class StepFile:
    """The per-step series of the blocks an index names, in ``steps.bin``; rows are steps.

    Parameters and notes as for :class:`ScalarFile`.
    """

    def __init__(self, path: Path, catalog: Catalog, check: Callable[[], None]) -> None:
        self.path = path
        self._catalog = catalog
        self._lock = threading.Lock()
        self._file = _Mapped(path, check)
        self._blocks = _Rows("offset", "rows", "columns", "crc32", "first")
        self._checked = 0  # blocks checked against their CRC-32, from the first
        self._damaged: set[int] = set()
        self._cache: dict[Hashable, np.ndarray] = {}
        self.rows = 0

    def use(self, catalog: Catalog) -> None:
        """Read names from a newer catalog (the manifest was read again): names only grow."""
        with self._lock:
            self._catalog = catalog

    def add(self, rows: np.ndarray) -> int:
        """Add the blocks of index rows; return the number of the first step they hold."""
        with self._lock:
            first = self.rows
            counts = rows["count"].astype(np.int64)
            self._blocks.add(
                offset=rows["data_offset"].astype(np.int64),
                rows=counts,
                columns=rows["names"].astype(np.int64),
                crc32=rows["crc32"].astype(np.int64),
                first=first + np.concatenate(([0], np.cumsum(counts)[:-1])),
            )
            self.rows += int(counts.sum())
            return first

    def column(self, name: Hashable, start: int, stop: int) -> np.ndarray | None:
        """Steps ``start`` to ``stop`` of a series; None if unknown."""
        with self._lock:
            place = self._catalog.steps.get(name)
            if place is None:
                return None
            cached = self._cache.get(name)
            if cached is None or cached.size < stop:
                cached = self._series(place)
                self._cache[name] = cached
            return cached[start:stop]

    def labels(self, start: int, stop: int) -> np.ndarray:
        """The step numbers of steps ``start`` to ``stop``: -1 in a damaged block."""
        with self._lock:
            labels = self._cache.get(None)
            if labels is None or labels.size < stop:
                labels = np.full(self.rows, -1, dtype=np.int64)
                if self._blocks.count:
                    file, positions, present = self._gather(-1)
                    labels[present] = file.view("<i8")[positions[present]]
                self._cache[None] = labels
            return labels[start:stop]

    def row(self, index: int) -> dict[Hashable, float]:
        values = {name: self.column(name, index, index + 1) for name in self._catalog.steps}
        return {name: float(found[0]) for name, found in values.items() if found is not None}

    def _series(self, place: int) -> np.ndarray:
        """Every step's value of the series at ``place`` (NaN where a block has none)."""
        values = np.full(self.rows, np.nan)
        if self._blocks.count:
            file, positions, present = self._gather(place)
            values[present] = file[positions[present]]
        return values

    def _gather(self, place: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mapped file, where each step's value of the series at ``place`` lies in it (-1:
        the step numbers), and which steps have one (their block has the series, undamaged)."""
        blocks = self._blocks
        offsets, rows, columns = blocks["offset"] // 8, blocks["rows"], blocks["columns"]
        file = _read(self._file, int(8 * (offsets + rows * (1 + columns)).max()))
        if not file.size:  # unreadable (said once): every block reads as damaged
            self._damaged.update(range(blocks.count))
            self._checked = blocks.count
            file = np.zeros(1, dtype="<f8")
        self._check(file)
        starts = offsets + rows * (1 + place)  # where each block's run of the series begins
        has = columns > place
        has[list(self._damaged)] = False
        positions = np.repeat(starts - blocks["first"], rows) + np.arange(self.rows)
        return file, positions, np.repeat(has, rows)

    def _check(self, file: np.ndarray) -> None:
        """Check the blocks not checked yet against their CRC-32 (once each)."""
        blocks = self._blocks
        raw = file.view(np.uint8)
        for block in range(self._checked, blocks.count):
            start = int(blocks["offset"][block])
            end = start + 8 * int(blocks["rows"][block] * (1 + blocks["columns"][block]))
            if zlib.crc32(raw[start:end]) != int(blocks["crc32"][block]):
                self._damaged.add(block)
                self._cache.clear()
                warnings.warn(
                    f"{self.path} is damaged at byte {start}: the block of "
                    f"{int(blocks['rows'][block])} steps there reads as NaN (step -1)",
                    RecordingStoreWarning,
                    stacklevel=5,
                )
        self._checked = blocks.count


def _read(file: _Mapped, end: int) -> np.ndarray:
    """``file.values(end)``, or an empty array (and a warning, once) if it cannot be read."""
    try:
        return file.values(end)
    except (OSError, ValueError, Replaced) as error:
        if not file.failed:
            file.failed = True
            why = (
                f"the recording directory was replaced: {error}"
                if isinstance(error, Replaced)
                else error
            )
            _warn(f"{file.path} cannot be read ({why}); the values it holds read as NaN")
        return np.empty(0, dtype="<f8")
