"""The main view as a publication figure, drawn with matplotlib (an optional dependency).

``TrainingExplorer.save_png`` writes the picture the browser shows with axes and ticks that count
rows and columns (tiles of a mosaic), a colour bar with its label, the title and the NaN line, in
matplotlib's font at a chosen DPI; the file type (PNG, SVG, PDF) follows the path's suffix. The
pixels are the kernel's own coloured ones (``render.colour``), drawn unsmoothed. matplotlib is
imported here only, when a figure is asked for (``docs/explorer.md``, "Export").
``RunComparison.save_png`` draws its runs the same way, side by side under one colour bar
(:func:`comparison_figure`; ``docs/explorer.md``, "Comparing runs").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnviz_widgets.render.colour import ColourMap
from nnviz_widgets.render.picture import Picture

__all__ = [
    "FIGURE_SUFFIXES",
    "INSTALL_HINT",
    "FigurePanel",
    "comparison_figure",
    "comparison_size",
    "figure_size",
    "have_matplotlib",
    "main_figure",
    "save_figure",
    "tile_ticks",
]

#: File types the figure export writes, by suffix.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
#: What to run when matplotlib is missing.
INSTALL_HINT = 'pip install "nnviz_widgets[export]"'
#: Width of the figure in inches; its height follows the picture's shape, within bounds.
WIDTH_INCHES = 6.4
#: At most this many ticks per axis.
MOST_TICKS = 8
#: Width in inches of each picture's plot area in a comparison figure.
PANEL_INCHES = 3.6


@dataclass(frozen=True)
class FigurePanel:
    """One picture of a comparison figure: the cells (``picture``: ticks and axis names), the
    colours as shown (``rgb``) and the panel's title (the run and the epoch it shows)."""

    picture: Picture
    rgb: np.ndarray
    title: str


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def figure_size(rows: int, columns: int) -> tuple[float, float]:
    """Figure width and height in inches for a ``rows x columns`` picture: the plot area keeps
    the picture's aspect between 1:2 and 2:1 (room for title, ticks and colour bar around it)."""
    aspect = min(max(rows / max(columns, 1), 0.5), 2.0)
    plot_width = WIDTH_INCHES - 1.9  # left ticks and label, colour bar and its label
    return WIDTH_INCHES, round(plot_width * aspect + 1.4, 2)  # title above, ticks below


def comparison_size(rows: int, columns: int, count: int) -> tuple[float, float]:
    """Figure width and height in inches for ``count`` pictures of ``rows x columns`` in a
    row, with one colour bar: each plot area keeps the aspect bounds of :func:`figure_size`."""
    aspect = min(max(rows / max(columns, 1), 0.5), 2.0)
    width = PANEL_INCHES * count + 0.5 * (count - 1) + 1.9  # gaps between, ticks, colour bar
    return round(width, 2), round(PANEL_INCHES * aspect + 1.7, 2)  # titles above, ticks below


def main_figure(
    picture: Picture,
    rgb: np.ndarray,
    *,
    title: str,
    low: float,
    high: float,
    colour_map: ColourMap,
    colour_label: str,
    footer: str = "",
) -> Any:
    """The main view as a matplotlib ``Figure`` (not shown; call ``savefig`` on it).

    ``rgb`` is the picture as shown (``(rows, columns, 3)`` uint8, perhaps a block-mean
    reduction of ``picture``); it is stretched over ``picture``'s cells, so the ticks count the
    tensor's own rows and columns. Raises ImportError naming the pip command without matplotlib.
    """
    make_figure, bar_scale = _matplotlib()
    rows, columns = picture.values.shape
    figure = make_figure(figsize=figure_size(rows, columns), layout="constrained")
    axes = figure.add_subplot()
    _draw_picture(axes, picture, rgb)
    axes.set_title(title, fontsize="medium", wrap=True)
    bar = figure.colorbar(bar_scale(low, high, colour_map), ax=axes, shrink=0.9)
    bar.set_label(colour_label)
    if footer:
        figure.supxlabel(footer, fontsize="small", color="#b00020")
    return figure


