"""The heatmap figure's size in pixels, and how a picture's cells fit its plot area.

A picture fills the plot area in one direction and is centred in the other. Cells are square
unless that would draw a wide or a tall picture as a thin strip: then they grow in the other
direction (a tall picture until it is as wide as tall), a matrix's cells up to
:data:`MATRIX_STRETCH` times as tall as wide (or as wide as tall), a mosaic's (images, kernels)
up to :data:`MOSAIC_STRETCH` so that its tiles keep their look (``docs/explorer.md``, "Tall and
wide pictures"). The axes (``views.picture_axes``) and the pointer grid (``views.hover_grid``)
both work from these numbers. No widgets here.
"""

from __future__ import annotations

__all__ = [
    "HEATMAP_MARGIN",
    "HEATMAP_SIZE",
    "MATRIX_STRETCH",
    "MIN_SIDE",
    "MOSAIC_STRETCH",
    "PLOT_HEIGHT",
    "PLOT_WIDTH",
    "cell_pixels",
    "cell_size",
    "picture_spans",
    "square_spans",
]

#: A plain matrix's cells may be up to this many times as tall as wide, or as wide as tall: a
#: 20 x 120 activation or a 10 x 84 weight gets rows tall enough to read, a 120 x 10 weight
#: columns wide enough, not a thin strip.
MATRIX_STRETCH = 4.0
#: A mosaic's cells (pixels of images, kernels) stretch at most this much: tiles keep their look.
MOSAIC_STRETCH = 1.5

#: A matrix of two or more rows (columns) is at least this many pixels tall (wide), beyond
#: the stretch if need be: a 10 x 4096 weight's cells are a tenth of a pixel wide, and 4x that
#: would draw it 4 pixels tall.
MIN_SIDE = 96

#: Pixel size of the main heatmap figure and its margins (so cells can be kept square).
HEATMAP_SIZE = (480, 450)
HEATMAP_MARGIN = {"top": 40, "bottom": 45, "left": 60, "right": 8}
#: The plot area inside the margins, in pixels.
PLOT_WIDTH = HEATMAP_SIZE[0] - HEATMAP_MARGIN["left"] - HEATMAP_MARGIN["right"]
PLOT_HEIGHT = HEATMAP_SIZE[1] - HEATMAP_MARGIN["top"] - HEATMAP_MARGIN["bottom"]


def cell_size(rows: int, columns: int, stretch: float = 1.0) -> tuple[float, float]:
    """Width and height in pixels of one cell of a ``rows x columns`` picture whose cells may
    be up to ``stretch`` times as tall as wide, or as wide as tall (1: square)."""
    width, height = PLOT_WIDTH / max(columns, 1), PLOT_HEIGHT / max(rows, 1)
    side = min(width, height)  # square cells: the picture fills the plot area one way
    # then the other side grows, up to the stretch: a wide picture's cells taller until it
    # fills the plot area, a tall picture's wider until it is as wide as tall on screen (not
    # further: the plot area is wider than tall, and a square image keeps square pixels); the
    # pointer grid turns its markers for wide cells (views.hover_grid)
    wide = min(width, side * stretch, PLOT_HEIGHT / max(columns, 1))
    tall = min(height, side * stretch)
    # a matrix's thin side at least MIN_SIDE pixels (a single row or column may stay a thin
    # band; a mosaic's tiles keep their look: its stretch is below a matrix's)
    least = MIN_SIDE if stretch >= MATRIX_STRETCH else 0.0
    if rows > 1 and rows * tall < least:
        tall = min(height, least / rows)
    if columns > 1 and columns * wide < least:
        wide = min(width, least / columns)
    return max(side, wide), tall


def picture_spans(rows: int, columns: int, stretch: float = 1.0) -> tuple[float, float]:
    """Scale spans (x, y) in cells that give cells the size :func:`cell_size` says."""
    width, height = cell_size(rows, columns, stretch)
    return PLOT_WIDTH / width, PLOT_HEIGHT / height


def square_spans(rows: int, columns: int) -> tuple[float, float]:
    """Scale spans (x, y) in cells that keep cells square in the plot area."""
    return picture_spans(rows, columns, 1.0)


def cell_pixels(rows: int, columns: int) -> float:
    """The side of one square cell of a ``rows x columns`` picture on screen, in pixels."""
    return cell_size(rows, columns, 1.0)[0]
