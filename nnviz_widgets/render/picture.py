"""The :class:`Picture`: a frame laid out in two dimensions, with what its rows and cells mean.

Every view draws a Picture: :mod:`render.layout` makes one from a recorded frame,
:mod:`render.mosaic` from a stack of tiles, :mod:`render.reduce` a smaller one from a large one
(``docs/architecture.md``, "Pictures"). Numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Picture"]


@dataclass
class Picture:
    """A frame laid out as a 2-D picture.

    Attributes
    ----------
    values : ndarray
        ``(rows, columns)`` float32. Gap cells hold 0 and are flagged in ``gaps``.
    gaps : ndarray or None
        Boolean mask of the cells between tiles of a mosaic (None when there are none).
    row_label, column_label : str
        What the rows and the columns are, for the axes.
    layout : str
        One line saying how the frame was laid out, e.g. "6 kernels of 5x5".
    tile : (int, int)
        Size of one tile of a mosaic, ``(1, 1)`` for a plain matrix; the axes count tiles.
    locate : callable
        ``locate(row, column)`` gives the tensor index (a tuple) of a picture cell, or None for
        a gap.
    reduction : (int, int)
        Block size of the block mean that made this picture from the full one; ``(1, 1)`` when
        it was not reduced.
    full_shape : (int, int)
        Shape of the picture before any reduction.
    """

    values: np.ndarray
    gaps: np.ndarray | None
    row_label: str
    column_label: str
    layout: str
    tile: tuple[int, int] = (1, 1)
    locate: Callable[[int, int], tuple | None] = field(default=lambda r, c: (r, c))
    reduction: tuple[int, int] = (1, 1)
    full_shape: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if self.full_shape == (0, 0):
            self.full_shape = tuple(self.values.shape)

    @property
    def reduced(self) -> bool:
        """True when the picture is a block-mean reduction of a larger one."""
        return self.reduction != (1, 1)
