"""The colour bar beside the heatmap: the colour map's own lookup table, with an axis in data units.

The bar is an image of the same lookup table the picture is coloured with (``render.colour``),
so bar and picture match exactly; its axis is a plain bqplot axis. The bar also owns the
``ColorScale`` that other views (the histogram) colour their marks with. No torch.
"""

from __future__ import annotations

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import DIVERGING, ColourMap
from nnviz_widgets.views.chart import set_ticks
from nnviz_widgets.views.geometry import HEATMAP_MARGIN, HEATMAP_SIZE
from nnviz_widgets.views.image import ImageSwap, colour_bar_png
from nnviz_widgets.views.ticks import nice_ticks

__all__ = ["COLOUR_BAR_WIDTH", "ColourBar"]

#: Width of the colour bar figure beside the heatmap, in pixels.
COLOUR_BAR_WIDTH = 88


class ColourBar:
    """A colour bar as tall as the heatmap, lined up with its plot area.

    Attributes
    ----------
    figure : bqplot.Figure
        The figure to put beside the heatmap.
    colour_scale : bqplot.ColorScale
        The colour map and range shown, for marks coloured like the heatmap.
    scale : bqplot.LinearScale
        The bar's data range (the colour range).
    image : bqplot.Image
        The mark that shows the bar's PNG.
    axis : bqplot.Axis
        The bar's axis, labelled with what the colours mean.
    """

    def __init__(self) -> None:
        self.colour_scale = bqplot.ColorScale(colors=list(DIVERGING.anchors), min=-1.0, max=1.0)
        self.scale = bqplot.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        x_scale = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self._pngs = ImageSwap(
            colour_bar_png(DIVERGING),
            x=np.array([0.0, 1.0]),
            y=np.array([-1.0, 1.0]),
            scales={"x": x_scale, "y": self.scale},
            pixelated=False,
        )
        self.image = self._pngs.mark
        self.axis = bqplot.Axis(
            scale=self.scale, side="right", label="", tick_format=".3~g", grid_lines="none"
        )
        self.figure = bqplot.Figure(
            marks=[self.image],
            axes=[self.axis],
            scale_x=x_scale,
            scale_y=self.scale,
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
        self.figure.add_class("nnviz-colour-bar")
        set_ticks(self.axis, nice_ticks(-1.0, 1.0))

    @property
    def png(self) -> ipywidgets.Image:
        """The image widget the bar shows now."""
        return self._pngs.shown

    @property
    def widgets(self) -> tuple[ipywidgets.Image, ...]:
        """Both image widgets of the bar, shown or spare."""
        return self._pngs.widgets

    def show(self, colour_map: ColourMap, low: float, high: float, label: str) -> None:
        """Show ``colour_map`` from ``low`` to ``high``; only what changed is sent."""
        anchors = list(colour_map.anchors)
        if self.colour_scale.colors != anchors:
            self.colour_scale.colors = anchors
            self._pngs.show(colour_bar_png(colour_map))
        if (self.colour_scale.min, self.colour_scale.max) != (low, high):
            with self.colour_scale.hold_sync():
                self.colour_scale.min, self.colour_scale.max = float(low), float(high)
            with self.scale.hold_sync():
                self.scale.min, self.scale.max = float(low), float(high)
            self.image.y = np.array([float(low), float(high)])
            set_ticks(self.axis, nice_ticks(float(low), float(high)))  # one format, at most six
        self.axis.label = label
