"""Previews: how a frame kept small in memory relates to the tensor it was made from.

A Recorder keeps a large tensor in memory as a block-mean preview (``docs/architecture.md``,
"Where time goes"): each dimension of size ``n`` pooled once to ``m``, so that element ``i`` of
the preview is the mean of elements ``floor(i * n / m)`` to ``ceil((i + 1) * n / m) - 1`` of the
tensor. :func:`block_slices` maps a preview element back to the tensor's block, so that a view
can say which values a cell stands for and read them exactly where the full tensor is on disk.
In memory a preview is held as float16 scaled to its largest magnitude (:class:`HalfFrame`):
half the bytes of float32, and far more precision than a picture's colours need. Numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["HalfFrame", "block_slices", "preview_note"]


def block_slices(
    full_shape: Sequence[int], shape: Sequence[int], index: Sequence[int]
) -> tuple[slice, ...]:
    """The block of the full tensor that element ``index`` of its preview is the mean of.

    Parameters
    ----------
    full_shape : sequence of int
        The tensor's shape.
    shape : sequence of int
        The preview's shape (same number of dimensions, each at most the tensor's).
    index : sequence of int
        An element of the preview.
    """
    blocks = []
    for n, m, i in zip(full_shape, shape, index):
        start = (int(i) * n) // m
        stop = -((-(int(i) + 1) * n) // m)  # ceil
        blocks.append(slice(start, stop))
    return tuple(blocks)


def preview_note(full_shape: Sequence[int], shape: Sequence[int]) -> str:
    """One line saying what a preview of ``full_shape`` as ``shape`` is."""
    factors = "x".join(f"{n / m:.3g}" if n % m else str(n // m) for n, m in zip(full_shape, shape))
    return (
        f"a block-mean preview of the {tuple(full_shape)} tensor as {tuple(shape)} "
        f"(blocks of {factors})"
    )


class HalfFrame:
    """A preview held in memory as float16 values scaled to +-1, and its scale.

    Parameters
    ----------
    values : numpy.ndarray
        The preview, float32.
    """

    __slots__ = ("_half", "scale")

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float32)
        finite = values[np.isfinite(values)] if values.size else values
        largest = float(np.abs(finite).max()) if finite.size else 0.0
        # float16 keeps about three digits from 6e-5 to 65504: scaled to +-1, a preview keeps
        # them relative to its largest value, and NaN and Inf stay what they are
        self.scale = largest if largest > 0 and math.isfinite(largest) else 1.0
        half = (values / np.float32(self.scale)).astype(np.float16)
        half.flags.writeable = False
        self._half = half

    @property
    def shape(self) -> tuple[int, ...]:
        return self._half.shape

    @property
    def nbytes(self) -> int:
        return self._half.nbytes

    def values(self) -> np.ndarray:
        """The preview as float32 (read-only)."""
        values = self._half.astype(np.float32)
        values *= np.float32(self.scale)  # in place: no second array
        values.flags.writeable = False
        return values
