"""The main heatmap: a picture coloured in the kernel, with axes, colour bar and pointer readout.

The picture is coloured and encoded in the kernel (``render``) and shown by a bqplot ``Image``
mark (measured: it reaches the round-trip floor, where bqplot's ``HeatMap`` costs N^2 in the
browser: ``docs/architecture.md``, "Where time goes"). :class:`HeatmapView` puts together the
parts, each in its own module: the scales and axes (``views.picture_axes``), the colour bar
(``views.colour_bar``) and the pointer's hover grid (``views.hover_grid``). Numpy, bqplot and
ipywidgets only, never torch.
"""

from __future__ import annotations

from collections.abc import Callable

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import DIVERGING, ColourMap, colour_indices
from nnviz_widgets.render.picture import Picture
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.views.chart import themed, title_size
from nnviz_widgets.views.colour_bar import COLOUR_BAR_WIDTH, ColourBar
from nnviz_widgets.views.geometry import HEATMAP_MARGIN, HEATMAP_SIZE
from nnviz_widgets.views.hover_grid import HOVER_CELLS, HoverGrid
from nnviz_widgets.views.image import ImageSwap
from nnviz_widgets.views.picture_axes import PictureAxes, stretch_of

__all__ = ["COLOUR_BAR_WIDTH", "HEATMAP_MARGIN", "HEATMAP_SIZE", "HOVER_CELLS", "HeatmapView"]

#: What the heatmap shows before its first picture, and after :meth:`HeatmapView.clear`: one
#: transparent pixel (a white square glared on the dark theme).
_BLANK = np.zeros((1, 1, 4), np.uint8)


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
        The heatmap figure; ``widget`` is it with its colour bar, to put in a layout.
    image : bqplot.Image
        The mark that shows the PNG.
    hover, hover_fine : bqplot.Scatter
        The coarse and the fine grid of invisible pointer targets over the picture (see
        :class:`~nnviz_widgets.views.hover_grid.HoverGrid`).
    x_axis, y_axis, x_scale, y_scale
        The axes, and the scales in cell units (see
        :class:`~nnviz_widgets.views.picture_axes.PictureAxes`).
    colour_bar : bqplot.Figure
        The colour bar beside the heatmap; ``colour_scale``, ``bar_scale``, ``bar_image`` and
        ``colour_axis`` are its parts (see :class:`~nnviz_widgets.views.colour_bar.ColourBar`).
    picture, shown : Picture or None
        The picture shown, and the reduction of it that is on screen.
    indices : ndarray or None
        The palette indices on screen; ``colour_map`` and ``colour_limits`` coloured them.
    """

    def __init__(
        self,
        *,
        max_cells: tuple[int, int] = (400, 450),
        on_hover: Callable[[int, int, int, int], None] | None = None,
    ) -> None:
        self.max_cells = max_cells
        self._on_hover = on_hover
        # the parts' pieces that the explorer and the tests reach for keep their names here
        self.axes = PictureAxes()
        self.x_scale, self.y_scale = self.axes.x_scale, self.axes.y_scale
        self.x_axis, self.y_axis = self.axes.x_axis, self.axes.y_axis
        self.bar = ColourBar()
        self.colour_bar, self.colour_scale = self.bar.figure, self.bar.colour_scale
        self.bar_scale, self.bar_image = self.bar.scale, self.bar.image
        self.colour_axis = self.bar.axis
        self._pngs = ImageSwap(
            encode_png(_BLANK),
            x=np.array([-0.5, 0.5]),
            y=np.array([0.5, -0.5]),
            scales={"x": self.x_scale, "y": self.y_scale},
        )
        self.image = self._pngs.mark
        self.image.on_element_click(self._handle_image_click)
        self.hover_grid = HoverGrid({"x": self.x_scale, "y": self.y_scale}, on_hover)
        self.hover, self.hover_fine = self.hover_grid.coarse, self.hover_grid.fine
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
        themed(self.figure)
        self.figure.add_class("nnviz-heatmap")
        self.widget = ipywidgets.HBox([self.figure, self.colour_bar])
        self.picture: Picture | None = None
        self.shown: Picture | None = None
        self.indices: np.ndarray | None = None
        self.colour_map: ColourMap = DIVERGING
        self.colour_limits = (-1.0, 1.0)

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
        with self.figure.hold_sync(), self.image.hold_sync():
            self._pngs.show(png)
            self.image.x = np.array([-0.5, columns - 0.5])
            self.image.y = np.array([rows - 0.5, -0.5])
            self.axes.fit(picture)
            self.bar.show(colour_map, low, high, colour_label)
            self._title(title)
            self.hover_grid.cover(rows, columns, stretch_of(picture))
        self.picture, self.shown, self.indices = picture, shown, indices
        self.colour_map, self.colour_limits = colour_map, (float(low), float(high))

    def clear(self, message: str) -> None:
        """Show no picture, only ``message`` as the title (e.g. "no snapshots yet")."""
        with self.figure.hold_sync():
            self._pngs.show(encode_png(_BLANK))
            self._title(message)
            self.hover_grid.clear()
            for axis in (self.x_axis, self.y_axis):  # no picture: no half-cell ticks either
                axis.visible = False
        self.picture = self.shown = self.indices = None

    def _title(self, title: str) -> None:
        """Show ``title``, in a font small enough for it to fit the figure (no cut titles)."""
        size = title_size(title, HEATMAP_SIZE[0] - 10)
        if (self.figure.title_style or {}).get("font-size") != size:
            self.figure.title_style = {**(self.figure.title_style or {}), "font-size": size}
        self.figure.title = title

    @property
    def png(self) -> ipywidgets.Image:
        """The image widget the heatmap shows now (its ``value`` is the PNG bytes)."""
        return self._pngs.shown

    @property
    def bar_png(self) -> ipywidgets.Image:
        """The image widget the colour bar shows now."""
        return self.bar.png

    @property
    def image_widgets(self) -> list[ipywidgets.Image]:
        """Every image widget this view made, shown or spare."""
        return [*self._pngs.widgets, *self.bar.widgets]

    @property
    def rgb(self) -> np.ndarray | None:
        """The picture shown, as ``(rows, columns, 3)`` uint8 RGB (None when empty)."""
        if self.indices is None:
            return None
        return self.colour_map.palette[self.indices]

    def _handle_image_click(self, _mark, content: dict) -> None:
        data = content.get("data") or {}
        if self.picture is None or self._on_hover is None or "click_x" not in data:
            return
        row, column = round(float(data["click_y"])), round(float(data["click_x"]))
        rows, columns = self.picture.values.shape
        if 0 <= row < rows and 0 <= column < columns:
            self._on_hover(row, column, row + 1, column + 1)
