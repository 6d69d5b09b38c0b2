"""What a comparison draws into, and how it draws one selection of every run.

:class:`CompareDisplay` holds a heatmap per run (the explorer's ``HeatmapView``), the lines of
text (epoch, readout, note, errors) and the two overlaid charts, and draws a
:class:`~nnviz_widgets.widgets.explorer.selection.Selection` at an epoch: each run at its own
snapshot (its latest at or before that epoch), side by side in one colour range or as
differences. A failure in one view is shown in the error line and never raised. The caller
holds the comparison's lock around :meth:`CompareDisplay.draw`; the pointer readout runs in
the comm thread under the same lock.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from functools import partial

import ipywidgets
import numpy as np

from nnviz_widgets.recording import Recording, preview_note
from nnviz_widgets.views.heatmap import HeatmapView
from nnviz_widgets.widgets.compare.charts import RunGradientView, RunMetricsView, run_colour
from nnviz_widgets.widgets.compare.pictures import (
    Panel,
    difference,
    difference_problem,
    shared_panels,
)
from nnviz_widgets.widgets.compare.runs import at_or_before, missing_reason
from nnviz_widgets.widgets.explorer.display import READOUT_HINT
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache, PreparedFrame
from nnviz_widgets.widgets.explorer.selection import Selection, has_layer, layer_label
from nnviz_widgets.widgets.explorer.text import (
    error_line,
    escape,
    layout_line,
    picture_title,
    quiet,
    readout_text,
)

__all__ = ["MODES", "CompareDisplay", "Shown", "runs_epoch_line"]

#: The comparison's modes: each run's picture, or the first run's minus each other's.
MODES = ("side by side", "difference")


@dataclass(frozen=True)
class Shown:
    """What the last draw showed: the mode drawn (difference falls back to side by side where
    the frames cannot be subtracted, and says why) and each run's snapshot (None: none yet)."""

    mode: str
    indices: dict[str, int | None]
    why_not_difference: str | None = None


