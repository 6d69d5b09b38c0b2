"""The heatmap's scales and axes: cells placed in the plot area, ticks that count tiles.

A picture is drawn in cell units (cell ``(r, c)`` centred at ``x = c, y = r``), so the image
mark and the pointer grid share one pair of scales. The axes read differently: a mosaic's axis
counts tiles, not cells, so the axes use a second pair of scales in tile units, kept in step
with the first. No torch.
"""

from __future__ import annotations

import math

import bqplot
import numpy as np

from nnviz_widgets.render.picture import Picture
from nnviz_widgets.views.geometry import MATRIX_STRETCH, MOSAIC_STRETCH, cell_size, picture_spans

#: Pixels a tick label needs along its axis: a row label's height with room above and below;
#: a column label's width is a digit's pixels per digit, and room on each side.
_ROW_TICK_PIXELS, _DIGIT_PIXELS, _COLUMN_ROOM = 18, 7, 14

__all__ = ["PictureAxes"]


class PictureAxes:
    """The scales that place a picture's cells, and the axes that label its rows and columns.

    Attributes
    ----------
    x_scale, y_scale : bqplot.LinearScale
        Cell units, for the marks drawn over the picture (``y`` runs downwards).
    x_axis_scale, y_axis_scale : bqplot.LinearScale
        Tile units of a mosaic (cell units for a plain matrix), for the axes.
    x_axis, y_axis : bqplot.Axis
        The axes, labelled with what the columns and the rows are.
    """

    def __init__(self) -> None:
        self.x_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_scale = bqplot.LinearScale(min=-0.5, max=0.5, reverse=True, allow_padding=False)
        self.x_axis_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_axis_scale = bqplot.LinearScale(min=-0.5, max=0.5, reverse=True, allow_padding=False)
        self.x_axis = bqplot.Axis(
            scale=self.x_axis_scale, label="", grid_lines="none", label_offset="32px"
        )  # the name clear of the tick labels
        self.y_axis = bqplot.Axis(scale=self.y_axis_scale, side="left", label="", grid_lines="none")

    def fit(self, picture: Picture) -> None:
        """Centre ``picture``, its cells square or stretched (:func:`stretch_of`); label and
        tick the axes for it.

        Only what changed is sent: scrubbing through pictures of one shape sends nothing here.
        """
        rows, columns = picture.values.shape
        x_span, y_span = picture_spans(rows, columns, stretch_of(picture))
        # centre the picture; the spare room is split on both sides
        x_low = -0.5 - (x_span - columns) / 2
        y_low = -0.5 - (y_span - rows) / 2
        step_rows, shift_rows = _tile_step(picture, 0)
        step_columns, shift_columns = _tile_step(picture, 1)
        _set_limits(self.x_scale, x_low, x_low + x_span)
        _set_limits(
            self.x_axis_scale,
            (x_low - shift_columns) / step_columns,
            (x_low + x_span - shift_columns) / step_columns,
        )
        _set_limits(self.y_scale, y_low, y_low + y_span)
        _set_limits(
            self.y_axis_scale,
            (y_low - shift_rows) / step_rows,
            (y_low + y_span - shift_rows) / step_rows,
        )
        self.x_axis.label = picture.column_label
        self.y_axis.label = picture.row_label
        for axis in (self.x_axis, self.y_axis):  # hidden while there was no picture
            if not axis.visible:
                axis.visible = True
        self._set_ticks(picture)

    def _set_ticks(self, picture: Picture) -> None:
        # integer ticks only: a mosaic's axis counts tiles, a matrix's axis counts rows
        tick_format = "d"
        if self.x_axis.tick_format != tick_format:
            self.x_axis.tick_format = tick_format
            self.y_axis.tick_format = tick_format
        rows, columns = picture.values.shape
        width, height = cell_size(rows, columns, stretch_of(picture))
        for axis, count, pixels, label in (
            (self.x_axis, _tile_count(picture, 1), columns * width, _label_width(picture)),
            (self.y_axis, _tile_count(picture, 0), rows * height, _ROW_TICK_PIXELS),
        ):
            # whole numbers on a 1-2-5 step, a label's room apart on screen, at most about
            # ten: a 96-pixel band of ten rows is not ten crowded labels
            step = _tick_step(count, pixels / max(count, 1), label)
            wanted = np.arange(0, count, step, dtype=np.float64)
            current = axis.tick_values
            if current is None or not np.array_equal(current, wanted):
                axis.tick_values = wanted


def stretch_of(picture: Picture) -> float:
    """How far the picture's cells may stretch: a matrix's more than a mosaic's (whose tiles
    are images or kernels), see ``views.geometry``."""
    return MATRIX_STRETCH if picture.tile == (1, 1) else MOSAIC_STRETCH


def _tick_step(count: int, tile_pixels: float, label_pixels: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least a label's room apart (tiles of
    ``tile_pixels``) that puts at most ten ticks on ``count`` tiles."""
    least = max(1.0, label_pixels / max(tile_pixels, 1e-9), (count - 1) / 9)
    power = 10 ** math.floor(math.log10(least))
    for factor in (1, 2, 5, 10):
        if factor * power >= least - 1e-9:
            return int(factor * power)
    return int(10 * power)


def _label_width(picture: Picture) -> float:
    """Pixels the widest column tick label needs, with room on each side."""
    digits = len(str(max(_tile_count(picture, 1) - 1, 0)))
    return digits * _DIGIT_PIXELS + _COLUMN_ROOM


def _set_limits(scale: bqplot.LinearScale, low: float, high: float) -> None:
    if (scale.min, scale.max) != (low, high):
        with scale.hold_sync():
            scale.min, scale.max = low, high


def _tile_step(picture: Picture, axis: int) -> tuple[int, float]:
    """Cells from one tile to the next along ``axis`` (1 for a matrix), and a tile's centre.

    In tile units the centre of tile k sits at k: the offset is the tile's half-width.
    """
    if picture.tile == (1, 1):
        return 1, 0.0
    return picture.tile[axis] + 1, (picture.tile[axis] - 1) / 2


def _tile_count(picture: Picture, axis: int) -> int:
    """How many tiles (rows or columns of a matrix) the picture has along ``axis``."""
    size = picture.values.shape[axis]
    step, _ = _tile_step(picture, axis)
    return (size + 1) // step if step > 1 else size
