"""The explorer's "values over snapshots" panel: the colourful dimension of the selected layer.

For the layer shown, one picture of its activations' histograms over snapshots and, where
recorded, one of its weight gradients' (``render/dimension.py`` makes the numbers,
``views/dimension.py`` draws them). Each column comes from the histogram the recording holds
for that snapshot (recorded by the Recorder for a large tensor; counted from the frame kept
whole otherwise) and its ``min_``/``max_`` statistics, so no tensor is read twice: columns are
kept per (layer, quantity, snapshot). Past :data:`MOST_COLUMNS` snapshots an evenly spread
subset is drawn, so a redraw costs the same at 1,000 snapshots as at 300. The marker follows
the selected snapshot; a click on a column selects that snapshot.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import ipywidgets
import numpy as np

from nnviz_widgets.recording import Recording
from nnviz_widgets.recording.histogram import histogram_counts
from nnviz_widgets.render.dimension import column_indices, dimension_picture
from nnviz_widgets.views.dimension import DimensionView
from nnviz_widgets.widgets.explorer.selection import Selection, has_layer, layer_label
from nnviz_widgets.widgets.explorer.text import error_line

__all__ = ["MOST_COLUMNS", "QUANTITIES", "DimensionPanel", "read_column"]

#: The most snapshots drawn as columns (evenly spread past it).
MOST_COLUMNS = 300
#: The quantities shown, in order, where the layer has them.
QUANTITIES = ("activation", "weight_grad")
#: Columns kept at most, over every layer and quantity, before the cache starts afresh.
MOST_KEPT = 20_000


def read_column(
    recording: Recording, layer: str, quantity: str, index: int, extremes
) -> tuple | None:
    """``(counts, low, high)`` of one snapshot's values, or None where the frame is missing.

    ``extremes`` is ``(min column, max column)`` of the quantity's statistics, or None: the
    range of the recorded histogram's bins; without them the range is read from the values.
    """
    if recording.missing_reason(layer, quantity, index) is not None:
        return None
    counts = recording.histogram(layer, quantity, index)
    if counts is not None and extremes is not None:
        low, high = float(extremes[0][index]), float(extremes[1][index])
        if math.isfinite(low) and math.isfinite(high):
            return np.asarray(counts, dtype=np.float64), low, high
    values = recording.preview(layer, quantity, index)  # never the full tensor from disk
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None
    return histogram_counts(finite), float(finite.min()), float(finite.max())


class DimensionPanel:
    """The panel (see the module's docstring).

    It draws only while open (it opens closed): a closed panel costs nothing at a slider move,
    a layer change or a live update; opening it draws what was last asked for.

    Parameters
    ----------
    on_select : callable
        ``on_select(index)`` when a column is clicked.
    lock : threading.RLock
        The explorer's lock, taken when the panel is opened from the browser.
    """

    def __init__(self, on_select: Callable[[int], None], lock: threading.RLock) -> None:
        self._lock = lock
        self._asked: tuple[Recording, Selection] | None = None  # the last draw asked for
        self.views = {quantity: DimensionView(on_select) for quantity in QUANTITIES}
        self._columns: dict[tuple[str, str, int], tuple | None] = {}
        self._drawn: dict[str, tuple] = {}  # quantity -> (layer, snapshot count) on screen
        self.note = ipywidgets.HTML("")
        self.note.add_class("nnviz-text")
        # the figures shown, put in only while open: bqplot draws a figure it cannot see (a
        # closed panel, display none) at a negative size, which the browser reports as errors
        self._figures = ipywidgets.HBox([])
        box = ipywidgets.VBox([self._figures, self.note])
        self.widget = ipywidgets.Accordion(children=[box], titles=("values over snapshots",))
        self.widget.selected_index = None
        self.widget.add_class("nnviz-dimension-panel")
        self.widget.observe(self._on_open, "selected_index")

    def _on_open(self, change: dict) -> None:
        with self._lock:
            if change["new"] is None:
                self._figures.children = ()
            elif self._asked is not None:
                self.draw(*self._asked)

    def draw(self, recording: Recording, selection: Selection) -> None:
        """Show the selected layer's pictures and mark the selected snapshot; a failure is
        said in the panel's note, never raised."""
        self._asked = (recording, selection)
        if self.widget.selected_index is None:
            return  # closed: drawn when opened
        try:
            self._draw(recording, selection)
        except Exception as error:  # one broken view must not take the others down
            self._drawn.clear()
            self.note.value = error_line("the values over snapshots could not be drawn", error)

    def _draw(self, recording: Recording, selection: Selection) -> None:
        count, layer = len(recording), selection.layer
        shown = []
        for quantity, view in self.views.items():
            has = count and has_layer(selection) and quantity in _quantities(recording, layer)
            if not has:
                self._drawn.pop(quantity, None)
                continue
            shown.append(quantity)
            if self._drawn.get(quantity) != (layer, count):
                self._draw_one(recording, layer, quantity, selection.index)
                self._drawn[quantity] = (layer, count)
            view.mark(selection.index)
        figures = tuple(self.views[quantity].figure for quantity in shown)
        if self._figures.children != figures:
            self._figures.children = figures
        self.note.value = _note(shown, count)

    def _draw_one(self, recording: Recording, layer: str, quantity: str, index: int) -> None:
        indices = column_indices(len(recording), MOST_COLUMNS)
        statistics = recording.statistics(layer)
        names = (f"min_{quantity}", f"max_{quantity}")
        extremes = None
        if all(name in statistics for name in names):
            extremes = tuple(recording.statistic(layer, name) for name in names)
        if len(self._columns) > MOST_KEPT:
            self._columns.clear()
        columns = []
        for i in indices.tolist():
            key = (layer, quantity, i)
            if key not in self._columns:
                self._columns[key] = read_column(recording, layer, quantity, i, extremes)
            columns.append(self._columns[key])
        picture = dimension_picture(columns, indices)
        label = layer_label(layer, set(recording.layers))
        title = f"{label}: {quantity.replace('_', ' ')} over snapshots"
        self.views[quantity].show(picture, index, title)


def _quantities(recording: Recording, layer: str) -> tuple[str, ...]:
    try:
        return recording.quantities(layer)
    except KeyError:  # the probe pseudo-layer, or a layer not declared
        return ()


def _note(shown: list[str], count: int) -> str:
    if not shown:
        return "no activation or gradient recorded for this layer"
    spread = f"; {MOST_COLUMNS} of {count} snapshots, evenly spread" if count > MOST_COLUMNS else ""
    return (
        "columns: snapshots; rows: values on a range shared by every snapshot; colour: "
        f"log(1 + count). Click a column to select that snapshot{spread}."
    )
