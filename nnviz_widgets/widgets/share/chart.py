"""The metrics of a shared page as a small inline SVG chart, drawn in Python.

One strip per metric, stacked, each on its own y range (loss and accuracy differ by orders of
magnitude), epochs along x; the page's script moves one marker per strip to the selected
snapshot from the positions computed here. Colours are the explorer's (``views.chart``). Every
name is HTML-escaped: metric names are user data.
"""

from __future__ import annotations

from html import escape

import numpy as np

from nnviz_widgets.views.chart import metric_colour

__all__ = ["MAX_METRICS", "metrics_chart"]

#: Most metrics drawn (the others are named in a line under the chart).
MAX_METRICS = 6
_WIDTH, _STRIP, _LEFT, _RIGHT, _TOP = 560, 74, 64, 16, 16


def _number(value: float) -> str:
    return f"{value:.4g}"


def metrics_chart(
    epochs: np.ndarray, metrics: dict[str, np.ndarray], colours: dict[str, str] | None = None
) -> tuple[str, list]:
    """``(svg, markers)``: the chart, and for each strip drawn ``{"name", "points"}`` with one
    ``[x, y, value]`` per snapshot (None where the metric has no finite value there).

    ``epochs`` and every metric hold one value per shared snapshot, in order. No metric gives
    an empty chart and no markers. ``colours`` gives a strip's colour by name (a comparison:
    the run's); others keep the explorer's colour of the metric.
    """
    names = [name for name in metrics if np.isfinite(np.asarray(metrics[name], float)).any()]
    shown = names[:MAX_METRICS]
    if not shown:
        return "", []
    epochs = np.asarray(epochs, dtype=np.float64)
    low, high = float(epochs.min()), float(epochs.max())
    span = high - low or 1.0
    plot_width = _WIDTH - _LEFT - _RIGHT

    def x_of(epoch: float) -> float:
        return round(_LEFT + (epoch - low) / span * plot_width, 1)

    height = _TOP + _STRIP * len(shown) + 22
    parts = [
        f'<svg id="metrics-chart" class="chart" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" role="img" aria-label="metrics per snapshot">'
    ]
    markers = []
    for row, name in enumerate(shown):
        values = np.asarray(metrics[name], dtype=np.float64)
        top = _TOP + row * _STRIP
        colour = (colours or {}).get(name) or metric_colour(name, row)
        svg, points = _strip(name, epochs, values, top, x_of, colour)
        parts.append(svg)
        markers.append({"name": name, "points": points})
    bottom = _TOP + _STRIP * len(shown)
    parts.append(
        f'<text class="axis" x="{_LEFT}" y="{bottom + 14}">epoch {_number(low)}</text>'
        f'<text class="axis" x="{_WIDTH - _RIGHT}" y="{bottom + 14}" text-anchor="end">'
        f"epoch {_number(high)}</text>"
        f'<line id="metrics-marker" class="marker" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP - 6}" '
        f'y2="{bottom}"></line>'
    )
    parts.append("</svg>")
    if len(names) > len(shown):
        left_out = ", ".join(escape(name) for name in names[len(shown) :])
        parts.append(f'<p class="quiet">not drawn: {left_out}</p>')
    return "".join(parts), markers


def _strip(name, epochs, values, top, x_of, colour) -> tuple[str, list]:
    """One metric's strip: a frame, its line, its range on the left, its name on the right."""
    finite = np.isfinite(values)
    vmin, vmax = float(values[finite].min()), float(values[finite].max())
    vspan = vmax - vmin or 1.0
    inner = _STRIP - 22

    def y_of(value: float) -> float:
        return round(top + 4 + (vmax - value) / vspan * inner, 1)

    points = [
        [x_of(e), y_of(v), float(v)] if ok else None for e, v, ok in zip(epochs, values, finite)
    ]
    segments, current = [], []
    for point in points:  # a gap where the metric is missing, as the explorer draws it
        if point is None:
            segments, current = [*segments, current] if current else segments, []
        else:
            current.append(f"{point[0]},{point[1]}")
    segments = [*segments, current] if current else segments
    lines = "".join(
        f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" '
        'stroke-width="1.5"></polyline>'
        for segment in segments
    )
    dots = "".join(
        f'<circle cx="{p[0]}" cy="{p[1]}" r="2" fill="{colour}"></circle>' for p in points if p
    )
    label = escape(name)
    bottom, width, left = top + 4 + inner, _WIDTH - _LEFT - _RIGHT, _LEFT - 4
    return (
        f'<g class="strip"><rect class="frame" x="{_LEFT}" y="{top}" width="{width}"'
        f' height="{inner + 8}"></rect>{lines}{dots}'
        f'<text class="axis" x="{left}" y="{top + 10}" text-anchor="end">{_number(vmax)}</text>'
        f'<text class="axis" x="{left}" y="{bottom}" text-anchor="end">{_number(vmin)}</text>'
        f'<text class="name" x="{_LEFT + 6}" y="{top + 14}" fill="{colour}">{label}'
        f'<tspan class="value"></tspan></text>'
        f'<circle class="current" r="4" cx="-10" cy="-10" stroke="{colour}"></circle></g>',
        points,
    )
