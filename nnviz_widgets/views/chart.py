"""What the small charts share (metrics, histogram, gradient norms): a titled bqplot figure, and
the points a mark may be given.

One place for what makes the charts under the heatmap look alike: their height, title size and
CSS class (the browser tests find each chart by its class). And one rule for their data: a mark
is never sent a point it cannot place. bqplot draws a scatter point and a line's end label at
``translate(x, y)``: a NaN there is an SVG error in the browser's console on every draw. Its
``Lines`` skip non-finite points inside a line (a gap) but not at its end. Missing values (a
metric given at some snapshots only, a gradient norm of zero on a log scale) are therefore left
out of scatters (:func:`finite_points`) and never end a line (:func:`line_points`). No torch.
"""

from __future__ import annotations

import bqplot
import ipywidgets
import numpy as np

__all__ = ["chart_figure", "finite_points", "line_points", "lines_points"]

#: Height of every small chart, so a row of them lines up.
CHART_HEIGHT = "215px"


def chart_figure(
    marks: list[bqplot.Mark],
    axes: list[bqplot.Axis],
    *,
    title: str,
    css_class: str,
    width: str,
    margin: dict[str, int],
    **options: object,
) -> bqplot.Figure:
    """A small chart ``width`` wide, with a 12-pixel title and the CSS class ``css_class``.

    ``options`` go to ``bqplot.Figure`` (e.g. ``legend_location``).
    """
    figure = bqplot.Figure(
        marks=marks,
        axes=axes,
        title=title,
        title_style={"font-size": "12px"},
        fig_margin=margin,
        layout=ipywidgets.Layout(width=width, height=CHART_HEIGHT),
        **options,
    )
    figure.add_class(css_class)
    return figure


def finite_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of a scatter that can be placed: ``(x, y, kept)``, ``kept`` their positions
    in the input (what a click on the k-th point drawn stands for). ``x`` may hold names (an
    ordinal scale): only ``y`` is checked then."""
    x, y = np.asarray(x), np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y)
    if x.dtype.kind in "fiu":
        finite &= np.isfinite(x)
    kept = np.flatnonzero(finite)
    return x[kept], y[kept], kept


def line_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One line's points without the non-finite ones at its start and end (where nothing is
    drawn anyway); gaps inside stay. Empty arrays when no point is finite."""
    x, y = np.asarray(x), np.asarray(y, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(y))
    if finite.size == 0:
        return x[:0], y[:0]
    return x[finite[0] : finite[-1] + 1], y[finite[0] : finite[-1] + 1]


def lines_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Several lines over the same ``x`` (rows of ``y``) as one ``Lines`` mark can draw them:
    ``(x, y, kept)`` with a row of ``x`` per line, each line's trailing non-finite points moved
    to its start (nothing is drawn there; its end is then a point it has), rows without any
    finite point left out; ``kept`` are the rows drawn, in order."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y)
    kept = np.flatnonzero(finite.any(axis=1))
    xs, ys = np.empty((len(kept), y.shape[1])), np.empty((len(kept), y.shape[1]))
    for out, row in enumerate(kept):
        end = int(np.flatnonzero(finite[row])[-1]) + 1
        order = np.r_[end : y.shape[1], 0:end]  # the trailing gap first
        xs[out], ys[out] = x[order], y[row, order]
    return xs, ys, kept
