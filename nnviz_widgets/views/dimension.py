"""A bqplot figure of the "colourful dimension" picture: value histograms over snapshots.

x is the snapshot, y the value, colour ``log1p(count)`` (``render/dimension.py``). A vertical
line marks the selected snapshot; a click on a column calls ``on_select(snapshot)``.
"""

from __future__ import annotations

from collections.abc import Callable

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import SEQUENTIAL, colour_indices
from nnviz_widgets.render.dimension import DimensionPicture
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.views.chart import TEXT_COLOUR, themed
from nnviz_widgets.views.image import ImageSwap
from nnviz_widgets.views.ticks import nice_ticks, tick_format

__all__ = ["DimensionView"]

_BLANK = np.zeros((1, 1), dtype=np.uint8)


class DimensionView:
    """One layer quantity's histograms over snapshots (see the module's docstring).

    Attributes
    ----------
    figure : bqplot.Figure
        The figure; ``image`` its picture (an ``ImageSwap`` mark) and ``marker`` the line at
        the selected snapshot.
    picture : DimensionPicture or None
        What is on screen.
    """

    def __init__(self, on_select: Callable[[int], None] | None = None) -> None:
        self._on_select = on_select
        self.x_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_scale = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self._pngs = ImageSwap(
            encode_png(_BLANK, palette=SEQUENTIAL.palette),
            x=np.array([-0.5, 0.5]),
            y=np.array([0.0, 1.0]),
            scales=scales,
        )
        self.image = self._pngs.mark
        self.image.on_element_click(self._handle_click)
        self.marker = bqplot.Lines(
            x=[0.0, 0.0], y=[0.0, 1.0], scales=scales, colors=[TEXT_COLOUR], stroke_width=1.5
        )
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="snapshot", tick_format=",d")
        self.y_axis = bqplot.Axis(scale=self.y_scale, side="left", label="value")
        axes = [self.x_axis, self.y_axis]
        self.figure = bqplot.Figure(
            marks=[self.image, self.marker],
            axes=axes,
            padding_x=0.0,
            padding_y=0.0,
            fig_margin={"top": 30, "bottom": 40, "left": 60, "right": 10},
            title="",
            title_style={"font-size": "12px"},
            layout=ipywidgets.Layout(width="420px", height="220px", flex="0 0 auto"),
        )
        themed(self.figure)
        self.figure.add_class("nnviz-dimension")
        self.picture: DimensionPicture | None = None
        self.indices: np.ndarray | None = None

    @property
    def image_widgets(self) -> list[ipywidgets.Image]:
        """Both image widgets, shown or spare (the spare is not reachable from the mark)."""
        return list(self._pngs.widgets)

    def show(self, picture: DimensionPicture, selected: int, title: str) -> None:
        """Draw ``picture`` with the marker at snapshot ``selected``."""
        gaps = np.isnan(picture.values)
        top = float(np.nanmax(picture.values)) if not gaps.all() else 1.0
        self.indices = colour_indices(picture.values, 0.0, max(top, 1e-6), gaps=gaps)
        snapshots = picture.snapshots
        spacing = (snapshots[-1] - snapshots[0]) / max(len(snapshots) - 1, 1) or 1.0
        half = 0.5 * spacing
        left, right = float(snapshots[0] - half), float(snapshots[-1] + half)
        low, high = float(picture.edges[0]), float(picture.edges[-1])
        with self.figure.hold_sync():
            self.x_scale.min, self.x_scale.max = left, right
            self.y_scale.min, self.y_scale.max = low, high
            self.image.x, self.image.y = np.array([left, right]), np.array([low, high])
            self._pngs.show(encode_png(self.indices, palette=SEQUENTIAL.palette))
            self.marker.y = [low, high]
            # whole snapshots and a few values on 1-2-5 steps (views/ticks.py)
            self.x_axis.tick_values = nice_ticks(snapshots[0], snapshots[-1], integer=True)
            values = nice_ticks(low, high, most=5)
            self.y_axis.tick_values, self.y_axis.tick_format = values, tick_format(values)
            self.figure.title = title
        self.picture = picture
        self.mark(selected)

    def mark(self, selected: int) -> None:
        """Move the marker to snapshot ``selected``."""
        self.marker.x = [float(selected), float(selected)]

    def clear(self, title: str) -> None:
        """No picture: ``title`` says why."""
        self.picture = self.indices = None
        self._pngs.show(encode_png(_BLANK, palette=SEQUENTIAL.palette))
        self.figure.title = title

    def column_at(self, x: float) -> int | None:
        """The snapshot of the column nearest ``x`` (in snapshot units), or None."""
        if self.picture is None:
            return None
        snapshots = self.picture.snapshots
        return int(snapshots[int(np.abs(snapshots - x).argmin())])

    def _handle_click(self, _mark, content: dict) -> None:
        data = content.get("data") or {}
        if "click_x" not in data or self._on_select is None:
            return
        snapshot = self.column_at(float(data["click_x"]))
        if snapshot is not None:
            self._on_select(snapshot)
