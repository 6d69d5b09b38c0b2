"""Tick values and one number format per axis, computed in the kernel for the charts.

bqplot's automatic ticks put half epochs (0.5, 1.5) on an axis of three snapshots, a dozen labels
on a tall axis, and a ``.2~g`` or ``.3~g`` format writes ``9.75e-2`` beside ``0.1025`` on one
axis. Here an axis gets at most :data:`MOST_TICKS` ticks on 1, 2 or 5 times a power of ten
(whole numbers only, where the axis counts epochs or steps), and one d3 format that writes every
one of its ticks alike and tells them apart (:func:`tick_format`). :func:`tick_labels` writes
the labels as that format would, so tests check what the figure draws. No torch.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MOST_TICKS", "nice_limits", "nice_ticks", "tick_format", "tick_labels"]

#: At most this many labels on an axis.
MOST_TICKS = 6


def _step(span: float, most: int, integer: bool) -> float:
    """The smallest 1, 2 or 5 times a power of ten that cuts ``span`` into at most
    ``most - 1`` steps (at least 1 when ``integer``)."""
    raw = span / max(most - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1.0, 2.0, 5.0, 10.0):
        step = factor * power
        if span / step <= most - 1 + 1e-9:
            break
    return max(step, 1.0) if integer else step


def nice_ticks(
    low: float, high: float, *, most: int = MOST_TICKS, integer: bool = False
) -> np.ndarray:
    """Ticks on multiples of a 1-2-5 step inside ``[low, high]``, at most ``most`` of them.

    ``integer`` keeps them whole numbers (epochs, steps, counts). An empty or non-finite range
    gives the one value it has (or none).
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.zeros(0)
    if high < low:
        low, high = high, low
    if high == low:
        return np.array([round(low) if integer else low], dtype=np.float64)
    for _ in range(4):  # the first and last multiples may both fit: then one step more
        step = _step(high - low, most, integer)
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if last - first + 1 <= most:
            break
        most -= 1
    # 0.6, not 0.6000000000000001; exactly 0, never 5.6e-17
    ticks = [float(f"{k * step:.12g}") for k in range(first, last + 1)]
    return np.array(ticks, dtype=np.float64)


def nice_limits(
    low: float, high: float, *, most: int = MOST_TICKS, integer: bool = False
) -> tuple[float, float, np.ndarray]:
    """``(low, high, ticks)``: the range widened to the 1-2-5 steps around it, for a scale
    whose ends should be ticks (a metric's axis). A constant range is widened around it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0, nice_ticks(0.0, 1.0, most=most, integer=integer)
    if high <= low:
        pad = max(abs(low) * 0.1, 1.0 if integer else 1e-12 if low == 0 else 0.0) or 1.0
        low, high = low - pad, high + pad
    step = _step(high - low, most - 1, integer)  # room for the widening: one step fewer
    low = float(f"{math.floor(low / step + 1e-9) * step:.12g}")
    high = float(f"{math.ceil(high / step - 1e-9) * step:.12g}")
    return low, high, nice_ticks(low, high, most=most, integer=integer)


def tick_format(ticks: np.ndarray) -> str:
    """One d3 format for every tick of an axis: the fewest fixed decimals that tell the ticks
    apart, or, for very large or small numbers, the same exponent notation for each."""
    ticks = np.asarray(ticks, dtype=np.float64)
    ticks = ticks[np.isfinite(ticks)]
    if ticks.size == 0:
        return ".2~g"
    largest = float(np.abs(ticks).max())
    if largest < 1e6 and np.array_equal(ticks, np.round(ticks)):
        return ",d"  # whole numbers: epochs, steps, counts
    steps = np.diff(np.unique(ticks))
    step = float(steps.min()) if steps.size else (largest or 1.0)
    if largest >= 1e5 or (largest > 0 and largest < 1e-3):
        # exponent notation, as many digits as the step needs relative to the largest tick
        digits = max(0, math.floor(math.log10(largest / step) + 1e-9)) if step > 0 else 0
        for extra in range(4):
            fmt = f".{digits + extra}e"
            if _exact(ticks, fmt, largest):
                return fmt
        return fmt
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    for extra in range(4):
        fmt = f".{decimals + extra}f" if decimals + extra else ",d"
        if _exact(ticks, fmt, largest):
            return fmt
    return fmt


def _exact(ticks: np.ndarray, fmt: str, largest: float) -> bool:
    """Whether ``fmt`` writes every tick as itself: 1.5e45 as "1.5e+45", never "2e+45" (labels
    that are merely distinct can still be wrong)."""
    labels = tick_labels(ticks, fmt)
    if len(set(labels)) != ticks.size:
        return False
    written = np.array([float(t.replace(",", "").replace("\u2212", "-")) for t in labels])
    return bool(np.allclose(written, ticks, rtol=1e-9, atol=1e-9 * largest))


def tick_labels(ticks: np.ndarray, fmt: str) -> list[str]:
    """The labels d3's ``fmt`` writes for ``ticks`` (the formats :func:`tick_format` gives,
    ``",d"``, ``".Nf"`` and ``".Ne"``)."""
    labels = []
    for value in np.asarray(ticks, dtype=np.float64):
        if fmt == ",d":
            text = f"{round(value):,d}"
        elif fmt.endswith("e"):
            mantissa, exponent = f"{value:{fmt}}".split("e")
            text = f"{mantissa}e{int(exponent):+d}"  # d3 writes e+15, e-7: no leading zero
        else:
            text = f"{value:{fmt}}"
        if text.startswith("-") and float(text.replace(",", "").lstrip("-") or 0) == 0:
            text = text[1:]  # "-0.0" reads as a bug
        labels.append(text.replace("-", "\u2212"))  # d3 writes a minus sign
    return labels
