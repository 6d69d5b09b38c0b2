"""What the explorer draws into, and how it draws one selection.

:class:`ExplorerDisplay` makes the views (heatmap, histogram, metrics, gradient norms) and the
lines of text (epoch, readout, NaN/Inf, layout note, errors) and draws a
:class:`~nnviz_widgets.widgets.explorer.selection.Selection` into them: the main picture from
the frame cache, the context views from the recording. A failure in one view is shown in the
error line and never raised; a state already on screen is not drawn again.

The caller holds the explorer's lock around :meth:`ExplorerDisplay.draw`; the pointer readout
runs in the thread that handles comm messages, under the same lock, and reads only what is on
screen. The readout never outlives its picture: a new snapshot of the same picture reads the
cells still under the pointer anew, any other picture (layer, quantity, sample, channel, size)
clears it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable

import ipywidgets
import numpy as np

from nnviz_widgets.recording import Recording, preview_note
from nnviz_widgets.views.gradients import GradientNormView
from nnviz_widgets.views.heatmap import HeatmapView
from nnviz_widgets.views.histogram import HistogramView
from nnviz_widgets.views.metrics import MetricsView
from nnviz_widgets.widgets.explorer.exact import preview_readout
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache, PreparedFrame
from nnviz_widgets.widgets.explorer.selection import Selection, has_layer, layer_label
from nnviz_widgets.widgets.explorer.text import (
    epoch_line,
    error_line,
    layout_line,
    picture_title,
    readout_text,
)

__all__ = ["READOUT_HINT", "ExplorerDisplay", "every_widget"]

#: The readout line while no value is under the pointer.
READOUT_HINT = "move the pointer over the picture to read values"


class ExplorerDisplay:
    """The explorer's views and lines of text, and the drawing of a selection into them.

    Parameters
    ----------
    max_cells : (int, int)
        Largest picture the heatmap shows cell for cell.
    on_select : callable
        ``on_select(index)`` when a snapshot is clicked in the metrics view.
    on_select_layer : callable
        ``on_select_layer(layer)`` when a layer is clicked in a gradient-norm chart.
    lock : threading.RLock
        The owner's lock, taken by the pointer readout (the owner holds it around
        :meth:`draw`).

    Attributes
    ----------
    heatmap, histogram, metrics_view, gradients
        The views (``nnviz_widgets.views``).
    epoch_label, readout, nonfinite, note, error : ipywidgets.HTML
        The epoch beside the slider, the value under the pointer, the NaN/Inf line, how the
        frame was laid out, and what failed.
    """

    def __init__(
        self,
        max_cells: tuple[int, int],
        on_select: Callable[[int], None],
        on_select_layer: Callable[[str], None],
        lock: threading.RLock,
    ) -> None:
        self._lock = lock
        self.heatmap = HeatmapView(max_cells=max_cells, on_hover=self._show_readout)
        self.histogram = HistogramView(self.heatmap.colour_scale)
        self.metrics_view = MetricsView(on_select=on_select)
        self.gradients = GradientNormView(on_select=on_select_layer)
        self.epoch_label = ipywidgets.HTML("", layout=ipywidgets.Layout(min_width="260px"))
        self.readout = ipywidgets.HTML(READOUT_HINT)
        self.nonfinite = ipywidgets.HTML("")
        self.note = ipywidgets.HTML("")
        self.error = ipywidgets.HTML("")
        for widget in (self.readout, self.nonfinite, self.note, self.error):
            widget.add_class("nnviz-text")
        self.readout.add_class("nnviz-readout")
        self.nonfinite.add_class("nnviz-nonfinite")
        self.error.add_class("nnviz-error")
        self._drawn: tuple[Selection, int] | None = None  # (selection, snapshots) on screen
        # what the readout reads exact values from: the recording and the picture's frame
        self._source: tuple[Recording, PreparedFrame] | None = None
        self._norms: tuple = (None, {}, {})  # (state, gradient norms, labels): _draw_gradients
        # the cells last under the pointer, and the picture they were read from (its view at
        # snapshot 0, and its shape): see _follow_pointer
        self._pointer: tuple[tuple[int, int, int, int], Selection, tuple] | None = None

    def rows(self) -> list[ipywidgets.Widget]:
        """The error line, the picture with its text beside histogram and metrics, and the
        gradient norms: what comes below the controls."""
        main = ipywidgets.VBox(
            [self.heatmap.widget, self.readout, self.nonfinite, self.note],
            layout=ipywidgets.Layout(width="570px", flex="0 0 auto"),
        )
        # the charts take the width the notebook gives (the heatmap keeps its pixel size: its
        # cells and pointer grid are laid out in pixels), and wrap below it when it is narrow
        side = ipywidgets.VBox(
            [self.histogram.figure, self.metrics_view.figure],
            layout=ipywidgets.Layout(flex="1 1 340px", min_width="300px", max_width="760px"),
        )
        charts = (self.gradients.across_figure, self.gradients.history_figure)
        for figure in (self.histogram.figure, self.metrics_view.figure):
            figure.layout.width = "100%"
        for figure in charts:
            figure.layout.width, figure.layout.flex = "auto", "1 1 445px"
            figure.layout.min_width = "360px"
        wrap = ipywidgets.Layout(flex_flow="row wrap", width="100%")
        gradients = ipywidgets.HBox(list(charts), layout=wrap)
        return [self.error, ipywidgets.HBox([main, side], layout=wrap), gradients]

    def draw(self, recording: Recording, selection: Selection, frames: FrameCache) -> None:
        """Show ``selection`` of ``recording`` in every view; failures are shown, never raised."""
        count = len(recording)
        if self._drawn == (selection, count):
            return  # on screen already: the explorer asks again after moving several traits
        self._drawn = (selection, count)
        self.error.value = ""
        if count == 0:
            self._clear("no snapshots yet")
            self.epoch_label.value = "<b>no snapshots yet</b>"
            self.note.value = ""
            self.nonfinite.value = ""
            return
        index = selection.index
        epoch, step = recording.snapshots[index], int(recording.snapshot_steps[index])
        self.epoch_label.value = epoch_line(epoch, index, count, step)
        if not self._guarded("main view", lambda: self._draw_main(recording, selection, frames)):
            self._clear("this picture could not be drawn (see the error above)")
        self._guarded("metrics", lambda: self._draw_metrics(recording, index))
        self._guarded("gradient norms", lambda: self._draw_gradients(recording, selection))

    def show_error(self, what: str, error: BaseException) -> None:
        """Add a line to the error box: what failed, and the exception's words."""
        # if even the error line fails there is nothing left to tell the user with
        with contextlib.suppress(Exception):
            text = error_line(what, error)
            self.error.value = (self.error.value + "<br>" if self.error.value else "") + text

    def _guarded(self, name: str, draw: Callable[[], None]) -> bool:
        """``draw()``; False (and the error shown) if it failed."""
        try:
            draw()
        except Exception as error:  # one broken view must not take the others down
            self.show_error(f"the {name} could not be drawn", error)
            return False
        return True

    def _draw_main(self, recording: Recording, selection: Selection, frames: FrameCache) -> None:
        layer, quantity, index = selection.layer, selection.quantity, selection.index
        if not has_layer(selection):  # the layer "" is a real one: the model's own parameters
            self._clear("nothing recorded for any layer yet")
            return
        reason = recording.missing_reason(layer, quantity, index)
        if reason is not None:
            self._clear(reason)
            self.nonfinite.value = ""
            return
        prepared = frames.prepare(selection)
        self._source = (recording, prepared)
        low, high, _ = prepared.limits
        epoch = recording.snapshots[index]
        self.heatmap.show(
            prepared.picture,
            low,
            high,
            prepared.colour_map,
            title=picture_title(
                layer_label(layer, set(recording.layers)), quantity, epoch, prepared.reduced
            ),
            reduced=prepared.reduced,
            indices=prepared.indices,
            png=prepared.png,
        )
        self.histogram.show_counts(*prepared.histogram)
        self.nonfinite.value = prepared.nonfinite
        note = recording.note(layer, quantity)
        if prepared.full_shape is not None:
            kept = preview_note(prepared.full_shape, prepared.frame.shape)
            note = kept if note is None else f"{note}; {kept}"
        self.note.value = layout_line(prepared.picture.layout, note, prepared.range_note)
        self._follow_pointer(selection)
        frames.prefetch_around(selection, prepared)

    def _clear(self, message: str) -> None:
        """No picture: ``message`` as the title, and no readout."""
        self.heatmap.clear(message)
        self._pointer = None
        self.readout.value = READOUT_HINT

    def _follow_pointer(self, selection: Selection) -> None:
        """After a new picture: read the cells under the pointer again where the picture is
        the same one at another snapshot (same view, same shape); else clear the readout."""
        pointer, shape = self._pointer, self.heatmap.picture.values.shape
        if pointer is not None and pointer[1].same_view(selection) and pointer[2] == shape:
            self._show_readout(*pointer[0])
        else:
            self._pointer = None
            self.readout.value = READOUT_HINT

    def _draw_metrics(self, recording: Recording, index: int) -> None:
        epochs = np.asarray(recording.snapshots, dtype=np.float64)
        self.metrics_view.show(epochs, recording.metrics, index)

    def _draw_gradients(self, recording: Recording, selection: Selection) -> None:
        # read once per snapshot count: Recording.statistics reads every column's key, so
        # asking it of each of 500 layers took ~20 ms a slider move (docs/explorer.md)
        state = (len(recording), recording.layers)
        if self._norms[0] != state:
            norms = {
                layer: recording.statistic(layer, "grad_norm")
                for layer in recording.layers
                if "grad_norm" in recording.statistics(layer)
            }
            taken = set(recording.layers)
            self._norms = (state, norms, {layer: layer_label(layer, taken) for layer in norms})
        _, norms, labels = self._norms
        epochs = np.asarray(recording.snapshots, dtype=np.float64)
        self.gradients.show(epochs, norms, selection.index, selection.layer, labels)

    def _show_readout(self, row: int, column: int, row_end: int, column_end: int) -> None:
        """Write the value(s) under the pointer: cells ``[row:row_end, column:column_end]``."""
        try:
            with self._lock:  # never between a new picture and its readout being cleared
                self._read_out(row, column, row_end, column_end)
        except Exception as error:
            self.show_error("the readout failed", error)

    def _read_out(self, row: int, column: int, row_end: int, column_end: int) -> None:
        picture, drawn = self.heatmap.picture, self._drawn
        if picture is None or drawn is None:
            return
        selection, source = drawn[0], self._source
        self._pointer = ((row, column, row_end, column_end), selection, picture.values.shape)
        single = row_end - row == 1 and column_end - column == 1 and not picture.reduced
        text = None
        if single and source is not None and source[1].full_shape is not None:
            recording, prepared = source
            text = preview_readout(
                recording,
                selection,
                picture,
                prepared.full_shape,
                prepared.frame.shape,
                row,
                column,
            )
        if text is None:
            text = readout_text(picture, selection.quantity, row, column, row_end, column_end)
        self.readout.value = text


def every_widget(roots: Iterable[ipywidgets.Widget], *, skip: object = None) -> list:
    """Every widget reachable from ``roots`` through widget-valued traits (children, marks,
    axes, scales, ...), ``skip`` left out: what closing a composite widget must close."""
    found: dict[int, ipywidgets.Widget] = {}
    stack = list(roots)
    while stack:
        widget = stack.pop()
        if id(widget) in found or widget is skip:
            continue
        found[id(widget)] = widget
        for key in widget.keys:
            value = getattr(widget, key, None)
            values = value.values() if isinstance(value, dict) else value
            if isinstance(values, list | tuple):
                stack.extend(v for v in values if isinstance(v, ipywidgets.Widget))
            elif isinstance(value, ipywidgets.Widget):
                stack.append(value)
    return list(found.values())
