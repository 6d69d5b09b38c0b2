"""The main heatmap: a picture coloured in the kernel, with axes, colour bar and pointer readout.

The picture is coloured and encoded in the kernel (``render``) and shown by a bqplot ``Image``
mark (measured: it reaches the round-trip floor, where bqplot's ``HeatMap`` costs N^2 in the
browser); its axes, colour bar and pointer readout stay bqplot. Numpy, bqplot and ipywidgets
only, never torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import DIVERGING, ColourMap, colour_indices
from nnviz_widgets.render.layout import Picture
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.views.image import ImageSwap, colour_bar_png

__all__ = ["COLOUR_BAR_WIDTH", "HEATMAP_MARGIN", "HEATMAP_SIZE", "HOVER_CELLS", "HeatmapView"]


#: Pixel size of the main heatmap figure and its margins (so cells can be kept square).
HEATMAP_SIZE = (480, 450)
HEATMAP_MARGIN = {"top": 40, "bottom": 45, "left": 60, "right": 8}
#: Width of the colour bar figure beside the heatmap, in pixels.
COLOUR_BAR_WIDTH = 88
#: Most hover targets per side, per level. Each target is one SVG element, and the browser's
#: per-frame compositing cost grows with their number (4096 targets cost ~20 ms a frame in
#: Chromium, measured by benchmarks/bench_browser.py): so a large picture gets a coarse grid of
#: blocks, and the block under the pointer a finer grid of its own (see ``HeatmapView``).
HOVER_CELLS = 16


class HeatmapView:
    """The main heatmap: a picture coloured in the kernel, with axes, colour bar and readout.

    Parameters
    ----------
    max_cells : (int, int)
        Largest picture shown cell for cell (rows, columns); larger ones are reduced by block
        means to fit, and the title says so. The default matches the figure's plot area.
    on_hover : callable, optional
        Called as ``on_hover(row, column, row_end, column_end)`` (picture cells, end exclusive)
        when the pointer moves onto a cell or a block of cells, or one is clicked.

    Attributes
    ----------
    figure : bqplot.Figure
        The figure to put in a layout.
    image : bqplot.Image
        The mark that shows the PNG.
    hover : bqplot.Scatter
        Invisible square markers over the picture: bqplot's ``Image`` reports clicks but no
        pointer moves, while a ``Scatter`` reports hovering over each marker. At most
        ``HOVER_CELLS`` per side: over a larger picture each covers a block of cells.
    hover_fine : bqplot.Scatter
        A finer grid over the block the pointer is on, drawn above ``hover``: entering a block
        shows its summary and lays finer markers over it, down to single cells, so every value
        can be read while the page never holds more than ``2 * HOVER_CELLS**2`` markers.
    """

    def __init__(
        self,
        *,
        max_cells: tuple[int, int] = (400, 450),
        on_hover: Callable[[int, int, int, int], None] | None = None,
    ) -> None:
        self.max_cells = max_cells
        self._on_hover = on_hover
        self.x_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_scale = bqplot.LinearScale(min=-0.5, max=0.5, reverse=True, allow_padding=False)
        # axes count tiles of a mosaic, so they use scales of their own in tile units
        self.x_axis_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_axis_scale = bqplot.LinearScale(min=-0.5, max=0.5, reverse=True, allow_padding=False)
        self.colour_scale = bqplot.ColorScale(colors=list(DIVERGING.anchors), min=-1.0, max=1.0)
        self.x_axis = bqplot.Axis(scale=self.x_axis_scale, label="", grid_lines="none")
        self.y_axis = bqplot.Axis(scale=self.y_axis_scale, side="left", label="", grid_lines="none")
        # the colour bar is an image of the same lookup table the picture is coloured with, so
        # bar and picture match exactly; its axis is a plain bqplot axis in data units
        self.bar_scale = bqplot.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.bar_x_scale = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self._bar_pngs = ImageSwap(
            colour_bar_png(DIVERGING),
            x=np.array([0.0, 1.0]),
            y=np.array([-1.0, 1.0]),
            scales={"x": self.bar_x_scale, "y": self.bar_scale},
            pixelated=False,
        )
        self.bar_image = self._bar_pngs.mark
        self.colour_axis = bqplot.Axis(
            scale=self.bar_scale, side="right", label="", tick_format=".3~g", grid_lines="none"
        )
        self.colour_bar = bqplot.Figure(
            marks=[self.bar_image],
            axes=[self.colour_axis],
            scale_x=self.bar_x_scale,
            scale_y=self.bar_scale,
            fig_margin={
                "top": HEATMAP_MARGIN["top"], "bottom": HEATMAP_MARGIN["bottom"],
                "left": 2, "right": COLOUR_BAR_WIDTH - 20,
            },
            padding_x=0.0,
            padding_y=0.0,
            layout=ipywidgets.Layout(
                width=f"{COLOUR_BAR_WIDTH}px", height=f"{HEATMAP_SIZE[1]}px", flex="0 0 auto"
            ),
        )  # fmt: skip
        self.colour_bar.add_class("nnviz-colour-bar")
        self._pngs = ImageSwap(
            encode_png(np.full((1, 1, 3), 255, np.uint8)),
            x=np.array([-0.5, 0.5]),
            y=np.array([0.5, -0.5]),
            scales={"x": self.x_scale, "y": self.y_scale},
        )
        self.image = self._pngs.mark
        self.hover, self.hover_fine = self._hover_mark(), self._hover_mark()
        self.hover.on_hover(self._handle_hover)
        self.hover.on_element_click(self._handle_hover)
        self.hover_fine.on_hover(self._handle_hover_fine)
        self.hover_fine.on_element_click(self._handle_hover_fine)
        self.image.on_element_click(self._handle_image_click)
        self._hover_shape: tuple = ()
        #: per mark: (first row, first column, block side in cells) of its grid
        self._grids: dict[str, tuple[int, int, int]] = {}
        self.figure = bqplot.Figure(
            marks=[self.image, self.hover, self.hover_fine],
            axes=[self.x_axis, self.y_axis],
            scale_x=self.x_scale,
            scale_y=self.y_scale,
            fig_margin=dict(HEATMAP_MARGIN),
            padding_x=0.0,
            padding_y=0.0,
            title="no snapshots yet",
            title_style={"font-size": "13px"},
            layout=ipywidgets.Layout(
                width=f"{HEATMAP_SIZE[0]}px", height=f"{HEATMAP_SIZE[1]}px", flex="0 0 auto"
            ),
        )
        self.figure.add_class("nnviz-heatmap")
        self.widget = ipywidgets.HBox([self.figure, self.colour_bar])
        self.picture: Picture | None = None
        self.shown: Picture | None = None
        self.indices: np.ndarray | None = None
        self.colour_map: ColourMap = DIVERGING
        self.colour_limits = (-1.0, 1.0)

    # ------------------------------------------------------------------ drawing
    def show(
        self,
        picture: Picture,
        low: float,
        high: float,
        colour_map: ColourMap,
        *,
        title: str,
        colour_label: str = "",
        reduced: Picture | None = None,
        indices: np.ndarray | None = None,
        png: bytes | None = None,
    ) -> None:
        """Show ``picture`` (or its given reduction) coloured between ``low`` and ``high``.

        ``indices`` and ``png``, when given, are the reduction already coloured (palette
        indices, see :func:`colour_indices`) and encoded: the explorer prepares them ahead.
        """
        shown = reduced if reduced is not None else reduce_picture(picture, *self.max_cells)
        if indices is None or png is None:
            indices = colour_indices(shown.values, low, high, gaps=shown.gaps)
            png = encode_png(indices, palette=colour_map.palette)
        rows, columns = picture.values.shape
        x_span, y_span = self._square_cells(rows, columns)
        tile_rows, tile_columns = picture.tile
        step_rows = tile_rows + 1 if picture.tile != (1, 1) else 1
        step_columns = tile_columns + 1 if picture.tile != (1, 1) else 1
        # in tile units the centre of tile k sits at k: shift by the tile's half-width
        shift_rows = (tile_rows - 1) / 2 if picture.tile != (1, 1) else 0.0
        shift_columns = (tile_columns - 1) / 2 if picture.tile != (1, 1) else 0.0
        anchors = list(colour_map.anchors)
        # centre the picture; cells stay square, the spare room is split on both sides
        x_low = -0.5 - (x_span - columns) / 2
        y_low = -0.5 - (y_span - rows) / 2
        with self.figure.hold_sync(), self.image.hold_sync():
            self._pngs.show(png)
            self.image.x = np.array([-0.5, columns - 0.5])
            self.image.y = np.array([rows - 0.5, -0.5])
            if (self.x_scale.min, self.x_scale.max) != (x_low, x_low + x_span):
                with self.x_scale.hold_sync():
                    self.x_scale.min, self.x_scale.max = x_low, x_low + x_span
            axis_x = (
                (x_low - shift_columns) / step_columns,
                (x_low + x_span - shift_columns) / step_columns,
            )
            if (self.x_axis_scale.min, self.x_axis_scale.max) != axis_x:
                with self.x_axis_scale.hold_sync():
                    self.x_axis_scale.min, self.x_axis_scale.max = axis_x
            if (self.y_scale.min, self.y_scale.max) != (y_low, y_low + y_span):
                with self.y_scale.hold_sync():
                    self.y_scale.min, self.y_scale.max = y_low, y_low + y_span
            axis_y = ((y_low - shift_rows) / step_rows, (y_low + y_span - shift_rows) / step_rows)
            if (self.y_axis_scale.min, self.y_axis_scale.max) != axis_y:
                with self.y_axis_scale.hold_sync():
                    self.y_axis_scale.min, self.y_axis_scale.max = axis_y
            if self.colour_scale.colors != anchors:
                self.colour_scale.colors = anchors
                self._bar_pngs.show(colour_bar_png(colour_map))
            if (self.colour_scale.min, self.colour_scale.max) != (low, high):
                with self.colour_scale.hold_sync():
                    self.colour_scale.min, self.colour_scale.max = float(low), float(high)
                with self.bar_scale.hold_sync():
                    self.bar_scale.min, self.bar_scale.max = float(low), float(high)
                self.bar_image.y = np.array([float(low), float(high)])
            self.colour_axis.label = colour_label
            self.x_axis.label = picture.column_label
            self.y_axis.label = picture.row_label
            self._set_tick_mode(picture)
            self.figure.title = title
            self._update_hover_targets(rows, columns)
        self.picture, self.shown, self.indices = picture, shown, indices
        self.colour_map, self.colour_limits = colour_map, (float(low), float(high))

    @property
    def png(self) -> ipywidgets.Image:
        """The image widget the heatmap shows now (its ``value`` is the PNG bytes)."""
        return self._pngs.shown

    @property
    def image_widgets(self) -> list[ipywidgets.Image]:
        """Every image widget this view made, shown or spare."""
        return [*self._pngs.widgets, *self._bar_pngs.widgets]

    @property
    def bar_png(self) -> ipywidgets.Image:
        """The image widget the colour bar shows now."""
        return self._bar_pngs.shown

    @property
    def rgb(self) -> np.ndarray | None:
        """The picture shown, as ``(rows, columns, 3)`` uint8 RGB (None when empty)."""
        if self.indices is None:
            return None
        return self.colour_map.palette[self.indices]

    def _set_tick_mode(self, picture: Picture) -> None:
        # integer ticks only: a mosaic's axis counts tiles, a matrix's axis counts rows
        tick_format = "d"
        if self.x_axis.tick_format != tick_format:
            self.x_axis.tick_format = tick_format
            self.y_axis.tick_format = tick_format
        for axis, count in (
            (self.x_axis, self._tile_count(picture, 1)),
            (self.y_axis, self._tile_count(picture, 0)),
        ):
            # at most about ten whole-number ticks, so "d" never rounds a fractional tick
            step = max(1, -(-count // 10))
            wanted = np.arange(0, count, step, dtype=np.float64)
            current = axis.tick_values
            if current is None or not np.array_equal(current, wanted):
                axis.tick_values = wanted

    @staticmethod
    def _tile_count(picture: Picture, axis: int) -> int:
        size = picture.values.shape[axis]
        step = picture.tile[axis] + 1 if picture.tile != (1, 1) else 1
        return (size + 1) // step if step > 1 else size

    def _square_cells(self, rows: int, columns: int) -> tuple[float, float]:
        """Scale spans (x, y) in cells that keep cells square in the plot area."""
        width = HEATMAP_SIZE[0] - HEATMAP_MARGIN["left"] - HEATMAP_MARGIN["right"]
        height = HEATMAP_SIZE[1] - HEATMAP_MARGIN["top"] - HEATMAP_MARGIN["bottom"]
        # rows and columns fill the plot area in one direction; the other gets spare room
        if columns / width >= rows / height:
            return float(columns), columns * height / width
        return rows * width / height, float(rows)

    def _hover_mark(self) -> bqplot.Scatter:
        return bqplot.Scatter(
            x=np.zeros(0),
            y=np.zeros(0),
            marker="square",
            opacities=[0.0],
            colors=["#000000"],
            default_size=64,
            scales={"x": self.x_scale, "y": self.y_scale},
            enable_hover=True,
            interactions={"hover": "tooltip", "click": "select"},
            tooltip=None,
        )

    def _update_hover_targets(self, rows: int, columns: int) -> None:
        """Lay the coarse hover grid over a picture of a new shape (scrubbing keeps it)."""
        if self._hover_shape == (rows, columns):
            return
        self._hover_shape = (rows, columns)
        self._place_grid("coarse", 0, 0, rows, columns)
        self._place_grid("fine", 0, 0, 0, 0)

    def _place_grid(self, which: str, row: int, column: int, rows: int, columns: int) -> None:
        """Cover cells ``[row:row + rows, column:column + columns]`` with square markers.

        Blocks are square (the same number of cells both ways, as cells are square on
        screen), at most ``HOVER_CELLS`` per side; the last ones may reach past the region,
        and read the cells they really cover.
        """
        mark = self.hover if which == "coarse" else self.hover_fine
        if rows <= 0 or columns <= 0:
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0, np.float32), np.zeros(0, np.float32)
            self._grids.pop(which, None)
            return
        side = max(1, -(-max(rows, columns) // HOVER_CELLS))
        centres_r = row + np.arange(0, rows, side) + (side - 1) / 2
        centres_c = column + np.arange(0, columns, side) + (side - 1) / 2
        grid_r, grid_c = np.meshgrid(centres_r, centres_c, indexing="ij")
        pixels = side * self._cell_pixels()
        with mark.hold_sync():
            mark.x = grid_c.ravel().astype(np.float32)
            mark.y = grid_r.ravel().astype(np.float32)
            # a square marker's size is its area in pixels; round up so blocks leave no gaps
            mark.default_size = max(1, math.ceil(pixels * pixels))
        self._grids[which] = (row, column, side, len(centres_c))

    def _cell_pixels(self) -> float:
        """The side of one picture cell on screen, in pixels."""
        rows, columns = self._hover_shape
        x_span, _ = self._square_cells(rows, columns)
        width = HEATMAP_SIZE[0] - HEATMAP_MARGIN["left"] - HEATMAP_MARGIN["right"]
        return width / x_span

    def clear(self, message: str) -> None:
        """Show no picture, only ``message`` as the title (e.g. "no snapshots yet")."""
        with self.figure.hold_sync():
            self._pngs.show(encode_png(np.full((1, 1, 3), 255, np.uint8)))
            self.figure.title = message
            self._place_grid("coarse", 0, 0, 0, 0)
            self._place_grid("fine", 0, 0, 0, 0)
        self._hover_shape = ()
        self.picture = self.shown = self.indices = None

    # ------------------------------------------------------------------ pointer
    def _handle_hover(self, _mark, content: dict) -> None:
        self._pointer_on("coarse", content)

    def _handle_hover_fine(self, _mark, content: dict) -> None:
        self._pointer_on("fine", content)

    def _pointer_on(self, which: str, content: dict) -> None:
        """Report the cells under the marker the pointer is on; refine a block of several."""
        data = content.get("data") or content.get("point") or {}
        index = data.get("index")
        grid = self._grids.get(which)
        if index is None or grid is None or not self._hover_shape:
            return
        rows, columns = self._hover_shape
        first_row, first_column, side, per_row = grid
        r, c = divmod(int(index), per_row)
        row, column = first_row + r * side, first_column + c * side
        row_end, column_end = min(row + side, rows), min(column + side, columns)
        if row >= rows or column >= columns:
            return
        if side > 1:
            # finer markers over this block, above the coarse ones: the next pointer move
            # inside it reads smaller blocks, down to one cell
            self._place_grid("fine", row, column, row_end - row, column_end - column)
        if self._on_hover is not None:
            self._on_hover(row, column, row_end, column_end)

    def _handle_image_click(self, _mark, content: dict) -> None:
        data = content.get("data") or {}
        if self.picture is None or self._on_hover is None or "click_x" not in data:
            return
        row, column = round(float(data["click_y"])), round(float(data["click_x"]))
        rows, columns = self.picture.values.shape
        if 0 <= row < rows and 0 <= column < columns:
            self._on_hover(row, column, row + 1, column + 1)