class CompareDisplay:
    """The comparison's views and lines of text, and the drawing of a selection into them.

    Parameters
    ----------
    names : list of str
        The runs, in order (the first is the reference of differences).
    max_cells : (int, int)
        Largest picture a heatmap shows cell for cell.
    lock : threading.RLock
        The owner's lock, taken by the pointer readout.
    """

    def __init__(self, names: list[str], max_cells: tuple[int, int], lock: threading.RLock) -> None:
        self._lock, self.max_cells, self.names = lock, max_cells, list(names)
        self.heatmaps = [
            HeatmapView(max_cells=max_cells, on_hover=partial(self._show_readout, k))
            for k in range(len(names))
        ]
        self.pictures = ipywidgets.HBox(
            [heatmap.widget for heatmap in self.heatmaps],
            layout=ipywidgets.Layout(flex_flow="row wrap"),
        )
        """The heatmaps shown, in a row that wraps where the page is narrow."""
        self.metrics_view = RunMetricsView()
        self.gradients = RunGradientView()
        self.epoch_label = ipywidgets.HTML("", layout=ipywidgets.Layout(min_width="260px"))
        self.readout = ipywidgets.HTML(READOUT_HINT)
        self.note = ipywidgets.HTML("")
        self.error = ipywidgets.HTML("")
        for widget in (self.readout, self.note, self.error):
            widget.add_class("nnviz-text")
        self.readout.add_class("nnviz-readout")
        self.error.add_class("nnviz-error")
        self.panels: list[Panel | None] = [None] * len(names)
        """What each heatmap shows (None: nothing)."""
        self.shown = Shown(MODES[0], {})
        self._drawn: tuple | None = None
        self._quantity = ""

    def rows(self) -> list[ipywidgets.Widget]:
        """The error line, the pictures (wrapping where the page is narrow), the readout and
        note, and the two charts."""
        for heatmap, name in zip(self.heatmaps, self.names, strict=True):
            heatmap.widget.add_class("nnviz-compare-panel")
            heatmap.figure.add_class(f"nnviz-run-{self.names.index(name)}")
        charts = ipywidgets.HBox([self.metrics_view.figure, self.gradients.figure])
        return [self.error, self.pictures, self.readout, self.note, charts]

    def draw(
        self,
        runs: dict[str, Recording],
        frames: dict[str, FrameCache],
        selection: Selection,
        epochs: np.ndarray,
        mode: str,
        layers_note: str = "",
    ) -> Shown:
        """Show ``selection`` at ``epochs[selection.index]`` for every run; failures are shown,
        never raised. Returns what was shown."""
        key = (selection, mode, tuple(len(r) for r in runs.values()), layers_note)
        if self._drawn == key:
            return self.shown
        self._drawn = key
        self.error.value = ""
        if not len(epochs):
            for heatmap in self.heatmaps:
                heatmap.clear("no snapshots yet")
            self.epoch_label.value = "<b>no snapshots yet</b>"
            self.note.value = quiet(escape(layers_note))
            self.shown = Shown(mode, {})
            return self.shown
        epoch = float(epochs[min(selection.index, len(epochs) - 1)])
        indices = {name: at_or_before(recording, epoch) for name, recording in runs.items()}
        self.epoch_label.value = runs_epoch_line(runs, indices, epoch, selection.index, len(epochs))
        self.shown = Shown(mode, indices)
        try:
            self._draw_pictures(runs, frames, selection, epoch, mode, layers_note)
        except Exception as error:  # one broken view must not take the others down
            self.show_error("the pictures could not be drawn", error)
        self._guarded("metrics", lambda: self._draw_metrics(runs, epoch))
        self._guarded("gradient norms", lambda: self._draw_gradients(runs, selection, epoch))
        return self.shown

    def show_error(self, what: str, error: BaseException) -> None:
        """Add a line to the error box: what failed, and the exception's words."""
        with contextlib.suppress(Exception):
            text = error_line(what, error)
            self.error.value = (self.error.value + "<br>" if self.error.value else "") + text

    def _guarded(self, name: str, draw) -> None:
        try:
            draw()
        except Exception as error:
            self.show_error(f"the {name} could not be drawn", error)

    def _draw_pictures(
        self,
        runs: dict[str, Recording],
        frames: dict[str, FrameCache],
        selection: Selection,
        epoch: float,
        mode: str,
        layers_note: str,
    ) -> None:
        self._quantity = selection.quantity
        if not has_layer(selection):
            for heatmap in self.heatmaps:
                heatmap.clear("nothing recorded for any layer yet")
            self.panels = [None] * len(self.heatmaps)
            return
        prepared, missing = self._prepare(runs, frames, selection, epoch)
        problem = _why_not_difference(runs, prepared)
        self.shown = Shown(mode, self.shown.indices, problem)
        if mode == "difference" and problem is None:
            self._draw_difference(runs, prepared, selection, epoch, layers_note)
            return
        self.shown = Shown(MODES[0], self.shown.indices, problem)
        panels, _ = shared_panels(prepared) if prepared else ([], None)
        by_name = {panel.name: panel for panel in panels}
        self._show(runs, selection, [by_name.get(name) for name in runs], missing, epoch)
        if not panels:
            self.note.value = quiet(escape(layers_note))
            return
        colours = "colours: one range shared by the runs, "
        colours += panels[0].frame.range_note.removeprefix("colours: ")
        if mode == "difference" and self.shown.why_not_difference:
            colours += f"; no difference: {self.shown.why_not_difference}"
        self.note.value = _note(panels[0], runs, selection, colours, layers_note)

    def _prepare(
        self,
        runs: dict[str, Recording],
        frames: dict[str, FrameCache],
        selection: Selection,
        epoch: float,
    ) -> tuple[dict[str, tuple[float, PreparedFrame]], dict[str, str]]:
        """Each run's frame at the snapshot it shows (name -> (epoch shown, prepared frame)),
        and why the others have none (name -> reason)."""
        prepared, missing = {}, {}
        for name, recording in runs.items():
            index = self.shown.indices[name]
            reason = (
                f"no snapshot at or before epoch {epoch:g}"
                if index is None
                else missing_reason(recording, selection.layer, selection.quantity, index)
            )
            if reason is not None:
                missing[name] = reason
                continue
            wanted = selection.at(index)
            prepared[name] = (float(recording.snapshots[index]), frames[name].prepare(wanted))
            frames[name].prefetch_around(wanted, prepared[name][1])
        return prepared, missing

    def _draw_difference(
        self,
        runs: dict[str, Recording],
        prepared: dict[str, tuple[float, PreparedFrame]],
        selection: Selection,
        epoch: float,
        layers_note: str,
    ) -> None:
        """The first run's picture minus each other's, in one diverging range."""
        names = list(runs)
        first = (names[0], *prepared[names[0]])
        others = [(n, *prepared[n]) for n in names[1:]]
        panels, _ = difference(first, others, self.max_cells)
        self._show(runs, selection, [*panels, None], {}, epoch)
        minus = names[1] if len(names) == 2 else "each other run"
        colours = f"colours: {names[0]} minus {minus}, centred on zero, one range for "
        colours += "the differences at this epoch" if len(names) > 2 else "this epoch"
        self.note.value = _note(panels[0], runs, selection, colours, layers_note)

    def _show(
        self,
        runs: dict[str, Recording],
        selection: Selection,
        panels: list[Panel | None],
        missing: dict[str, str],
        epoch: float,
    ) -> None:
        """Each panel in its heatmap; a heatmap without one says why, or hides (difference)."""
        names = list(runs)
        reference = runs[names[0]]
        label = layer_label(selection.layer, set(reference.layers))
        for k, (heatmap, panel) in enumerate(zip(self.heatmaps, panels, strict=True)):
            if panel is None:
                heatmap.clear(f"{names[k]}: {missing.get(names[k], '')}")
                continue
            low, high, _ = panel.limits
            heatmap.show(
                panel.picture, low, high, panel.colour_map,
                title=f"{panel.name} \u00b7 "
                + picture_title(label, selection.quantity, panel.epoch, panel.reduced),
                reduced=panel.reduced, indices=panel.indices, png=panel.png,
            )  # fmt: skip
            heatmap.figure.title_style = {
                **(heatmap.figure.title_style or {}),
                "fill": run_colour(k) if panel.frame is not None else "var(--jp-ui-font-color1)",
            }
        self._arrange([k for k, panel in enumerate(panels) if panel is not None], missing)
        self.panels = panels
        self.readout.value = READOUT_HINT

    def _arrange(self, drawn: list[int], missing: dict[str, str]) -> None:
        """Lay out the heatmaps with a picture, or saying why not: one colour bar, beside the
        last picture, since the pictures share its range (two pictures and one bar fit a
        notebook's width; two bars wrapped the second picture below the first). Widgets are
        left out rather than hidden: bqplot draws a hidden figure at a negative size."""
        shown = [k for k in range(len(self.heatmaps)) if k in drawn or self.names[k] in missing]
        for k in shown:
            heatmap = self.heatmaps[k]
            children = (heatmap.figure, heatmap.colour_bar)[: 2 if drawn and k == drawn[-1] else 1]
            if heatmap.widget.children != children:
                heatmap.widget.children = children
        widgets = tuple(self.heatmaps[k].widget for k in shown)
        if self.pictures.children != widgets:
            self.pictures.children = widgets

    def _draw_metrics(self, runs: dict[str, Recording], epoch: float) -> None:
        self.metrics_view.show({name: (r.snapshots, r.metrics) for name, r in runs.items()}, epoch)

    def _draw_gradients(
        self, runs: dict[str, Recording], selection: Selection, epoch: float
    ) -> None:
        norms = {}
        for name, recording in runs.items():
            known = has_layer(selection) and selection.layer in recording.layers
            if known and "grad_norm" in recording.statistics(selection.layer):
                norms[name] = (
                    recording.snapshots,
                    recording.statistic(selection.layer, "grad_norm"),
                )
            else:
                norms[name] = (recording.snapshots, np.full(len(recording), np.nan))
        reference = next(iter(runs.values()))
        label = layer_label(selection.layer, set(reference.layers))
        self.gradients.show(norms, label, epoch)

    def _show_readout(
        self, panel: int, row: int, column: int, row_end: int, column_end: int
    ) -> None:
        """The value(s) under the pointer in panel ``panel``, and at the same cells in every
        other picture of the same shape."""
        try:
            with self._lock:
                pointed = self.panels[panel]
                if pointed is None:
                    return
                lines = []
                for shown in self.panels:
                    if shown is None or shown.picture.values.shape != pointed.picture.values.shape:
                        continue
                    text = readout_text(
                        shown.picture, self._quantity, row, column, row_end, column_end
                    )
                    lines.append(f"<b>{escape(shown.name)}</b>: {text}")
                self.readout.value = "<br>".join(lines)
        except Exception as error:
            self.show_error("the readout failed", error)


