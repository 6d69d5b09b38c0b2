"""The heatmap figure's size in pixels, and how a picture's cells fit its plot area, square.

Cells are kept square on screen: a picture fills the plot area in one direction and is centred
in the other. The axes (``views.picture_axes``) and the pointer grid (``views.hover_grid``)
both work from these numbers. No widgets here.
"""

from __future__ import annotations

__all__ = [
    "HEATMAP_MARGIN",
    "HEATMAP_SIZE",
    "PLOT_HEIGHT",
    "PLOT_WIDTH",
    "cell_pixels",
    "square_spans",
]

#: Pixel size of the main heatmap figure and its margins (so cells can be kept square).
HEATMAP_SIZE = (480, 450)
HEATMAP_MARGIN = {"top": 40, "bottom": 45, "left": 60, "right": 8}
#: The plot area inside the margins, in pixels.
PLOT_WIDTH = HEATMAP_SIZE[0] - HEATMAP_MARGIN["left"] - HEATMAP_MARGIN["right"]
PLOT_HEIGHT = HEATMAP_SIZE[1] - HEATMAP_MARGIN["top"] - HEATMAP_MARGIN["bottom"]


def square_spans(rows: int, columns: int) -> tuple[float, float]:
    """Scale spans (x, y) in cells that keep cells square in the plot area."""
    # rows and columns fill the plot area in one direction; the other gets spare room
    if columns / PLOT_WIDTH >= rows / PLOT_HEIGHT:
        return float(columns), columns * PLOT_HEIGHT / PLOT_WIDTH
    return rows * PLOT_WIDTH / PLOT_HEIGHT, float(rows)


def cell_pixels(rows: int, columns: int) -> float:
    """The side of one cell of a ``rows x columns`` picture on screen, in pixels."""
    x_span, _ = square_spans(rows, columns)
    return PLOT_WIDTH / x_span
