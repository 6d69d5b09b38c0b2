"""What a RunComparison shares: one offline HTML page and one animated GIF of its runs.

Both go through ``widgets/share/`` (the page, its safety and size bound, the GIF encoder);
here is only what a comparison adds: a row of runs per view, each run at its own latest
snapshot at or before the chosen epoch (as the widget aligns them), the pictures of a row
coloured in one range shared by the runs, and lines that say which epoch each run shows
(``docs/explorer.md``, "Comparing runs").
"""

from __future__ import annotations

import html
import os
from dataclasses import replace

import numpy as np

from nnviz_widgets.recording import Recording
from nnviz_widgets.widgets.compare.charts import run_colour
from nnviz_widgets.widgets.compare.display import runs_epoch_line
from nnviz_widgets.widgets.compare.pictures import shared_limits, side_by_side
from nnviz_widgets.widgets.compare.runs import at_or_before, missing_reason
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache
from nnviz_widgets.widgets.explorer.selection import Selection
from nnviz_widgets.widgets.explorer.text import strip_tags
from nnviz_widgets.widgets.share.chart import metrics_chart
from nnviz_widgets.widgets.share.content import (
    Rendered,
    View,
    choose_snapshots,
    choose_views,
    positions_text,
    rendered,
    snapshot_line,
)
from nnviz_widgets.widgets.share.gif import (
    DEFAULT_GIF_BYTES,
    check_gif,
    frame_canvas,
    pillow,
    write_animation,
)
from nnviz_widgets.widgets.share.html import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_VALUES,
    check_bounds,
    epochs_text,
    render_entries,
    views_data,
    write_page,
)
from nnviz_widgets.widgets.share.progress import Progress, SavedFile

__all__ = ["ComparedRuns", "comparison_gif", "comparison_html"]


