"""``save_html``: a run as one self-contained HTML page that opens offline in any browser.

The page holds the chosen views' pictures at every chosen snapshot (the explorer's own PNGs),
a snapshot slider that also answers the keyboard, the metrics as an inline SVG chart with the
selected snapshot marked, each picture's colour bar and range, epoch and step, and the values
under the pointer for pictures of at most ``max_values`` cells. It loads nothing: no network,
no kernel (``page.py`` says how). Its size is bounded by ``max_bytes``: an export that would
pass it stops with an error that says how big the page would be and what to leave out
(``docs/explorer.md``, "Sharing a run").
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnviz_widgets.recording import Recording
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache
from nnviz_widgets.widgets.explorer.selection import Selection
from nnviz_widgets.widgets.share.chart import metrics_chart
from nnviz_widgets.widgets.share.content import (
    Rendered,
    choose_snapshots,
    choose_views,
    positions_text,
    recording_selection,
    rendered,
    snapshot_line,
)
from nnviz_widgets.widgets.share.page import (
    cell_indices,
    colour_bars,
    entry_size,
    frame_entry,
    page_html,
)
from nnviz_widgets.widgets.share.progress import Progress, SavedFile, megabytes, replace_file

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CELLS",
    "DEFAULT_MAX_VALUES",
    "check_bounds",
    "epochs_text",
    "render_entries",
    "save_html",
    "views_data",
    "write_html",
    "write_page",
]

#: Largest page ``save_html`` writes unless told otherwise: 20 MB, which mail and chat accept.
DEFAULT_MAX_BYTES = 20_000_000
#: Pictures of at most this many cells carry their values (4 bytes a cell, about 5.3 in base64).
DEFAULT_MAX_VALUES = 65_536
#: A picture larger than this is block-averaged to it, as in the explorer's default.
DEFAULT_MAX_CELLS = (400, 450)
#: A page projected past this multiple of ``max_bytes`` after the first snapshot stops there
#: (pictures of one view differ little in size from snapshot to snapshot).
_CLEARLY_OVER = 2.0


def save_html(
    recording: Recording,
    path: str | os.PathLike,
    *,
    colour_range: str = "fixed",
    **options: Any,
) -> SavedFile:
    """Write a recording as one HTML file that opens offline in any browser (no kernel).

    ``TrainingExplorer.save_html`` does the same for what an explorer shows; this one needs no
    widget. Options as there (``layers=``, ``quantities=``, ``snapshots=``, ``max_bytes=``,
    ``max_values=``, ``title=``, ``progress=``); ``layers=None`` takes the layer the explorer
    would open on, ``colour_range`` is the explorer's mode ("fixed", "snapshot" or "robust").
    """
    selection = recording_selection(recording, "save_html", colour_range)
    return write_html(recording, path, selection, DEFAULT_MAX_CELLS, **options)


def write_html(
    recording: Recording,
    path: str | os.PathLike,
    current: Selection,
    max_cells: tuple[int, int],
    *,
    layers=None,
    quantities=None,
    snapshots=None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_values: int = DEFAULT_MAX_VALUES,
    title: str | None = None,
    progress: bool = True,
) -> SavedFile:
    """:func:`save_html` from a selection (the explorer's: its layer, quantity, sample,
    channel, colour mode and snapshot) and the explorer's largest picture."""
    check_bounds(max_bytes, max_values)
    frames = FrameCache(recording, max_cells)
    frames.prefetching = False
    try:
        views = choose_views(recording, current, frames, layers, quantities)
        indices = choose_snapshots(recording, snapshots)
        entries, where, notes = render_entries(
            [view.name for view in views],
            len(indices),
            lambda k: [rendered(recording, frames, view, indices[k]) for view in views],
            max_bytes,
            max_values,
            progress,
        )
    finally:
        frames.close()
    epochs = np.array([recording.snapshots[i] for i in indices], dtype=np.float64)
    metrics = {name: np.asarray(values)[indices] for name, values in recording.metrics.items()}
    chart, markers = metrics_chart(epochs, metrics)
    data = {
        "snapshots": [{"line": snapshot_line(recording, i)} for i in indices],
        "views": views_data(
            [v.name for v in views], [v.selection.quantity for v in views], entries, where
        ),
        "markers": markers,
        "start": indices.index(current.index) if current.index in indices else len(indices) - 1,
    }
    summary = (
        f"{len(views)} view{'s' * (len(views) != 1)} at {len(indices)} of {len(recording)} "
        f"snapshots ({positions_text(indices)}), {epochs_text(epochs)}"
    )
    title = title or "nnviz_widgets: a training run"
    size = write_page(path, title, summary, data, chart, [v.name for v in views], max_bytes)
    return SavedFile(
        os.fspath(path), size, tuple(v.name for v in views), tuple(indices), tuple(notes)
    )


def views_data(
    names: list[str], quantities: list[str], entries: list[list[dict]], where: list
) -> list[dict]:
    """What the page's script reads of each card: its name, quantity, pictures (one entry per
    snapshot) and where its cells come from in the tensor."""
    return [
        {"name": name, "quantity": quantity, "frames": column, "cells": cells}
        for name, quantity, column, cells in zip(names, quantities, entries, where, strict=True)
    ]