def _why_not_difference(
    runs: dict[str, Recording], prepared: dict[str, tuple[float, PreparedFrame]]
) -> str | None:
    """Why the runs' pictures cannot be subtracted (None: they can)."""
    problem = difference_problem(
        {n: tuple(prepared[n][1].frame.shape) if n in prepared else None for n in runs}
    )
    if problem is None and len({p.picture.values.shape for _, p in prepared.values()}) > 1:
        problem = "the pictures differ in shape"
    if problem is None and len(runs) < 2:
        problem = "one run only"
    return problem


def runs_epoch_line(
    runs: dict[str, Recording], indices: dict[str, int | None], epoch: float, index: int, count: int
) -> str:
    """The line beside the slider: the epoch, its place, and any run that shows another one."""
    line = f"<b>epoch {epoch:g}</b> &middot; {index + 1} of {count}"
    for name, shown in indices.items():
        if shown is None:
            line += f" &middot; {escape(name)}: none yet"
        elif float(runs[name].snapshots[shown]) != epoch:
            line += f" &middot; {escape(name)} shows epoch {runs[name].snapshots[shown]:g}"
    return line


def _note(
    panel: Panel, runs: dict[str, Recording], selection: Selection, colours: str, layers: str
) -> str:
    """How the first picture was laid out (and kept, when a preview), the colours, the layers
    that are not in every run."""
    reference = next(iter(runs.values()))
    note = reference.note(selection.layer, selection.quantity)
    frame = panel.frame
    if frame is not None and frame.full_shape is not None:
        kept = preview_note(frame.full_shape, frame.frame.shape)
        note = kept if note is None else f"{note}; {kept}"
    text = layout_line(panel.picture.layout, note, colours)
    return text + (("<br>" + quiet(escape(layers))) if layers else "")
