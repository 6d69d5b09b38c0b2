"""Export of the main view as a PNG file, rendered in the kernel without a browser.

bqplot's own ``Figure.save_png`` makes the *browser* download a file and needs a rendered view;
for slides a user wants a file written from Python. The picture is already coloured in the kernel
(see ``render.colour``), so the export scales those pixels up, adds the title and a colour bar
with its limits, and writes them with the same PNG encoder. Text is drawn with the small built-in
bitmap font of ``render.font`` so no imaging library is needed.
"""

from __future__ import annotations

import os

import numpy as np

from nnviz_widgets.render.colour import ColourMap
from nnviz_widgets.render.font import ADVANCE, HEIGHT, render_text
from nnviz_widgets.render.png import encode_png

__all__ = ["compose_export", "render_text", "write_png"]

#: Pixels per font pixel in an export.
_TEXT_SCALE = 2
#: Height of one line of text, with the space under it.
_LINE_HEIGHT = HEIGHT * _TEXT_SCALE + 6
_MARGIN, _BAR_WIDTH, _GAP = 16, 18, 12
#: The colour bar is at least this tall, beside a picture of any height.
_BAR_MIN_HEIGHT = 120


def _wrap(text: str, width_chars: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) > width_chars and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return [
        part[i : i + width_chars]
        for part in lines
        for i in range(0, max(len(part), 1), width_chars)
    ]


def _stamp(canvas: np.ndarray, mask: np.ndarray, top: int, left: int, colour=(0, 0, 0)) -> None:
    rows = min(mask.shape[0], canvas.shape[0] - top)
    columns = min(mask.shape[1], canvas.shape[1] - left)
    if rows > 0 and columns > 0:
        canvas[top : top + rows, left : left + columns][mask[:rows, :columns]] = colour


def compose_export(
    rgb: np.ndarray,
    *,
    title: str,
    low: float,
    high: float,
    colour_map: ColourMap,
    footer: str = "",
    target: int = 520,
) -> np.ndarray:
    """Lay out the coloured picture with its title above and a colour bar to its right.

    Parameters
    ----------
    rgb : ndarray
        ``(rows, columns, 3)`` uint8, the coloured picture as shown.
    title : str
        Drawn above the picture (wrapped to its width).
    low, high : float
        The colour range, written at the ends of the colour bar.
    colour_map : ColourMap
        The map the picture was coloured with, drawn as the colour bar.
    footer : str
        An optional line under the picture (e.g. how many NaN there are).
    target : int
        The picture is scaled up by a whole factor until its longer side nears this many pixels.

    Returns
    -------
    ndarray
        ``(height, width, 3)`` uint8 RGB.
    """
    rows, columns = rgb.shape[:2]
    factor = max(1, target // max(rows, columns, 1))
    picture = np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
    ph, pw = picture.shape[:2]
    label_width = ADVANCE * _TEXT_SCALE * 10
    width = max(_MARGIN + pw + _GAP + _BAR_WIDTH + 8 + label_width + _MARGIN, 360)
    chars = max(10, (width - 2 * _MARGIN) // (ADVANCE * _TEXT_SCALE))
    title_lines = _wrap(title, chars)
    footer_lines = _wrap(footer, chars) if footer else []
    top = _MARGIN + _LINE_HEIGHT * len(title_lines) + 6
    bar_height = max(ph, _BAR_MIN_HEIGHT)
    height = top + bar_height + _MARGIN + _LINE_HEIGHT * len(footer_lines)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for k, line in enumerate(title_lines):
        _stamp(canvas, render_text(line), _MARGIN + k * _LINE_HEIGHT, _MARGIN)
    canvas[top : top + ph, _MARGIN : _MARGIN + pw] = picture
    _draw_colour_bar(canvas, colour_map, low, high, top, _MARGIN + pw + _GAP, bar_height)
    for k, line in enumerate(footer_lines):
        _stamp(canvas, render_text(line), top + bar_height + 8 + k * _LINE_HEIGHT, _MARGIN)
    return canvas


def _draw_colour_bar(
    canvas: np.ndarray,
    colour_map: ColourMap,
    low: float,
    high: float,
    top: int,
    left: int,
    height: int,
) -> None:
    """A framed colour bar at ``(top, left)``, labelled with its ends and middle on its right."""
    # high at the top, as bqplot's vertical colour axis draws it
    levels = np.linspace(len(colour_map.table) - 1, 0, height).round().astype(np.int64)
    canvas[top : top + height, left : left + _BAR_WIDTH] = colour_map.table[levels][:, None, :]
    canvas[top : top + height, left - 1] = 0
    canvas[top : top + height, left + _BAR_WIDTH] = 0
    canvas[top - 1, left - 1 : left + _BAR_WIDTH + 1] = 0
    canvas[top + height, left - 1 : left + _BAR_WIDTH + 1] = 0
    label_left = left + _BAR_WIDTH + 6
    text_height = HEIGHT * _TEXT_SCALE
    _stamp(canvas, render_text(f"{high:.3g}"), top, label_left)
    middle = render_text(f"{(low + high) / 2:.3g}")
    _stamp(canvas, middle, top + height // 2 - text_height // 2, label_left)
    _stamp(canvas, render_text(f"{low:.3g}"), top + height - text_height, label_left)


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write ``rgb`` to ``path`` as a PNG file (best compression: files are kept)."""
    with open(path, "wb") as handle:
        handle.write(encode_png(rgb, level=9))
