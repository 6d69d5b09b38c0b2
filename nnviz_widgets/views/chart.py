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

from nnviz_widgets.views.ticks import nice_limits, nice_ticks, tick_format, tick_labels

__all__ = [
    "chart_figure",
    "epoch_ticks",
    "finite_points",
    "line_points",
    "lines_points",
    "metric_colour",
    "set_ticks",
    "themed",
    "title_size",
    "value_limits",
]

#: Width of a character of a tick label in pixels (bqplot's 11-pixel sans-serif digits).
LABEL_PIXELS = 6.6
#: Height of every small chart, so a row of them lines up.
CHART_HEIGHT = "215px"


#: Titles and axis names: JupyterLab's text colour (bqplot's dark theme draws them orange, which
#: clashed with the orange of a selected layer); black where the page has no theme.
TEXT_COLOUR = "var(--jp-ui-font-color1, black)"


def title_size(title: str, width: float, *, largest: int = 13, smallest: int = 9) -> str:
    """A font size at which ``title`` fits ``width`` pixels (a character of a sans-serif font
    takes about 0.6 of its size): bqplot neither wraps nor shrinks a title, and cut long ones
    ("... (block mean of 2x")."""
    fits = int(width / (0.6 * max(len(title), 1)))
    return f"{max(smallest, min(largest, fits))}px"


def themed(figure: bqplot.Figure) -> bqplot.Figure:
    """``figure`` with its title and its axes' names in JupyterLab's text colour (axes given a
    colour of their own keep it for their ticks)."""
    style = dict(figure.title_style or {})
    if style.get("fill") != TEXT_COLOUR:
        figure.title_style = {**style, "fill": TEXT_COLOUR}
    for axis in figure.axes:
        if axis.label_color is None:
            axis.label_color = TEXT_COLOUR
    return figure


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
    return themed(figure)


#: Colours of metrics by what they measure, the same in every widget, each readable on white and
#: on JupyterLab's dark background: losses blue (train) and red (test/validation), accuracy green.
METRIC_COLOURS = {"loss": "#1f77b4", "test": "#d62728", "accuracy": "#2ca02c"}
#: Other metrics, in the order they come.
OTHER_COLOURS = ("#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def metric_colour(name: str, order: int = 0) -> str:
    """The colour of a metric called ``name`` (``order``: its place among the unknown ones)."""
    lowered = name.lower()
    if "acc" in lowered:
        return METRIC_COLOURS["accuracy"]
    if "loss" in lowered:
        held_out = any(word in lowered for word in ("test", "val", "eval"))
        return METRIC_COLOURS["test" if held_out else "loss"]
    return OTHER_COLOURS[order % len(OTHER_COLOURS)]


def set_ticks(axis: bqplot.Axis, ticks: np.ndarray) -> None:
    """Give ``axis`` these tick values and one format for all of them (only what changed);
    hide it when there are none."""
    ticks = np.asarray(ticks, dtype=np.float64)
    # no ticks: bqplot would invent its own (0.1 ... 0.9 over an empty domain), so no axis
    visible = ticks.size > 0
    if axis.visible != visible:
        axis.visible = visible
    if not visible:
        return
    fmt = tick_format(ticks)
    current = axis.tick_values
    if current is None or not np.array_equal(np.asarray(current), ticks):
        axis.tick_values = ticks
    if axis.tick_format != fmt:
        axis.tick_format = fmt
    if axis.side in ("left", "right"):  # the axis name clear of the widest tick label
        offset = f"{round(LABEL_PIXELS * max(map(len, tick_labels(ticks, fmt))) + 14)}px"
        if axis.label_offset != offset:
            axis.label_offset = offset
    # d3 writes zero in exponent notation as "0e+0": label it "0" (bqplot looks a tick's label
    # up by its value written as JavaScript writes numbers)
    labels = {"0": "0"} if fmt.endswith("e") and (ticks == 0).any() else None
    if axis.tick_labels != labels:
        axis.tick_labels = labels


def epoch_ticks(axis: bqplot.Axis, epochs: np.ndarray) -> None:
    """Ticks for an epoch axis over ``epochs``: whole numbers when the epochs are, never a
    half epoch between two snapshots; at most six."""
    epochs = np.asarray(epochs, dtype=np.float64)
    epochs = epochs[np.isfinite(epochs)]
    if epochs.size == 0:
        set_ticks(axis, np.zeros(0))
        return
    whole = bool(np.array_equal(epochs, np.round(epochs)))
    set_ticks(axis, nice_ticks(float(epochs.min()), float(epochs.max()), integer=whole))


def value_limits(
    scale: bqplot.LinearScale, axis: bqplot.Axis, values: np.ndarray, *, from_zero: bool = False
) -> None:
    """Size ``scale`` to the finite ``values`` with its ends on ticks, and tick ``axis`` so:
    at most six labels, one format (``from_zero``: non-negative values start at 0)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        low, high = 0.0, 1.0
    else:
        low, high = float(values.min()), float(values.max())
    if from_zero and low >= 0:
        low = 0.0
    low, high, ticks = nice_limits(low, high)
    if (scale.min, scale.max) != (low, high):
        with scale.hold_sync():
            scale.min, scale.max = low, high
    set_ticks(axis, ticks)


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
