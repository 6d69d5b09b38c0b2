"""Mosaics: a stack of small 2-D tiles laid out in a grid with one-cell gaps, as one Picture.

Conv kernels, feature maps and probe images are shown as mosaics: each tile keeps its own shape,
and a gap cell between tiles keeps neighbours apart (``docs/architecture.md``, "Pictures"). A
mosaic's ``locate`` maps a cell back to the tensor element it came from, or to None on a gap.
Numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnviz_widgets.render.picture import Picture

__all__ = ["grid_mosaic", "mosaic", "near_square_grid"]


def near_square_grid(count: int, tile_rows: int, tile_columns: int) -> tuple[int, int]:
    """Grid (rows, columns) of tiles for ``count`` tiles that makes a roughly square mosaic."""
    if count <= 0:
        return 1, 1
    aspect = tile_rows / max(tile_columns, 1)
    columns = max(1, math.ceil(math.sqrt(count * aspect)))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    return rows, columns


def mosaic(
    tiles: np.ndarray, *, noun: str, layout: str, index_of: Callable[[int, int, int], tuple]
) -> Picture:
    """Tiles ``(count, h, w)`` in a near-square grid, numbered row by row.

    Parameters
    ----------
    tiles : ndarray
        ``(count, h, w)``, one tile each.
    noun : str
        What a tile is, plural ("input channels", "probe samples"), for the row label.
    layout : str
        The picture's one-line description.
    index_of : callable
        ``index_of(n, r, c)``: the tensor index of cell ``(r, c)`` of tile ``n``.
    """
    count, h, w = tiles.shape
    grid = near_square_grid(count, h, w)
    columns = grid[1]
    values, gaps, locate = _lay_out(tiles, grid, lambda i, j, r, c: index_of(i * columns + j, r, c))
    return Picture(
        values,
        gaps,
        f"grid row ({noun} {columns} per row)",
        "grid column",
        layout,
        tile=(h, w),
        locate=locate,
    )


def grid_mosaic(
    tiles: np.ndarray,
    *,
    row_label: str,
    column_label: str,
    layout: str,
    index_of: Callable[[int, int, int, int], tuple],
) -> Picture:
    """Tiles ``(rows, columns, h, w)`` whose grid rows and columns mean something of their own.

    E.g. output x input channels of a conv weight. ``index_of(i, j, r, c)`` is the tensor index
    of cell ``(r, c)`` of the tile in grid row ``i`` and grid column ``j``.
    """
    values, gaps, locate = _lay_out(tiles, tiles.shape[:2], index_of)
    return Picture(
        values, gaps, row_label, column_label, layout, tile=tiles.shape[-2:], locate=locate
    )


def _lay_out(
    tiles: np.ndarray,
    grid: tuple[int, int],
    index_of: Callable[[int, int, int, int], tuple],
) -> tuple[np.ndarray, np.ndarray, Callable[[int, int], tuple | None]]:
    """Lay tiles ``(count, h, w)`` or ``(grid_rows, grid_columns, h, w)`` out with 1-cell gaps.

    ``index_of(tile_row, tile_column, r, c)`` maps a cell of a tile back to the tensor index.
    Returns the values, the gap mask and a ``locate`` function.
    """
    grid_rows, grid_columns = grid
    h, w = tiles.shape[-2:]
    if tiles.ndim == 3:
        count = tiles.shape[0]
        padded = np.zeros((grid_rows * grid_columns, h, w), dtype=np.float32)
        padded[:count] = tiles
        tiles = padded.reshape(grid_rows, grid_columns, h, w)
        present = np.zeros(grid_rows * grid_columns, dtype=bool)
        present[:count] = True
        present = present.reshape(grid_rows, grid_columns)
    else:
        present = np.ones((grid_rows, grid_columns), dtype=bool)
    rows, columns = grid_rows * (h + 1) - 1, grid_columns * (w + 1) - 1
    canvas = np.zeros((grid_rows, h + 1, grid_columns, w + 1), dtype=np.float32)
    canvas[:, :h, :, :w] = tiles.transpose(0, 2, 1, 3)
    gaps = np.ones((grid_rows, h + 1, grid_columns, w + 1), dtype=bool)
    gaps[:, :h, :, :w] = ~present[:, None, :, None]
    values = canvas.reshape(grid_rows * (h + 1), grid_columns * (w + 1))[:rows, :columns]
    gaps = gaps.reshape(values.shape[0] + 1, values.shape[1] + 1)[:rows, :columns]

    def locate(row: int, column: int) -> tuple | None:
        tile_row, r = divmod(int(row), h + 1)
        tile_column, c = divmod(int(column), w + 1)
        if r == h or c == w or not (0 <= tile_row < grid_rows and 0 <= tile_column < grid_columns):
            return None
        if not present[tile_row, tile_column]:
            return None
        return index_of(tile_row, tile_column, r, c)

    return np.ascontiguousarray(values), np.ascontiguousarray(gaps), locate
