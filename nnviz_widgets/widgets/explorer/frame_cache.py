"""Selections made ready to show, kept in memory and prepared ahead in the background.

Preparing a selection is where a slider move's time goes: read the frame the recording keeps
for views (:meth:`~nnviz_widgets.Recording.preview`: the tensor itself, or a block-mean preview
of a large one; never a whole large tensor from disk), lay it out as a picture, reduce it to the
view's size, find the colour range (over every snapshot in "fixed" mode, from the recorded
extremes), colour it, encode the PNG, redistribute the recorded histogram over the colour
range. A
:class:`FrameCache` keeps what it prepared, bounded by count and by bytes, and prepares the
other snapshots of the selection on screen in a background :class:`~nnviz_widgets.threads.Worker`,
nearest first, so that stepping, playing and jumping find their pictures ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from nnviz_widgets.recording import FrameMissingError, Recording
from nnviz_widgets.render.colour import (
    DIVERGING,
    SEQUENTIAL,
    ColourMap,
    colour_indices,
    finite_extremes,
)
from nnviz_widgets.render.layout import Picture, layout_frame
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.threads import Worker
from nnviz_widgets.views.histogram import HistogramView
from nnviz_widgets.widgets.explorer.colour_choice import (
    COLOUR_MODES,
    Extremes,
    colour_choice,
    colour_limits,
    extent,
    widest_snapshot,
)
from nnviz_widgets.widgets.explorer.exact import preview_nonfinite
from nnviz_widgets.widgets.explorer.selection import Selection, frame_shape, sample_count
from nnviz_widgets.widgets.explorer.text import nonfinite_line

__all__ = ["COLOUR_MODES", "FrameCache", "PreparedFrame", "colour_choice", "colour_limits"]

#: Most prepared selections the cache keeps.
MAX_ENTRIES = 48
#: Most memory the cache keeps (frames included: those read from disk live only here), in bytes.
MAX_BYTES = 512 << 20


@dataclass(frozen=True, eq=False)
class PreparedFrame:
    """One selection made ready to show: pictures, colours, PNG, histogram, NaN line.

    Frozen: a thread that holds one sees a consistent whole while another recolours it (a
    recoloured entry is a new object).
    """

    frame: np.ndarray
    picture: Picture
    reduced: Picture
    nonfinite: str = ""
    full_shape: tuple[int, ...] | None = None  # the tensor's, when ``frame`` is a preview
    recorded_histogram: tuple | None = None  # (counts, low, high) the Recorder took
    sample: int = -1  # the probe sample the picture shows, -1: the whole frame
    limits: tuple = ()  # (low, high, signed); empty until coloured
    range_note: str = ""  # which colour range, in words
    indices: np.ndarray | None = None
    png: bytes = b""
    histogram: tuple = ()

    @property
    def colour_map(self) -> ColourMap:
        """Diverging for signed data, sequential for data that is never negative."""
        return DIVERGING if self.limits[2] else SEQUENTIAL

    @property
    def scope(self) -> str:
        """What the histogram counts, in words ("sample 3"), empty for the whole frame."""
        return f"sample {self.sample}" if self.sample >= 0 else ""

    @property
    def nbytes(self) -> int:
        """Memory this entry holds on to (the frame counts: it may come from disk)."""
        pictures = self.picture.values.nbytes + self.reduced.values.nbytes
        same = self.picture.values is self.frame  # a matrix frame is its own picture
        return self.frame.nbytes + (self.reduced.values.nbytes if same else pictures)

    @property
    def block_means(self) -> bool:
        """Whether the picture shows block means (a preview, or reduced to the view's size)."""
        return self.full_shape is not None or self.reduced is not self.picture

    def coloured(self, limits: tuple[float, float, bool], shrink: float = 1.0) -> PreparedFrame:
        """This frame coloured, encoded and histogrammed for ``(low, high, signed)``.

        ``shrink``: the colour range was scaled to block means by it; the histogram counts
        values, so its bins span the range before that scaling.
        """
        low, high, _ = limits
        coloured = replace(self, limits=limits)  # which decides the colour map
        indices = colour_indices(self.reduced.values, low, high, gaps=self.reduced.gaps)
        low, high = low / shrink, high / shrink
        if self.sample >= 0:  # the histogram counts what the picture shows: one sample
            histogram = HistogramView.count(self.frame[self.sample], low, high, self.scope)
        elif self.recorded_histogram is not None:  # of the whole tensor, not of a preview
            histogram = HistogramView.rebin(*self.recorded_histogram, low, high)
        else:
            histogram = HistogramView.count(self.frame, low, high)
        return replace(
            coloured,
            indices=indices,
            png=encode_png(indices, palette=coloured.colour_map.palette),
            histogram=histogram,
        )


class FrameCache:
    """Prepared selections of one recording, and a background worker that prepares ahead.

    Safe to use from any thread. Recorded frames never change (a thinned one is reported
    missing before it is asked for), so an entry is reused without reading its frame again;
    only its colours are redone when the colour range moves (new snapshots in "fixed" mode).

    Parameters
    ----------
    recording : Recording
        Where the frames come from.
    max_cells : (int, int)
        Largest picture kept cell for cell; larger ones are reduced by block means.
    """

    def __init__(self, recording: Recording, max_cells: tuple[int, int]) -> None:
        self.recording = recording
        self.max_cells = max_cells
        self.prefetching = True
        """Whether :meth:`prefetch_around` prepares other snapshots (benchmarks turn it off)."""
        # guards every field below; held only to read or store, never while preparing
        self._lock = threading.Lock()
        self._prepared: OrderedDict[Selection, PreparedFrame] = OrderedDict()
        self._pending: set[Selection] = set()  # queued for the worker
        self._wanted: Selection | None = None  # on screen: prefetches of other views are skipped
        self._extremes: dict[tuple[str, str, int], Extremes | None] = {}
        self._shapes: dict[tuple[str, str], tuple[int, ...]] = {}
        self._shrinks: dict[Selection, float] = {}  # block means' narrowing, see _block_mean_shrink
        self._worker: Worker | None = None  # started by the first prefetch
        self._closed = False

    def __contains__(self, selection: Selection) -> bool:
        with self._lock:
            return selection in self._prepared

    def prepare(self, selection: Selection) -> PreparedFrame:
        """Lay out, reduce, colour and encode one selection (cached; safe in any thread).

        Raises :class:`~nnviz_widgets.recording.FrameMissingError` when the frame is missing.
        """
        with self._lock:
            prepared = self._prepared.get(selection)
        if prepared is None:
            prepared = self._lay_out(selection)
        extremes = self._all_extremes(selection.layer, selection.quantity)
        one_sample = (
            selection.sample >= 0 and sample_count(selection.quantity, self.shape(selection)) > 0
        )
        shrink = 1.0
        if selection.colour_range == "fixed" and not one_sample and prepared.block_means:
            shrink = self._block_mean_shrink(selection, prepared, extremes)
        limits, note = colour_choice(
            extremes,
            prepared.reduced,
            selection.colour_range,
            index=selection.index,
            one_sample=one_sample,
            shrink=shrink,
        )
        if prepared.limits != limits:
            prepared = prepared.coloured(limits, shrink)
        if prepared.range_note != note:
            prepared = replace(prepared, range_note=note)
        self._keep(selection, prepared)
        return prepared

    def shape(self, selection: Selection) -> tuple[int, ...] | None:
        """The shape of the selected quantity's frames (see :func:`frame_shape`), cached."""
        key = (selection.layer, selection.quantity)
        with self._lock:
            if key in self._shapes:  # a quantity keeps its shape: read a frame once
                return self._shapes[key]
        shape = frame_shape(self.recording, selection)
        if shape is not None:
            with self._lock:
                self._shapes[key] = shape
        return shape

    def prefetch_around(self, selection: Selection, current: PreparedFrame) -> None:
        """Prepare other snapshots of ``selection`` in the background, nearest first.

        As many as the cache holds (by count and bytes, judged from ``current``): for small
        frames that is the whole run, so a jump anywhere is warm; for large ones the
        neighbours, so stepping and playing are. Work for a view the user has left is skipped
        when its turn comes.
        """
        count = len(self.recording)
        room = min(MAX_ENTRIES, MAX_BYTES // max(current.nbytes, 1)) - 1
        order = sorted(range(count), key=lambda i: (abs(i - selection.index), i))[1 : 1 + room]
        with self._lock:
            self._wanted = selection
            if self._closed or not self.prefetching:
                return
            todo = [selection.at(i) for i in order]
            todo = [s for s in todo if s not in self._prepared and s not in self._pending]
            self._pending.update(todo)
            if self._worker is None and todo:
                self._worker = Worker("prefetch")
            worker = self._worker
        for wanted in todo:
            worker.submit(partial(self._prefetch, wanted))

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until the prefetches queued so far are done (for tests and benchmarks)."""
        with self._lock:
            worker = self._worker
        done = threading.Event()
        if worker is None or not worker.submit(done.set):
            return True  # nothing queued, or the cache is closed
        return done.wait(timeout)

    def clear(self) -> None:
        """Forget every prepared selection and block-mean scale (benchmarks measure a first
        visit this way)."""
        with self._lock:
            self._prepared.clear()
            self._shrinks.clear()

    def close(self) -> None:
        """Stop the background worker; queued prefetches are dropped. Preparing still works."""
        with self._lock:
            self._closed = True
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close(wait=False, cancel_pending=True)

    # ------------------------------------------------------------------ in any thread
    def _lay_out(self, selection: Selection) -> PreparedFrame:
        layer, quantity, index = selection.layer, selection.quantity, selection.index
        frame = self.recording.preview(layer, quantity, index)
        full_shape = self.recording.frame_shape(layer, quantity, index)
        probe = self.recording.probe.get("input")
        picture = layout_frame(
            frame,
            quantity,
            probe_shape=None if probe is None else probe.shape,
            sample=selection.sample,
            channel=selection.channel,
            layer_info=self.recording.layer_info(layer),  # its type, heads, gates, ...
        )
        reduced = reduce_picture(picture, *self.max_cells)
        preview = tuple(frame.shape) != tuple(full_shape)
        one_sample = selection.sample >= 0 and sample_count(quantity, frame.shape) > 0
        return PreparedFrame(
            frame,
            picture,
            reduced,
            nonfinite=self._nonfinite(selection, frame, full_shape if preview else None),
            full_shape=tuple(full_shape) if preview else None,
            recorded_histogram=self._recorded_histogram(selection),
            # the layout shows the last sample for one past the end (a preview keeps fewer)
            sample=min(selection.sample, frame.shape[0] - 1) if one_sample else -1,
        )

    def _recorded_histogram(self, selection: Selection) -> tuple | None:
        """``(counts, low, high)`` the Recorder took of the whole tensor, if it took them."""
        layer, quantity, index = selection.layer, selection.quantity, selection.index
        counts = self.recording.histogram(layer, quantity, index)
        if counts is None or f"min_{quantity}" not in self.recording.statistics(layer):
            return None
        low = self.recording.statistic(layer, f"min_{quantity}")[index]
        high = self.recording.statistic(layer, f"max_{quantity}")[index]
        if not (np.isfinite(low) and np.isfinite(high)):
            return None
        return counts, float(low), float(high)

    def _all_extremes(self, layer: str, quantity: str) -> list[Extremes | None]:
        """Every snapshot's finite (min, max) of a quantity: the Recorder's exact statistics
        where it recorded them (no frame is read), else each frame's own (read once)."""
        names = self.recording.statistics(layer)
        count = len(self.recording)
        if f"min_{quantity}" in names and f"max_{quantity}" in names:
            lows = self.recording.statistic(layer, f"min_{quantity}")
            highs = self.recording.statistic(layer, f"max_{quantity}")
            if len(lows) == count:
                return [
                    (float(a), float(b)) if np.isfinite(a) else None for a, b in zip(lows, highs)
                ]
        return [self._frame_extremes(layer, quantity, index) for index in range(count)]

    def _block_mean_shrink(
        self, selection: Selection, prepared: PreparedFrame, extremes: list[Extremes | None]
    ) -> float:
        """How much narrower the block means shown are than the recorded values, at the
        snapshot whose range "fixed" mode takes: a preview of a 4096-wide layer averages 3x3
        blocks, and coloured on the values' extremes it would be nearly blank. Cached."""
        widest = widest_snapshot(extremes)
        if widest is None:
            return 1.0
        there_selection = replace(selection, index=widest, colour_range="fixed")
        with self._lock:
            if there_selection in self._shrinks:
                return self._shrinks[there_selection]
            there = self._prepared.get(there_selection)
        if widest == selection.index:
            there = prepared
        try:
            there = self._lay_out(there_selection) if there is None else there
        except FrameMissingError:
            return 1.0
        signed = any(e[0] < 0 for e in extremes if e is not None and np.isfinite(e[0]))
        picture = there.reduced
        values = picture.values if picture.gaps is None else picture.values[~picture.gaps]
        shown = extent(*finite_extremes(values), signed)
        recorded = extent(*extremes[widest], signed)
        shrink = 1.0
        if np.isfinite(shown) and recorded > 0 and 0 < shown < recorded:
            shrink = shown / recorded
        with self._lock:
            self._shrinks[there_selection] = shrink
        return shrink

    def _nonfinite(
        self, selection: Selection, frame: np.ndarray, full_shape: tuple[int, ...] | None
    ) -> str:
        """The NaN/Inf line; skips the scan when the Recorder counted none."""
        try:
            counted = self.recording.statistic(selection.layer, f"nonfinite_{selection.quantity}")
            counted = counted[selection.index]
        except (KeyError, IndexError):
            counted = np.nan
        if counted == 0:
            return ""
        if full_shape is None:
            return nonfinite_line(frame)
        if np.isfinite(frame).all():
            return ""
        return nonfinite_line(
            frame, preview_nonfinite(selection.quantity, frame, full_shape, counted)
        )

    def _frame_extremes(self, layer: str, quantity: str, index: int) -> Extremes | None:
        """Finite (min, max) of one recorded frame, cached (frames never change)."""
        key = (layer, quantity, index)
        with self._lock:
            if key in self._extremes:
                return self._extremes[key]
        try:
            extremes = finite_extremes(self.recording.preview(layer, quantity, index))
        except FrameMissingError:
            return None  # not cached: a frame still being written comes later
        with self._lock:
            self._extremes[key] = extremes
        return extremes

    def _keep(self, selection: Selection, prepared: PreparedFrame) -> None:
        with self._lock:
            self._prepared[selection] = prepared
            self._prepared.move_to_end(selection)
            # bounded by count and by bytes: frames read from disk live only in this cache
            total = sum(p.nbytes for p in self._prepared.values())
            while len(self._prepared) > 1 and (
                len(self._prepared) > MAX_ENTRIES or total > MAX_BYTES
            ):
                _, dropped = self._prepared.popitem(last=False)
                total -= dropped.nbytes

    def _prefetch(self, selection: Selection) -> None:
        try:
            with self._lock:
                wanted = self._wanted
            if wanted is not None and selection.same_view(wanted):  # else the user left it
                self.prepare(selection)
        except Exception:  # a failed prefetch costs nothing: the draw itself will report it
            return
        finally:
            with self._lock:
                self._pending.discard(selection)
