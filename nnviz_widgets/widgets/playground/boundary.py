"""The decision boundary (bqplot): the network's answer over the plane, with the points.

The answer is coloured in the kernel, paled so that the points stand out, and sent as PNG
bytes; the train points are drawn with a white rim, the test points with a black one. Two
classes: the probability of class 1 from orange to blue; 3 to 5 classes: each pixel in its
likeliest class's colour, paler where the network is less sure; a regression: the prediction
from -1 (orange) to 1 (blue) (docs/playground.md, "Classes and regression").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.views.chart import themed
from nnviz_widgets.views.image import ImageSwap
from nnviz_widgets.widgets.playground.forward import EXTENT

if TYPE_CHECKING:  # for annotations only: the figure draws from numpy and never needs torch
    from nnviz_widgets.datasets import ToyData

__all__ = ["CLASS_COLOURS", "PALETTE", "BoundaryFigure", "class_pixels", "point_colours"]

#: The colours of class 0 and class 1 points: the ends of the class colour map.
CLASS_COLOURS = (CLASSES.anchors[0], CLASSES.anchors[-1])
#: A colour per class for 3 to 5 classes: the two above, then green, purple and magenta, each
#: dark enough to read on white and light enough to read on JupyterLab's dark grey.
PALETTE = (*CLASS_COLOURS, "#2a9d3c", "#8e44c9", "#d0308f")


class BoundaryFigure:
    """The decision-boundary figure: a picture of the probability of class 1, and the points.

    Parameters
    ----------
    show_test : bool
        Whether the test points are drawn at first.

    Attributes
    ----------
    figure : bqplot.Figure
        The figure to show (CSS class ``nnviz-playground-boundary``).
    pictures : ImageSwap
        The boundary's picture.
    train_points, test_points : bqplot.Scatter
        The points, coloured by class.
    """

    def __init__(self, show_test: bool) -> None:
        x = bqplot.LinearScale(min=-EXTENT, max=EXTENT, allow_padding=False)
        y = bqplot.LinearScale(min=-EXTENT, max=EXTENT, allow_padding=False)
        classes = bqplot.ColorScale(colors=list(CLASS_COLOURS), min=0.0, max=1.0)
        self.pictures = ImageSwap(x=[-EXTENT, EXTENT], y=[-EXTENT, EXTENT], scales={"x": x, "y": y})
        point_scales = {"x": x, "y": y, "color": classes}
        # the train points with a white rim, the test points with a black one
        self.train_points = _points(point_scales, "white", visible=True)
        self.test_points = _points(point_scales, "black", visible=show_test)
        self.figure = bqplot.Figure(
            marks=[self.pictures.mark, self.train_points, self.test_points],
            axes=[
                bqplot.Axis(scale=x, label="x₁", tick_values=[-1.0, 0.0, 1.0], tick_format=".0f"),
                bqplot.Axis(
                    scale=y,
                    side="left",
                    label="x₂",
                    tick_values=[-1.0, 0.0, 1.0],
                    tick_format=".0f",
                ),
            ],
            fig_margin={"top": 30, "bottom": 40, "left": 45, "right": 10},
            padding_x=0.0,
            padding_y=0.0,
            title="output",
            title_style={"font-size": "14px"},
            layout=ipywidgets.Layout(width="330px", height="340px"),
            min_aspect_ratio=1.0,
            max_aspect_ratio=1.0,
        )
        themed(self.figure)
        self.figure.add_class("nnviz-playground-boundary")

    @property
    def image(self) -> ipywidgets.Image:
        """The image widget on screen now (its value is the boundary's PNG)."""
        return self.pictures.shown

    def close(self) -> None:
        """Close the image widgets the figure's picture travels through."""
        self.pictures.close()

    def show_data(self, data: ToyData) -> None:
        """Draw the train and test points of ``data``, coloured by class or by target."""
        colours, low, high = point_colours(data.classes)
        scale = self.train_points.scales["color"]
        with scale.hold_sync():
            scale.colors, scale.min, scale.max = colours, low, high
        for mark, x, y in (
            (self.train_points, data.train_x, data.train_y),
            (self.test_points, data.test_x, data.test_y),
        ):
            mark.x = x[:, 0].numpy().copy()
            mark.y = x[:, 1].numpy().copy()
            mark.color = y.numpy().astype(np.float32)

    def draw(self, values: np.ndarray, classes: int = 2) -> None:
        """Show the network's answer, an image-ordered square, as the boundary's picture.

        ``values``: the probability of class 1 (two classes), each class's probability
        (``(rows, columns, classes)``, 3 to 5 classes) or the prediction (``classes`` 0).
        """
        if classes >= 3:
            pixels = class_pixels(values)
        else:
            low = -1.0 if classes == 0 else 0.0
            pixels = colourize(values, low, 1.0, CLASSES)
        # paler than the points drawn on it, so that they stand out
        pixels = (255 - (255 - pixels.astype(np.float32)) * 0.7).astype(np.uint8)
        self.pictures.show(encode_png(pixels))


def class_pixels(probabilities: np.ndarray) -> np.ndarray:
    """RGB pixels for ``(rows, columns, k)`` class probabilities: the likeliest class's colour
    (:data:`PALETTE`), towards white as its probability falls to a toss-up (1/k)."""
    k = probabilities.shape[-1]
    palette = np.array([_rgb(colour) for colour in PALETTE[:k]], dtype=np.float32)
    likeliest = probabilities.argmax(axis=-1)
    sure = (probabilities.max(axis=-1) - 1.0 / k) / (1.0 - 1.0 / k)
    sure = np.clip(np.nan_to_num(sure), 0.0, 1.0)[..., None]
    white = np.float32(246.0)  # the class map's middle, as two classes fade to
    return (white + (palette[likeliest] - white) * sure).round().astype(np.uint8)


def point_colours(classes: int) -> tuple[list[str], float, float]:
    """The points' colour scale for ``classes`` (0: a regression): colours, min and max."""
    if classes == 0:  # a target from -1 to 1, as the picture colours the prediction
        return list(CLASSES.anchors), -1.0, 1.0
    if classes == 2:
        return list(CLASS_COLOURS), 0.0, 1.0
    # one colour per label: the scale meets each colour exactly at its class's number
    return list(PALETTE[:classes]), 0.0, float(classes - 1)


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _points(scales: dict, rim: str, *, visible: bool) -> bqplot.Scatter:
    return bqplot.Scatter(
        x=[0.0],
        y=[0.0],
        color=[0.0],
        scales=scales,
        default_size=22,
        stroke=rim,
        stroke_width=1.0,
        visible=visible,
    )
