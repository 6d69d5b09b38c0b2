"""Named columns of floats that stay aligned row by row: a Recording's scalar series.

A Recording keeps three such tables: scalar statistics per layer and metrics (one row per
snapshot), and per-step series (one row per step). A name may appear at any row; the rows before
it, and the rows a name is absent from, hold NaN, so every column always has one value per row.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping

import numpy as np

__all__ = ["Columns"]


class Columns:
    """Float columns of equal length, in order of first appearance; NaN where a row has none.

    Parameters
    ----------
    what, row : str
        What the columns are and what a row is, for messages ("step series", "steps").

    Notes
    -----
    Not locked: its owner (the Recording) reads and appends under its own lock.
    """

    def __init__(self, what: str = "column", row: str = "rows") -> None:
        self._what = what
        self._row = row
        self._rows = 0
        self._columns: dict[Hashable, list[float]] = {}

    def __len__(self) -> int:
        """The number of rows."""
        return self._rows

    def __iter__(self) -> Iterator[Hashable]:
        """The column names, in order of first appearance."""
        return iter(self._columns)

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def column(self, name: Hashable) -> np.ndarray:
        """One column as a float64 array, one value per row; KeyError if unknown."""
        return np.asarray(self._columns[name], dtype=np.float64)

    def row(self, index: int) -> dict[Hashable, float]:
        """Every column's value at row ``index``, NaN included."""
        return {name: values[index] for name, values in self._columns.items()}

    def append(self, values: Mapping[Hashable, float]) -> None:
        """Add one row: ``{name: value}``; names not given are NaN in it."""
        self.extend(1, {name: (value,) for name, value in values.items()})

    def extend(self, rows: int, values: Mapping[Hashable, np.ndarray]) -> None:
        """Add ``rows`` rows: ``{name: values (rows,)}``; names not given are NaN in them.

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
        for name, column in given.items():
            self._columns.setdefault(name, [math.nan] * self._rows).extend(column.tolist())
        self._rows += rows
        for column in self._columns.values():
            if len(column) < self._rows:
                column.extend([math.nan] * (self._rows - len(column)))
