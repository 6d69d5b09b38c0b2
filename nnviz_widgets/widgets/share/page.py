"""A shared page put together: each rendered picture as page data, and the HTML around it.

Pictures travel as PNG data URIs (the explorer's own indexed PNGs), the values under them,
when the picture is small enough, as base64 float32; everything else the page shows is text the
script writes with ``textContent``. The data sits in a JSON block with ``<``, ``>`` and ``&``
written as ``\\u003c``... so no name can close the block, and the page's Content-Security-Policy
lets no script run but the page's own (by its hash) and load nothing at all (``default-src
'none'``; images from ``data:`` only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from html import escape

import numpy as np

from nnviz_widgets.render.colour import DIVERGING, SEQUENTIAL
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.widgets.explorer.display import READOUT_HINT
from nnviz_widgets.widgets.share.assets import SCRIPT, STYLE
from nnviz_widgets.widgets.share.content import Rendered, nonfinite_text

__all__ = [
    "DISPLAY_PIXELS",
    "cell_indices",
    "colour_bars",
    "entry_size",
    "frame_entry",
    "page_html",
]

#: The longer side of a picture on the page, in CSS pixels (cells stay square).
DISPLAY_PIXELS = 440
#: Largest cell on the page: a 3x3 kernel is not drawn 150 pixels a cell.
MAX_CELL_PIXELS = 24


def data_uri(png: bytes) -> str:
    """``png`` as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def colour_bars() -> dict[str, str]:
    """The colour maps as one-row PNGs (low to high, left to right), by the name the frames
    give."""
    return {
        name: data_uri(encode_png(colour_map.table[None, :, :], level=9))
        for name, colour_map in (("diverging", DIVERGING), ("sequential", SEQUENTIAL))
    }


def frame_entry(item: Rendered, max_values: int) -> dict:
    """What the page holds of one picture: its PNG, size, colour range, text, and its values
    when it has at most ``max_values`` cells."""
    entry = {"title": item.title, "missing": item.missing, "note": item.note}
    prepared = item.prepared
    if prepared is None:
        return entry
    reduced = prepared.reduced
    rows, columns = reduced.values.shape
    scale = min(MAX_CELL_PIXELS, DISPLAY_PIXELS / max(rows, columns, 1))
    low, high, _ = prepared.limits
    entry.update(
        png=data_uri(prepared.png),
        rows=rows,
        columns=columns,
        block=list(reduced.reduction),
        width=max(1, round(columns * scale)),
        height=max(1, round(rows * scale)),
        low=finite_or_none(low),
        high=finite_or_none(high),
        map="diverging" if prepared.colour_map is DIVERGING else "sequential",
        nonfinite=nonfinite_text(item),
        values=None,
        gaps=None,
        values_note="",
    )
    if rows * columns <= max_values:
        values = np.ascontiguousarray(reduced.values, dtype="<f4")
        entry["values"] = base64.b64encode(values.tobytes()).decode("ascii")
        if reduced.gaps is not None:
            gaps = np.ascontiguousarray(reduced.gaps, dtype=np.uint8)
            entry["gaps"] = base64.b64encode(gaps.tobytes()).decode("ascii")
    else:
        entry["values_note"] = (
            f"values not embedded ({rows * columns:,} cells; max_values={max_values:,})"
        )
    return entry


def cell_indices(item: Rendered, max_values: int) -> dict | None:
    """Where each cell of a picture comes from in its tensor (``Picture.locate``), for the
    readout to name ``quantity[i, j, ...]`` as the explorer does: ``{"shape": [rows, columns,
    dims], "bits": 16 or 32, "data": base64}``, -1 on a gap. None for a reduced picture (a cell
    is a block), one over ``max_values`` cells, or none."""
    prepared = item.prepared
    if prepared is None or prepared.reduced.reduced:
        return None
    picture = prepared.picture
    rows, columns = picture.values.shape
    if rows * columns > max_values:
        return None
    found = [picture.locate(r, c) for r in range(rows) for c in range(columns)]
    dims = max((len(where) for where in found if where is not None), default=0)
    if dims == 0:
        return None
    table = np.full((rows * columns, dims), -1, dtype=np.int64)
    for cell, where in enumerate(found):
        if where is not None:
            table[cell, : len(where)] = where
    bits = 16 if table.max() < 2**15 else 32
    data = np.ascontiguousarray(table, dtype=f"<i{bits // 8}").tobytes()
    return {
        "shape": [rows, columns, dims],
        "bits": bits,
        "data": base64.b64encode(data).decode("ascii"),
    }


def entry_size(entry: dict) -> int:
    """Bytes ``entry`` takes in the page (its JSON)."""
    return len(_json(entry))


def _json(value: object) -> str:
    """JSON that cannot end the ``<script>`` block it sits in, whatever its strings hold."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a missing number is null."""
    return float(value) if math.isfinite(value) else None


def page_html(
    *, title: str, summary: str, data: dict, chart: str, rows: list[list[int]] | None = None
) -> str:
    """The whole page: ``data`` (snapshots, views with their frames, bars, markers, start) as
    JSON, ``chart`` (inline SVG, already escaped) under the controls, one card per view.
    ``rows`` groups the cards into rows (a comparison: a row of runs per view), each row
    wrapping where the window is narrow; by default every card is in one row."""
    data = {**data, "hint": READOUT_HINT}
    count = len(data["snapshots"])
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    policy = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'"
    )
    rows = [list(range(len(data["views"])))] if rows is None else rows
    cards = "".join(
        "<div class='views'>" + "".join(_card(v) for v in row) + "</div>\n" for row in rows
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n<p class='quiet'>{escape(summary)}</p>\n"
        "<div class='controls'>"
        "<button id='previous' type='button' aria-label='previous snapshot'>&#9664;</button>"
        f"<input id='snapshot' type='range' min='0' max='{count - 1}' step='1' value='0' "
        "aria-label='snapshot'>"
        "<button id='next' type='button' aria-label='next snapshot'>&#9654;</button>"
        "<span id='epoch'></span></div>\n"
        "<p class='quiet'>arrow keys, Page Up/Down, Home and End move through the snapshots"
        "</p>\n"
        + cards
        + (f"<h2 class='chart-title'>metrics</h2>\n{chart}\n" if chart else "")
        + f'<script type="application/json" id="share-data">{_json(data)}</script>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _card(v: int) -> str:
    """One view's card; the script fills its text in."""
    return (
        f"<section class='card' id='view-{v}'><h2></h2>"
        "<div class='title quiet'></div>"
        "<img class='picture' alt='the picture at this snapshot'>"
        "<p class='missing warn'></p>"
        "<div class='bar-row'><span class='low'></span><img class='bar' alt='colour bar'>"
        "<span class='high'></span><span class='quiet'>(middle <span class='middle'></span>)"
        "</span></div>"
        "<div class='readout'></div><p class='nonfinite warn'></p><p class='note quiet'></p>"
        "</section>"
    )