class ComparedRuns:
    """The runs as a comparison shows them, for one file: a frame cache per run (closed by
    :meth:`close`), the epochs it steps through, and the reference run whose layers and
    quantities the views are chosen from.

    ``current`` is the comparison's selection at the reference run's snapshot; ``position``
    the epoch it shows, as a position in ``epochs``.
    """

    def __init__(
        self,
        runs: dict[str, Recording],
        epochs: np.ndarray,
        current: Selection,
        position: int,
        max_cells: tuple[int, int],
    ) -> None:
        if not len(epochs):
            raise ValueError("nothing to share: no run has snapshots yet")
        self.runs, self.epochs, self.current, self.position = runs, epochs, current, position
        self.reference = next(r for r in runs.values() if len(r))
        self.frames = {name: FrameCache(r, max_cells) for name, r in runs.items()}
        for frames in self.frames.values():
            frames.prefetching = False

    def close(self) -> None:
        for frames in self.frames.values():
            frames.close()

    def views(self, layers: object, quantities: object) -> list[View]:
        """The views for ``layers=`` x ``quantities=``, as the explorer's share chooses them."""
        reference = next(n for n, r in self.runs.items() if r is self.reference)
        return choose_views(
            self.reference, self.current, self.frames[reference], layers, quantities
        )

    def row(self, view: View, position: int) -> list[Rendered]:
        """Each run's picture of ``view`` at the epoch at ``position``, titled with the run and
        coloured in one range shared by the runs (or why a run has none)."""
        epoch = float(self.epochs[position])
        items = []
        for name, recording in self.runs.items():
            index = at_or_before(recording, epoch)
            layer, quantity = view.selection.layer, view.selection.quantity
            reason = (
                f"no snapshot at or before epoch {epoch:g}"
                if index is None
                else missing_reason(recording, layer, quantity, index)
            )
            if reason is not None:
                items.append(Rendered(view, -1, None, f"{name} \u00b7 {view.name}", missing=reason))
                continue
            item = rendered(recording, self.frames[name], view, index)
            items.append(replace(item, title=f"{name} \u00b7 {item.title}"))
        shown = [item.prepared.limits for item in items if item.prepared is not None]
        if len(shown) < 2:
            return items
        limits = shared_limits(shown)
        return [
            item
            if item.prepared is None
            else replace(
                item,
                prepared=item.prepared.coloured(limits),
                note=item.note + "; one colour range shared by the runs",
            )
            for item in items
        ]

    def line(self, position: int) -> str:
        """The epoch, its place, and any run that shows another epoch, as plain text."""
        epoch = float(self.epochs[position])
        indices = {name: at_or_before(r, epoch) for name, r in self.runs.items()}
        text = runs_epoch_line(self.runs, indices, epoch, position, len(self.epochs))
        return html.unescape(strip_tags(text))

    def metrics(self, positions: list[int]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Each run's metrics at the chosen epochs (NaN where it has no snapshot at one),
        named ``run: metric``, and their colours: the run's, as in the widget's charts."""
        chosen = np.asarray(self.epochs, dtype=np.float64)[positions]
        series, colours = {}, {}
        for order, (name, recording) in enumerate(self.runs.items()):
            at = {float(epoch): k for k, epoch in enumerate(recording.snapshots)}
            rows = [at.get(float(epoch)) for epoch in chosen]
            for metric, values in recording.metrics.items():
                values = np.asarray(values, dtype=np.float64)
                series[f"{name}: {metric}"] = np.array(
                    [np.nan if k is None else values[k] for k in rows]
                )
                colours[f"{name}: {metric}"] = run_colour(order)
        return series, colours


def comparison_html(
    compared: ComparedRuns,
    path: str | os.PathLike,
    *,
    layers=None,
    quantities=None,
    snapshots=None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_values: int = DEFAULT_MAX_VALUES,
    title: str | None = None,
    progress: bool = True,
) -> SavedFile:
    """The runs as one offline HTML page: a row of runs per view, one slider over the epochs
    (``RunComparison.save_html``; options as ``TrainingExplorer.save_html``'s, ``snapshots=``
    counting the comparison's epochs)."""
    check_bounds(max_bytes, max_values)
    names = list(compared.runs)
    views = compared.views(layers, quantities)
    positions = choose_snapshots(len(compared.epochs), snapshots)
    cards = [f"{name} \u00b7 {view.name}" for view in views for name in names]
    entries, where, notes = render_entries(
        cards,
        len(positions),
        lambda k: [item for view in views for item in compared.row(view, positions[k])],
        max_bytes,
        max_values,
        progress,
    )
    epochs = np.asarray(compared.epochs, dtype=np.float64)[positions]
    chart, markers = metrics_chart(epochs, *compared.metrics(positions))
    quantities = [view.selection.quantity for view in views for _ in names]
    start = compared.position
    data = {
        "snapshots": [{"line": compared.line(p)} for p in positions],
        "views": views_data(cards, quantities, entries, where),
        "markers": markers,
        "start": positions.index(start) if start in positions else len(positions) - 1,
    }
    summary = (
        f"{len(names)} runs ({', '.join(names)}), {len(views)} view{'s' * (len(views) != 1)} "
        f"at {len(positions)} of {len(compared.epochs)} epochs ({positions_text(positions)}), "
        + epochs_text(epochs)
    )
    rows = [[v * len(names) + r for r in range(len(names))] for v in range(len(views))]
    title = title or "nnviz_widgets: " + " vs ".join(names)
    size = write_page(path, title, summary, data, chart, cards, max_bytes, rows)
    return SavedFile(os.fspath(path), size, tuple(cards), tuple(positions), tuple(notes))


def comparison_gif(
    compared: ComparedRuns,
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    quantity: str | None = None,
    snapshots=None,
    duration: float = 0.5,
    size: int = 480,
    loop: int = 0,
    max_bytes: int = DEFAULT_GIF_BYTES,
    progress: bool = True,
) -> SavedFile:
    """The runs' pictures of one view side by side, one frame per chosen epoch, as an animated
    GIF (``RunComparison.save_gif``; options as ``TrainingExplorer.save_gif``'s)."""
    image = pillow()  # before any work: a missing pillow says so at once
    check_gif(duration, size, loop, max_bytes)
    views = compared.views(layer, quantity)
    if len(views) != 1:
        raise ValueError(f"save_gif shows one view; these are {len(views)}")
    positions = choose_snapshots(len(compared.epochs), snapshots)
    canvases = []
    with Progress(len(positions), "saving", show=progress) as bar:
        for done, position in enumerate(positions, start=1):
            canvases.append(_row_canvas(compared, views[0], position, size))
            bar.advance(done, f"{done} of {len(positions)} frames")
    written = write_animation(path, image, canvases, duration, loop, max_bytes)
    names = tuple(f"{name} \u00b7 {views[0].name}" for name in compared.runs)
    return SavedFile(os.fspath(path), written, names, tuple(positions))


def _row_canvas(compared: ComparedRuns, view: View, position: int, size: int) -> np.ndarray:
    """One frame of the GIF: each run's picture with its title, colour bar and its own
    snapshot's line (or why it has none), side by side."""
    epoch = float(compared.epochs[position])
    parts = []
    for (name, recording), item in zip(compared.runs.items(), compared.row(view, position)):
        index = at_or_before(recording, epoch)
        line = f"{name}: none yet" if index is None else snapshot_line(recording, index)
        parts.append(frame_canvas(item, size, line))
    return side_by_side(parts)
