"""Export of the main view as a PNG file, rendered in the kernel without a browser.

bqplot's own ``Figure.save_png`` makes the *browser* download a file and needs a rendered view;
for slides a user wants a file written from Python. The picture is already coloured in the kernel
(see ``render.colour``), so the export scales those pixels up, adds the title and a colour bar
with its limits, and writes them with the same PNG encoder. Text is drawn with a small built-in 5x7
bitmap font (capitals, digits and common punctuation) so no imaging library is needed.
"""

from __future__ import annotations

import os

import numpy as np

from nnviz_widgets.render.colour import ColourMap
from nnviz_widgets.render.png import encode_png

__all__ = ["compose_export", "render_text"]

# 5x7 glyphs, rows top to bottom; '#' is ink. Lower case is drawn with the capitals.
_GLYPHS = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "####. ....# ....# .###. ....# ....# ####.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    " ": "..... ..... ..... ..... ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    ";": "..... .##.. .##.. ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "/": "....# ...#. ...#. ..#.. .#... .#... #....",
    "=": "..... ..... ##### ..... ##### ..... .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    "%": "##..# ##.#. ...#. ..#.. .#... .#.## #..##",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "'": "..#.. ..#.. ..... ..... ..... ..... .....",
    '"': ".#.#. .#.#. ..... ..... ..... ..... .....",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "*": "..... #.#.# .###. ##### .###. #.#.# .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "\u00b7": "..... ..... ..... ..#.. ..... ..... .....",
}
_BITMAPS = {
    char: np.array([[cell == "#" for cell in row] for row in rows.split()], dtype=bool)
    for char, rows in _GLYPHS.items()
}
_ADVANCE = 6  # 5 columns of glyph and 1 of space


def render_text(text: str, *, scale: int = 2) -> np.ndarray:
    """A boolean ink mask of ``text`` in the built-in font, ``scale`` pixels per font pixel."""
    text = text.upper()
    mask = np.zeros((7, max(1, _ADVANCE * len(text))), dtype=bool)
    for k, char in enumerate(text):
        mask[:, k * _ADVANCE : k * _ADVANCE + 5] = _BITMAPS.get(char, _BITMAPS["?"])
    return np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)


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
    margin, bar_width, gap = 16, 18, 12
    label_width = _ADVANCE * 2 * 10
    width = max(margin + pw + gap + bar_width + 8 + label_width + margin, 360)
    chars = max(10, (width - 2 * margin) // (_ADVANCE * 2))
    title_lines = _wrap(title, chars)
    footer_lines = _wrap(footer, chars) if footer else []
    line_height = 7 * 2 + 6
    top = margin + line_height * len(title_lines) + 6
    height = top + max(ph, 120) + margin + line_height * len(footer_lines)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for k, line in enumerate(title_lines):
        _stamp(canvas, render_text(line), margin + k * line_height, margin)
    canvas[top : top + ph, margin : margin + pw] = picture
    # colour bar: high at the top, as bqplot's vertical colour axis draws it
    bar_left = margin + pw + gap
    bar_height = max(ph, 120)
    levels = np.linspace(len(colour_map.table) - 1, 0, bar_height).round().astype(np.int64)
    canvas[top : top + bar_height, bar_left : bar_left + bar_width] = colour_map.table[levels][
        :, None, :
    ]
    canvas[top : top + bar_height, bar_left - 1] = 0
    canvas[top : top + bar_height, bar_left + bar_width] = 0
    canvas[top - 1, bar_left - 1 : bar_left + bar_width + 1] = 0
    canvas[top + bar_height, bar_left - 1 : bar_left + bar_width + 1] = 0
    label_left = bar_left + bar_width + 6
    _stamp(canvas, render_text(f"{high:.3g}"), top, label_left)
    _stamp(canvas, render_text(f"{(low + high) / 2:.3g}"), top + bar_height // 2 - 7, label_left)
    _stamp(canvas, render_text(f"{low:.3g}"), top + bar_height - 14, label_left)
    for k, line in enumerate(footer_lines):
        _stamp(canvas, render_text(line), top + bar_height + 8 + k * line_height, margin)
    return canvas


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write ``rgb`` to ``path`` as a PNG file (best compression: files are kept)."""
    with open(path, "wb") as handle:
        handle.write(encode_png(rgb, level=9))