def comparison_figure(
    panels: list[FigurePanel],
    *,
    title: str,
    low: float,
    high: float,
    colour_map: ColourMap,
    colour_label: str,
) -> Any:
    """Pictures side by side as one matplotlib ``Figure``: each panel with its own title, axes
    and ticks (as :func:`main_figure`), the figure's ``title`` above them all and one colour bar
    with its label for every picture, since they share the range ``low``..``high``. Raises
    ImportError naming the pip command without matplotlib."""
    if not panels:
        raise ValueError("a comparison figure needs at least one picture")
    make_figure, bar_scale = _matplotlib()
    rows = max(panel.picture.values.shape[0] for panel in panels)
    columns = max(panel.picture.values.shape[1] for panel in panels)
    figure = make_figure(figsize=comparison_size(rows, columns, len(panels)), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for one, panel in zip(axes, panels, strict=True):
        _draw_picture(one, panel.picture, panel.rgb)
        one.set_title(panel.title, fontsize="medium")
    for one in axes[1:]:
        one.set_ylabel("")  # the first panel names the rows for the row
    figure.suptitle(title, fontsize="large")
    bar = figure.colorbar(bar_scale(low, high, colour_map), ax=list(axes), shrink=0.9)
    bar.set_label(colour_label)
    return figure


def save_figure(figure: Any, path: str | os.PathLike, dpi: float) -> None:
    """Write ``figure`` to ``path``, its type from the suffix (PNG at ``dpi`` dots per inch)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(
            f"cannot write a figure to {os.fspath(path)!r}: the file name should end in "
            + ", ".join(FIGURE_SUFFIXES)
        )
    from matplotlib import rc_context

    # text as text: an SVG's words stay words (searchable, editable), a PDF embeds TrueType
    # rather than Type 3 fonts, as journals ask
    with rc_context({"svg.fonttype": "none", "pdf.fonttype": 42}):
        figure.savefig(path, dpi=dpi, format=suffix[1:])


def _matplotlib() -> tuple[Any, Any]:
    """matplotlib's ``Figure`` class and a maker of the colour bar's scale (low, high, map),
    or ImportError naming the pip command."""
    try:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import ListedColormap, Normalize
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            f"exporting a figure needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from error

    def bar_scale(low: float, high: float, colour_map: ColourMap) -> Any:
        return ScalarMappable(Normalize(low, high), ListedColormap(colour_map.table / 255.0))

    return Figure, bar_scale


def _draw_picture(axes: Any, picture: Picture, rgb: np.ndarray) -> None:
    """``rgb`` stretched over ``picture``'s cells on ``axes``, ticks counting its rows and
    columns (or tiles), the axes named."""
    rows, columns = picture.values.shape
    axes.imshow(
        rgb,
        extent=(-0.5, columns - 0.5, rows - 0.5, -0.5),
        aspect="auto" if _stretched(rows, columns) else "equal",
        interpolation="nearest",
    )
    axes.set_yticks(*tile_ticks(picture, 0))
    axes.set_xticks(*tile_ticks(picture, 1))
    axes.set_xlabel(picture.column_label)
    axes.set_ylabel(picture.row_label)


def tile_ticks(picture: Picture, axis: int) -> tuple[np.ndarray, list[str]]:
    """Tick positions (in cells) and labels along ``axis`` (0: rows): whole numbers counting
    rows or columns, or a mosaic's tiles at their centres; at most :data:`MOST_TICKS`."""
    size = picture.values.shape[axis]
    tile = picture.tile[axis]
    step = tile + 1 if picture.tile != (1, 1) else 1
    count = (size + 1) // step if step > 1 else size
    every = _nice_step(count)
    numbers = np.arange(0, count, every)
    centres = numbers * step + (tile - 1) / 2 if step > 1 else numbers.astype(np.float64)
    return centres, [str(int(n)) for n in numbers]


def _nice_step(count: int) -> int:
    """1, 2, 5, 10, 20, ... : the smallest that leaves at most :data:`MOST_TICKS` ticks."""
    for power in range(0, 12):
        for factor in (1, 2, 5):
            step = factor * 10**power
            if math.ceil(count / step) <= MOST_TICKS:
                return step
    return max(count, 1)


def _stretched(rows: int, columns: int) -> bool:
    """A picture much wider than tall (or the reverse) fills the plot area with non-square
    cells, as on screen; others keep their cells square."""
    return not 0.5 <= rows / max(columns, 1) <= 2.0
