"""The "colourful dimension" picture: a layer's value histograms over snapshots, as one image.

Each snapshot's histogram (equal bins between that snapshot's own smallest and largest value,
as the Recorder records them: ``recording/histogram.py``) is spread onto bins shared by every
snapshot, assuming values spread evenly within a bin, so that columns compare like with like.
Column = snapshot, row = value bin (the largest values at the top), cell = ``log1p(count)``:
the log keeps a few far values visible beside the bulk. Numpy only; nothing here reads a
recording (``views/dimension.py`` does, and says which snapshots).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DIMENSION_BINS",
    "DimensionPicture",
    "column_indices",
    "dimension_picture",
    "rebin",
    "rebin_many",
]

#: Rows of the picture: value bins over the shared range.
DIMENSION_BINS = 64


def rebin(counts: np.ndarray, low: float, high: float, edges: np.ndarray) -> np.ndarray:
    """``counts`` (equal bins from ``low`` to ``high``) spread onto the bins between ``edges``,
    each bin's count taken as spread evenly over it; a single-valued histogram (``low ==
    high``) lands whole in the bin that holds ``low``. The total is kept for what lies inside
    ``edges``."""
    counts = np.asarray(counts, dtype=np.float64)[None]
    return rebin_many(counts, np.array([low], float), np.array([high], float), edges)[0]


def rebin_many(
    counts: np.ndarray, lows: np.ndarray, highs: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """:func:`rebin` of each row of ``counts`` (``(columns, n)``) at once: ``(columns,
    len(edges) - 1)``. A row whose ``low`` or ``high`` is not finite gives zeros."""
    counts = np.asarray(counts, dtype=np.float64)
    columns, n = counts.shape
    out = np.zeros((columns, len(edges) - 1))
    finite = np.isfinite(lows) & np.isfinite(highs)
    spread = finite & (highs > lows)
    if spread.any():
        # the cumulative count at each edge, linear inside a source bin (values even in it)
        part, low, high = counts[spread], lows[spread, None], highs[spread, None]
        cumulative = np.concatenate([np.zeros((len(part), 1)), np.cumsum(part, axis=1)], axis=1)
        where = np.clip((edges[None, :] - low) / (high - low) * n, 0.0, float(n))
        whole = np.minimum(where.astype(np.intp), n - 1)
        below = np.take_along_axis(cumulative, whole, axis=1)
        inside = np.take_along_axis(part, whole, axis=1) * (where - whole)
        out[spread] = np.diff(below + inside, axis=1)
    for row in np.flatnonzero(finite & ~spread):  # one value: whole in the bin that holds it
        bin_ = int(np.searchsorted(edges, lows[row], side="right")) - 1
        out[row, min(max(bin_, 0), len(out[row]) - 1)] = counts[row].sum()
    return out


@dataclass(frozen=True)
class DimensionPicture:
    """The picture and what its rows and columns stand for.

    Attributes
    ----------
    values : ndarray
        ``(DIMENSION_BINS, columns)`` float32 ``log1p(count)``, the largest values in row 0;
        NaN in a column with nothing recorded.
    counts : ndarray
        The counts themselves, same shape and order.
    edges : ndarray
        The ``DIMENSION_BINS + 1`` value edges, ascending (row ``r`` holds values between
        ``edges[-r - 2]`` and ``edges[-r - 1]``).
    snapshots : ndarray
        The snapshot index of each column, ascending.
    """

    values: np.ndarray
    counts: np.ndarray
    edges: np.ndarray
    snapshots: np.ndarray


def dimension_picture(
    columns: Sequence[tuple[np.ndarray, float, float] | None],
    snapshots: Sequence[int],
    bins: int = DIMENSION_BINS,
) -> DimensionPicture:
    """The picture of ``columns``, one ``(counts, low, high)`` per snapshot of ``snapshots``
    (None where nothing was recorded): shared bins from the smallest ``low`` to the largest
    ``high``."""
    known = [c for c in columns if c is not None and math.isfinite(c[1]) and math.isfinite(c[2])]
    low = min((c[1] for c in known), default=0.0)
    high = max((c[2] for c in known), default=1.0)
    if high <= low:  # one value everywhere: a bin around it
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    counts = np.full((bins, len(columns)), np.nan)
    present = [position for position, column in enumerate(columns) if column is not None]
    if present:
        rows = np.stack([np.asarray(columns[p][0], dtype=np.float64) for p in present])
        lows = np.array([columns[p][1] for p in present], dtype=np.float64)
        highs = np.array([columns[p][2] for p in present], dtype=np.float64)
        counts[:, present] = rebin_many(rows, lows, highs, edges)[:, ::-1].T
    with np.errstate(invalid="ignore"):
        values = np.log1p(counts).astype(np.float32)
    return DimensionPicture(values, counts, edges, np.asarray(snapshots, dtype=np.int64))


def column_indices(count: int, most: int) -> np.ndarray:
    """At most ``most`` snapshot indices of ``0 .. count - 1``, evenly spread, the first and the
    last among them: the picture's cost stays bounded however many snapshots there are."""
    if count <= most:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.int64))
