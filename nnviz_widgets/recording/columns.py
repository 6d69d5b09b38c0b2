"""Named columns of floats that stay aligned row by row: a Recording's scalar series.

A Recording keeps three such tables: scalar statistics per layer and metrics (one row per
snapshot), and per-step series (one row per step, labelled by its step number). A name may appear
at any row; the rows before it, and the rows a name is absent from, hold NaN, so every column
always has one value per row.

Rows are kept in parts: rows appended in memory, and ranges of rows of a
:class:`~nnviz_widgets.recording.types.ColumnSource` (a file of a recording opened from disk),
read a column at a time when asked for, so that opening a long recording reads none of them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterable, Iterator, Mapping

import numpy as np

from nnviz_widgets.recording.types import ColumnSource

__all__ = ["Columns"]


class _Appended:
    """Rows appended in memory: a list of values per name, and a label per row."""

    def __init__(self) -> None:
        self.rows = 0
        self.values: dict[Hashable, list[float]] = {}
        self.labels: list[int] = []

    def column(self, name: Hashable) -> np.ndarray | None:
        values = self.values.get(name)
        return None if values is None else np.asarray(values, dtype=np.float64)

    def row(self, index: int) -> dict[Hashable, float]:
        return {name: values[index] for name, values in self.values.items()}

    def extend(self, rows: int, given: Mapping[Hashable, np.ndarray], labels) -> None:
        for name, column in given.items():
            self.values.setdefault(name, [math.nan] * self.rows).extend(column.tolist())
        self.rows += rows
        for column in self.values.values():
            if len(column) < self.rows:
                column.extend([math.nan] * (self.rows - len(column)))
        if labels is not None:
            self.labels.extend(labels.tolist())


class _Stored:
    """Rows ``start`` to ``stop`` of a source, and the names they may have."""

    def __init__(self, source: ColumnSource, start: int, stop: int, names: Iterable) -> None:
        self.source, self.start, self.stop = source, start, stop
        self.names = set(names)

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def column(self, name: Hashable) -> np.ndarray | None:
        if name not in self.names:
            return None
        return self.source.column(name, self.start, self.stop)

    def row(self, index: int) -> dict[Hashable, float]:
        return self.source.row(self.start + index)


class Columns:
    """Float columns of equal length, in order of first appearance; NaN where a row has none.

    Parameters
    ----------
    what, row : str
        What the columns are and what a row is, for messages ("step series", "steps").

    Notes
    -----
    Not locked: its owner (the Recording) reads and appends under its own lock. A source's rows
    are read under that lock too, a column at a time (see the module notes).
    """

    def __init__(self, what: str = "column", row: str = "rows") -> None:
        self._what = what
        self._row = row
        self._rows = 0
        self._names: dict[Hashable, None] = {}
        self._parts: list[_Appended | _Stored] = []
        self._starts: list[int] = []  # the first row of each part
        self._grouped: dict[Hashable, tuple] = {}  # see names_of
        self._grouped_count = 0  # the number of names when _grouped was made

    def __len__(self) -> int:
        """The number of rows."""
        return self._rows

    def __iter__(self) -> Iterator[Hashable]:
        """The column names, in order of first appearance."""
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def names_of(self, first: Hashable) -> tuple:
        """Of the names that are pairs (a layer and a name), the second of those whose first is
        ``first``, in order of first appearance."""
        if self._grouped_count != len(self._names):
            grouped: dict[Hashable, list] = {}
            for name in self._names:
                if isinstance(name, tuple) and len(name) == 2:
                    grouped.setdefault(name[0], []).append(name[1])
            self._grouped = {key: tuple(names) for key, names in grouped.items()}
            self._grouped_count = len(self._names)
        return self._grouped.get(first, ())

    def column(self, name: Hashable) -> np.ndarray:
        """One column as a new float64 array, one value per row; KeyError if unknown."""
        if name not in self._names:
            raise KeyError(name)
        pieces = []
        for part in self._parts:
            values = part.column(name)
            pieces.append(np.full(part.rows, np.nan) if values is None else values)
        if len(pieces) == 1:
            return np.array(pieces[0], dtype=np.float64)
        return np.concatenate(pieces) if pieces else np.empty(0)

    def row(self, index: int) -> dict[Hashable, float]:
        """Every column's value at row ``index``, NaN included."""
        part = bisect.bisect_right(self._starts, index) - 1
        found = self._parts[part].row(index - self._starts[part])
        return {name: found.get(name, math.nan) for name in self._names}

    def labels(self) -> np.ndarray:
        """The label of each row (int64): for per-step series, the step numbers."""
        pieces = [
            np.asarray(part.labels, dtype=np.int64)
            if isinstance(part, _Appended)
            else part.source.labels(part.start, part.stop)
            for part in self._parts
        ]
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)

    def append(self, values: Mapping[Hashable, float]) -> None:
        """Add one row: ``{name: value}``; names not given are NaN in it."""
        self.extend(1, {name: (value,) for name, value in values.items()})

    def extend(
        self, rows: int, values: Mapping[Hashable, np.ndarray], labels: np.ndarray | None = None
    ) -> None:
        """Add ``rows`` rows: ``{name: values (rows,)}`` (names not given are NaN in them), and
        optionally their ``labels``.

        Raises
        ------
        ValueError
            A column whose length is not ``rows``; nothing is added then.
        """
        given = {name: np.asarray(v, dtype=np.float64).ravel() for name, v in values.items()}
        for name, column in given.items():
            if column.size != rows:
                raise ValueError(
                    f"{self._what} {name} has {column.size} values for {rows} {self._row}"
                )
        last = self._parts[-1] if self._parts else None
        if not isinstance(last, _Appended):
            last = self._add_part(_Appended())
        last.extend(rows, given, None if labels is None else np.asarray(labels).ravel())
        self._names.update(dict.fromkeys(given))
        self._rows += rows

    def attach(self, source: ColumnSource, start: int, stop: int, names: Iterable) -> None:
        """Add rows ``start`` to ``stop`` of ``source``, which may have the columns ``names``
        (in order of first appearance); nothing is read until a column is asked for."""
        names = list(names)
        last = self._parts[-1] if self._parts else None
        if isinstance(last, _Stored) and last.source is source and last.stop == start:
            last.stop = stop  # the same file, continued: one part
            last.names.update(names)
        else:
            self._add_part(_Stored(source, start, stop, names))
        self._names.update(dict.fromkeys(names))
        self._rows += stop - start

    def _add_part(self, part: _Appended | _Stored) -> _Appended | _Stored:
        self._starts.append(self._rows)
        self._parts.append(part)
        return part
