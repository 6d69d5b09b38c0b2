"""The pointer readout's targets: a coarse grid of invisible markers, refined under the pointer.

bqplot's ``Image`` mark reports clicks but no pointer moves, while a ``Scatter`` reports hovering
over each of its markers. Each marker is one SVG element, and the browser's per-frame
compositing cost grows with their number (4096 of them cost ~20 ms a frame in Chromium,
measured by ``benchmarks/bench_browser.py``): so a large picture gets a coarse grid of blocks,
and the block under the pointer a finer grid of its own, down to single cells
(``docs/architecture.md``, "Where time goes"). No torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import bqplot
import numpy as np

from nnviz_widgets.views.geometry import cell_size

__all__ = ["HOVER_CELLS", "HoverGrid"]

#: Most hover targets per side, per level (coarse and fine).
HOVER_CELLS = 16
#: bqplot's skew (0 to 1) makes a rectangle marker at most ten times as tall as wide.
_MOST_RATIO = 10.0
#: The smallest block a marker covers, in pixels along each side.
_LEAST_PIXELS = 1.0


class HoverGrid:
    """Two grids of invisible square markers over a picture that report the cells under them.

    Parameters
    ----------
    scales : dict
        The picture's ``{"x": ..., "y": ...}`` scales, in cell units.
    on_hover : callable, optional
        Called as ``on_hover(row, column, row_end, column_end)`` (picture cells, end exclusive)
        when the pointer moves onto a marker, or one is clicked.

    Attributes
    ----------
    coarse : bqplot.Scatter
        At most ``HOVER_CELLS`` markers per side over the whole picture: over a larger picture
        each covers a square block of cells.
    fine : bqplot.Scatter
        A finer grid over the block the pointer is on, drawn above ``coarse``: entering a block
        reports its summary and lays finer markers over it, down to single cells, so every value
        can be read while the page never holds more than ``2 * HOVER_CELLS**2`` markers.
    """

    def __init__(
        self,
        scales: dict[str, bqplot.Scale],
        on_hover: Callable[[int, int, int, int], None] | None = None,
    ) -> None:
        self._on_hover = on_hover
        self.coarse, self.fine = _hover_mark(scales), _hover_mark(scales)
        self.coarse.on_hover(self._handle_coarse)
        self.coarse.on_element_click(self._handle_coarse)
        self.fine.on_hover(self._handle_fine)
        self.fine.on_element_click(self._handle_fine)
        #: (rows, columns) of the picture covered, () when none; how far its cells stretch
        self._shape: tuple = ()
        self._stretch = 1.0
        #: per grid: (first row, first column, block side in cells, markers per row)
        self._grids: dict[str, tuple[int, int, int, int]] = {}

    def cover(self, rows: int, columns: int, stretch: float = 1.0) -> None:
        """Lay the coarse grid over a picture of a new shape (scrubbing keeps it); its cells
        may stretch up to ``stretch`` (see ``views.geometry``)."""
        if self._shape == (rows, columns) and self._stretch == stretch:
            return
        self._shape, self._stretch = (rows, columns), stretch
        self._place("coarse", 0, 0, rows, columns)
        self._place("fine", 0, 0, 0, 0)

    def clear(self) -> None:
        """Remove every marker (no picture shown)."""
        self._place("coarse", 0, 0, 0, 0)
        self._place("fine", 0, 0, 0, 0)
        self._shape = ()

    def cell_pixels(self) -> float:
        """The shorter side of one picture cell on screen, in pixels (cells of a matrix may be
        stretched one way: see :meth:`cell_size`)."""
        return min(self.cell_size())

    def cell_size(self) -> tuple[float, float]:
        """Width and height of one picture cell on screen, in pixels."""
        return cell_size(*self._shape, self._stretch)

    def _place(self, which: str, row: int, column: int, rows: int, columns: int) -> None:
        """Cover cells ``[row:row + rows, column:column + columns]`` with markers.

        Blocks are square in cells (the same number of cells both ways) unless that makes
        them too thin on screen (:func:`_sides`), at most ``HOVER_CELLS`` per side; the last
        ones may reach past the region, and read the cells they really cover. A marker is a
        rectangle the size of its block on screen (bqplot's "rectangle" is
        ``sqrt(size / 10**skew)`` wide and ``10**skew`` times as tall, with a skew of 0 to 1),
        square where cells are. A skew cannot make a marker wider than tall: over a tall
        picture's wide cells the markers are the tall rectangle turned a quarter turn
        (``docs/explorer.md``, "Tall and wide pictures").
        """
        mark = self.coarse if which == "coarse" else self.fine
        if rows <= 0 or columns <= 0:
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0, np.float32), np.zeros(0, np.float32)
                mark.rotation = np.zeros(0, np.float32)
            self._grids.pop(which, None)
            return
        side_r, side_c = _sides(rows, columns, *self.cell_size())
        centres_r = row + np.arange(0, rows, side_r) + (side_r - 1) / 2
        centres_c = column + np.arange(0, columns, side_c) + (side_c - 1) / 2
        grid_r, grid_c = np.meshgrid(centres_r, centres_c, indexing="ij")
        width, height = self.cell_size()
        # whole pixels, rounded up so blocks leave no gaps
        width, height = max(1, math.ceil(side_c * width)), max(1, math.ceil(side_r * height))
        turned = width > height
        with mark.hold_sync():
            mark.x = grid_c.ravel().astype(np.float32)
            mark.y = grid_r.ravel().astype(np.float32)
            # 1 on the rotation scale is a quarter turn; 0 draws the marker as it is
            mark.rotation = np.full(mark.x.size, 1.0 if turned else 0.0, np.float32)
            mark.default_size = width * height
            mark.default_skew = min(1.0, math.log10(max(width, height) / min(width, height)))
        self._grids[which] = (row, column, side_r, side_c, len(centres_c))

    def _handle_coarse(self, _mark, content: dict) -> None:
        self._pointer_on("coarse", content)

    def _handle_fine(self, _mark, content: dict) -> None:
        self._pointer_on("fine", content)

    def _pointer_on(self, which: str, content: dict) -> None:
        """Report the cells under the marker the pointer is on; refine a block of several.

        An event names its marker by index and position. The browser may still show markers
        placed before (a new picture, or the fine grid moved to another block): such an
        event's index means another cell now, and its position (the old marker's centre) no
        longer matches; it is dropped, and the next pointer move reports the right cells.
        """
        data = content.get("data") or content.get("point") or {}
        index = data.get("index")
        grid = self._grids.get(which)
        if index is None or grid is None or not self._shape:
            return
        rows, columns = self._shape
        first_row, first_column, side_r, side_c, per_row = grid
        r, c = divmod(int(index), per_row)
        row, column = first_row + r * side_r, first_column + c * side_c
        row_end, column_end = min(row + side_r, rows), min(column + side_c, columns)
        if row >= rows or column >= columns or not _at(data, row, column, side_r, side_c):
            return
        if (side_r, side_c) != _sides(row_end - row, column_end - column, *self.cell_size()):
            # finer markers over this block, above the coarse ones: the next pointer move
            # inside it reads smaller blocks, down to one cell
            self._place("fine", row, column, row_end - row, column_end - column)
        if self._on_hover is not None:
            self._on_hover(row, column, row_end, column_end)


def _sides(rows: int, columns: int, width: float, height: float) -> tuple[int, int]:
    """Rows and columns of cells per block over a region of ``rows x columns`` cells, each
    ``width`` x ``height`` pixels: square in cells, ``HOVER_CELLS`` blocks along the longer
    side, unless such a block would be more than ten times as tall as wide (or as wide as
    tall) on screen, more than a bqplot marker can be: then fewer cells along its long side (a
    10 x 4096 matrix's rows are 10 pixels tall, its columns 0.1); and never under a pixel."""
    side = max(1, -(-max(rows, columns) // HOVER_CELLS))
    side_r = side_c = side
    if height > _MOST_RATIO * width:
        side_r = max(1, math.floor(side * _MOST_RATIO * width / height))
    elif width > _MOST_RATIO * height:
        side_c = max(1, math.floor(side * _MOST_RATIO * height / width))
    # no block under a pixel: thinner cells are read a few at a time (a pointer cannot single
    # one out, and whole-pixel markers would overlap their neighbours)
    side_r = max(side_r, min(rows, math.ceil(_LEAST_PIXELS / height)))
    side_c = max(side_c, min(columns, math.ceil(_LEAST_PIXELS / width)))
    return side_r, side_c


def _at(data: dict, row: int, column: int, side_r: int, side_c: int) -> bool:
    """Whether the marker an event names (``x``, ``y``: its centre as sent, float32) is the one
    this grid places over the block at ``(row, column)``; True when the event has no position."""
    x, y = data.get("x"), data.get("y")
    if x is None or y is None:
        return True
    placed = np.float32(column + (side_c - 1) / 2), np.float32(row + (side_r - 1) / 2)
    try:
        return (np.float32(x), np.float32(y)) == placed
    except (TypeError, ValueError):
        return False


def _hover_mark(scales: dict[str, bqplot.Scale]) -> bqplot.Scatter:
    """An empty grid of invisible square markers that report hovers and clicks."""
    return bqplot.Scatter(
        x=np.zeros(0),
        y=np.zeros(0),
        marker="rectangle",
        opacities=[0.0],
        colors=["#000000"],
        default_size=64,
        default_skew=0.0,
        rotation=np.zeros(0),
        # a rotation of 1 is 90 degrees: bqplot maps this scale onto 0-180 degrees
        scales={**scales, "rotation": bqplot.LinearScale(min=0.0, max=2.0)},
        enable_hover=True,
        interactions={"hover": "tooltip", "click": "select"},
        tooltip=None,
    )