def epochs_text(epochs: np.ndarray) -> str:
    """The end of a page's summary line: the epochs it spans and when it was saved."""
    saved = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"epochs {epochs.min():g} to {epochs.max():g}; saved {saved}"


def write_page(
    path: str | os.PathLike,
    title: str,
    summary: str,
    data: dict,
    chart: str,
    names: list[str],
    max_bytes: int,
    rows: list[list[int]] | None = None,
) -> int:
    """The page around ``data`` (with the colour bars added) written to ``path``, or, when it
    would pass ``max_bytes``, nothing written and an error naming the heaviest of ``names``
    (the cards). ``rows`` groups the cards (see :func:`page_html`). Returns the bytes written."""
    text = page_html(
        title=title, summary=summary, data={**data, "bars": colour_bars()}, chart=chart, rows=rows
    )
    encoded = text.encode("utf-8")
    if len(encoded) > max_bytes:  # the page around the pictures tipped it over
        tally = _Tally(names, 1, max_bytes, total=len(encoded), done=1)
        raise ValueError(tally.message())
    return replace_file(path, encoded)


def check_bounds(max_bytes: object, max_values: object) -> None:
    for name, value in (("max_bytes", max_bytes), ("max_values", max_values)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}= takes a whole number >= 0, got {value!r}")


@dataclass
class _Tally:
    """What the page weighs so far: in all, in values, per card (bytes)."""

    names: list[str]
    count: int  # snapshots chosen
    max_bytes: int
    total: int = 0
    values: int = 0
    done: int = 0  # snapshots done
    per_view: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.per_view = np.zeros(len(self.names))

    def add(self, v: int, entry: dict) -> None:
        size = entry_size(entry)
        self.per_view[v] += size
        self.total += size
        self.values += len(entry.get("values") or "") + len(entry.get("gaps") or "")

    @property
    def projected(self) -> float:
        return self.total / max(self.done, 1) * self.count

    def over(self) -> bool:
        """Sure to pass ``max_bytes``: past it already, or far past it by the first snapshot's
        measure."""
        first = self.done == 1 and self.projected > _CLEARLY_OVER * self.max_bytes
        return self.total > self.max_bytes or first

    def message(self) -> str:
        """What passing ``max_bytes`` means, and what to leave out."""
        text = (
            f"the page would pass max_bytes={self.max_bytes:,} ({megabytes(self.max_bytes)}): "
            f"{megabytes(self.total)} after {self.done} of {self.count} snapshots, about "
            f"{megabytes(self.projected)} in all"
        )
        if self.per_view.any():
            per_snapshot = self.per_view / self.done
            heaviest = sorted(zip(per_snapshot, self.names), reverse=True)[:5]
            text += "; per snapshot: " + ", ".join(f"{n} {megabytes(b)}" for b, n in heaviest)
        keep = max(1, int(self.count * self.max_bytes / max(self.projected, 1)))
        step = max(2, -(-self.count // keep))
        values = self.values / max(self.total, 1)
        return text + (
            f". Share fewer snapshots (snapshots=slice(None, None, {step}) keeps one in {step}), "
            "fewer layers or quantities (layers=[...], quantities=[...]), no values under the "
            f"pointer (max_values=0; they are {values:.0%} of it), or pass a larger max_bytes"
        )


def render_entries(
    names: list[str],
    count: int,
    render: Callable[[int], list[Rendered]],
    max_bytes: int,
    max_values: int,
    progress: bool,
) -> tuple[list[list[dict]], list[dict | None], list[str]]:
    """Every card (``names``) at each of ``count`` snapshots as page entries: ``render(k)``
    gives the cards' pictures at the k-th, in order. Snapshot by snapshot, stopping as soon as
    the page is sure to pass ``max_bytes``. Returns the entries (per card), where each card's
    cells come from in its tensor (taken once), and the notes on what was left out."""
    entries: list[list[dict]] = [[] for _ in names]
    where: list[dict | None] = [None for _ in names]
    tally = _Tally(names, count, max_bytes)
    pictures, too_big = len(names) * count, 0
    with Progress(pictures, "saving", show=progress) as bar:
        for k in range(count):
            for v, item in enumerate(render(k)):
                entry = frame_entry(item, max_values)
                if where[v] is None and entry.get("values"):
                    where[v] = cell_indices(item, max_values)
                    tally.total += len(where[v]["data"]) if where[v] else 0
                too_big += bool(entry.get("values_note"))
                entries[v].append(entry)
                tally.add(v, entry)
            tally.done += 1
            done = tally.done * len(names)
            bar.advance(done, f"{done} of {pictures} pictures, {megabytes(tally.total)}")
            if tally.over():
                raise ValueError(tally.message())
    notes = []
    if too_big:
        notes.append(
            f"values not embedded for {too_big} of {pictures} pictures (over "
            f"max_values={max_values:,} cells)"
        )
    return entries, where, notes
