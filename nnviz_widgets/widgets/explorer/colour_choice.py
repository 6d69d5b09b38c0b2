"""How a picture's colour range is chosen, and the few words that say which one it is.

Three modes (:data:`COLOUR_MODES`): "fixed" over the snapshots (from the recorded extremes, so
that scrubbing compares like with like), the snapshot's own range, or its 1st-99th percentile.
The rules of "fixed", and why, are in docs/explorer.md ("Colours").
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.render.colour import colour_range, widen_range
from nnviz_widgets.render.layout import Picture

__all__ = ["COLOUR_MODES", "colour_choice", "colour_limits", "widest_snapshot"]

#: How the colour range is chosen: over every snapshot, per snapshot, or its 1st to 99th
#: percentile.
COLOUR_MODES = ("fixed", "snapshot", "robust")
#: In "fixed" mode the range is this percentile of the snapshots' extents, taken with numpy's
#: "higher" method: below 20 snapshots that is the largest one; past it, the top 5% of snapshots
#: (a spike, a diverging end) are left out and saturate instead of washing out every other one.
FIXED_PERCENTILE = 95.0
#: When the snapshots' extents (after the percentile) span more than this factor, one range
#: cannot show them all (a run diverging to 1e15, gradients shrinking 1000x): each snapshot is
#: coloured on its own recorded range instead, and the note says so.
FIXED_SPREAD = 10.0

Extremes = tuple[float, float]
Limits = tuple[float, float, bool]


def colour_limits(
    extremes: list[Extremes | None],
    shown: Picture,
    mode: str,
    *,
    index: int | None = None,
    one_sample: bool = False,
) -> Limits:
    """``(low, high, signed)`` for a picture, given every snapshot's finite (min, max).

    See :func:`colour_choice`, which also says in words which range it chose.
    """
    return colour_choice(extremes, shown, mode, index=index, one_sample=one_sample)[0]


def colour_choice(
    extremes: list[Extremes | None],
    shown: Picture,
    mode: str,
    *,
    index: int | None = None,
    one_sample: bool = False,
    shrink: float = 1.0,
) -> tuple[Limits, str]:
    """``((low, high, signed), note)``: the colour range of a picture and a few words on it.

    Parameters
    ----------
    extremes : list
        Each snapshot's finite (min, max) of the selected quantity, None where it is missing.
    shown : Picture
        The picture shown (its values decide the range in "snapshot" and "robust" modes, and
        when it shows one sample).
    mode : str
        "fixed" (one range over the snapshots), "snapshot" or "robust".
    index : int, optional
        The snapshot shown; "fixed" falls back to its recorded range when the snapshots'
        ranges differ by more than :data:`FIXED_SPREAD`.
    one_sample : bool
        The picture shows one probe sample: "fixed" ranges it on that sample (the recorded
        extremes are over every sample, and one sample's values can be 1000x smaller).
    shrink : float
        The picture shows block means, this much narrower than the values the extremes were
        recorded on (see :func:`widest_snapshot`): "fixed" scales its range by it.

    Notes
    -----
    In "fixed" mode the range is the :data:`FIXED_PERCENTILE` percentile of the snapshots'
    extents (the largest one below 20 snapshots), unless those extents span more than
    :data:`FIXED_SPREAD`: then each snapshot gets its own recorded range.
    """
    known = [e for e in extremes if e is not None and np.isfinite(e[0])]
    # signed or not is decided over every snapshot, so the colour map never flips
    signed = any(low < 0 for low, _ in known) if known else True
    values = shown.values if shown.gaps is None else shown.values[~shown.gaps]
    if mode == "fixed" and one_sample:
        low, high = _from_zero(*colour_range(values, signed=signed), signed)
        return (low, high, signed), "colours: this sample's range at this snapshot"
    if mode == "fixed" and known:
        return _fixed(extremes, known, values, signed, index, shrink)
    low, high = colour_range(values, signed=signed, robust=mode == "robust")
    note = (
        "colours: 1st to 99th percentile" if mode == "robust" else "colours: this snapshot's range"
    )
    return (low, high, signed), note


def widest_snapshot(extremes: list[Extremes | None]) -> int | None:
    """The snapshot whose range "fixed" mode takes (the percentile's), None if none is known.

    A picture of block means is coloured on the fixed range scaled by how much narrower the
    means are than the values at this snapshot.
    """
    known = [(i, e) for i, e in enumerate(extremes) if e is not None and np.isfinite(e[0])]
    if not known:
        return None
    extents = _extents([e for _, e in known], any(e[0] < 0 for _, e in known))
    cap = np.percentile(extents, FIXED_PERCENTILE, method="higher")
    return known[int(np.flatnonzero(extents == cap)[0])][0]


def extent(low: float, high: float, signed: bool) -> float:
    """How far a range reaches: from zero either way for signed data, its top otherwise."""
    return max(abs(low), abs(high)) if signed else high


def _extents(known: list[Extremes], signed: bool) -> np.ndarray:
    return np.array([extent(lo, hi, signed) for lo, hi in known])


def _fixed(
    extremes: list[Extremes | None],
    known: list[Extremes],
    values: np.ndarray,
    signed: bool,
    index: int | None,
    shrink: float,
) -> tuple[Limits, str]:
    """The "fixed" range over the known snapshots (see :func:`colour_choice`)."""
    extents = _extents(known, signed)
    cap = float(np.percentile(extents, FIXED_PERCENTILE, method="higher"))
    smallest = float(extents.min())
    spread = cap / smallest if smallest > 0 else np.inf
    own = extremes[index] if index is not None and 0 <= index < len(extremes) else None
    if spread > FIXED_SPREAD and own is not None and np.isfinite(own[0]):
        if shrink != 1.0:  # block means: the recorded range is the values', not the picture's
            low, high = colour_range(values, signed=signed)
        else:
            low, high = widen_range(*own, signed=signed)
        low, high = _from_zero(low, high, signed)
        return (low, high, signed), (
            f"colours: this snapshot's range (fixed over snapshots would hide it: {_why(spread)})"
        )
    low = min(e[0] for e in known) if not signed else -cap
    low, high = _from_zero(*widen_range(low * shrink, cap * shrink, signed=signed), signed)
    left_out = int((extents > cap).sum())
    note = "colours: fixed over snapshots"
    if shrink != 1.0:
        note += " (block means' range)"
    if left_out:
        note += f" ({left_out} outlying snapshot{'s' if left_out > 1 else ''} saturate)"
    return (low, high, signed), note


def _why(spread: float) -> str:
    if spread == np.inf:
        return "some are all zero"
    if spread < 1e4:
        return f"their ranges differ {spread:,.0f}x"
    return f"their ranges differ 10^{int(np.log10(spread))}x"


def _from_zero(low: float, high: float, signed: bool) -> tuple[float, float]:
    """Non-negative data reads best from zero: a range not far from it starts there."""
    if not signed and 0 < low < 0.5 * high:
        return 0.0, high
    return low, high
