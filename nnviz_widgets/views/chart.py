"""The frame the small charts share (metrics, histogram, gradient norms): a titled bqplot figure.

One place for what makes the charts under the heatmap look alike: their height, title size and
CSS class (the browser tests find each chart by its class). No torch.
"""

from __future__ import annotations

import bqplot
import ipywidgets

__all__ = ["chart_figure"]

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
