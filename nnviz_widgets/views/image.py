"""Showing PNG bytes in a bqplot ``Image`` mark so that the browser redraws each new picture."""

from __future__ import annotations

import bqplot
import ipywidgets

from nnviz_widgets.render.colour import ColourMap
from nnviz_widgets.render.png import encode_png

__all__ = ["ImageSwap", "colour_bar_png"]


class ImageSwap:
    """A bqplot ``Image`` mark fed PNG bytes through two image widgets that take turns.

    bqplot 0.13's ``Image`` view redraws when the mark's ``image`` trait points to another
    widget, not when that widget's ``value`` changes (``js/src/Image.ts`` listens to
    ``change:image`` only). So each new picture goes into the widget not on screen, which then
    takes the mark's place; messages arrive in order, so the browser has the bytes before it
    redraws.

    Parameters
    ----------
    value : bytes
        The first picture (PNG bytes), or nothing.
    **mark_options
        Passed to ``bqplot.Image`` (``x``, ``y``, ``scales``, ...).

    Attributes
    ----------
    mark : bqplot.Image
        The mark to put in a figure.
    widgets : tuple of ipywidgets.Image
        Both image widgets, shown or spare (close them with the figure).
    """

    def __init__(self, value: bytes = b"", **mark_options: object) -> None:
        self.widgets = (
            ipywidgets.Image(value=value, format="png"),
            ipywidgets.Image(value=value, format="png"),
        )
        self.mark = bqplot.Image(image=self.widgets[0], **mark_options)

    @property
    def shown(self) -> ipywidgets.Image:
        """The image widget on screen now (its ``value`` is the PNG bytes)."""
        return self.mark.image

    def show(self, value: bytes) -> None:
        """Put ``value`` (PNG bytes) on screen."""
        spare = self.widgets[1] if self.mark.image is self.widgets[0] else self.widgets[0]
        spare.value = value  # reaches the browser before the swap below
        self.mark.image = spare

    def close(self) -> None:
        """Close both image widgets (the mark belongs to its figure)."""
        for widget in self.widgets:
            widget.close()


def colour_bar_png(colour_map: ColourMap) -> bytes:
    """A 1-pixel-wide PNG of the colour map, high values at the top."""
    return encode_png(colour_map.table[::-1][:, None, :])
