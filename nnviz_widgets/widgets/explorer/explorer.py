"""The TrainingExplorer widget: scrub through a recorded training run, view by view.

It holds the one piece of UI state (snapshot index, layer, quantity, sample, channel, colour-range
mode, follow-latest) as traits; every control and view follows them. The parts, each in its own
module of this package:

- ``selection``: the :class:`Selection` value and what a recording lets it select;
- ``frame_cache``: selections prepared as coloured pictures, ahead of time in the background;
- ``controls``: the controls, bound to the traits through one table of links;
- ``display``: the views and lines of text, and the drawing of a selection into them;
- ``source``: model, Recorder, Recording or path in, and training from the buttons;
- ``live``: live updates, drawn in the explorer's own thread (``nnviz-live``), never in the
  thread that appends a snapshot.

Which thread holds which lock is in ``docs/architecture.md`` ("Threads").
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets
import traitlets

from nnviz_widgets.recording import Recording
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.widgets.explorer.controls import ExplorerControls
from nnviz_widgets.widgets.explorer.dimension import DimensionPanel
from nnviz_widgets.widgets.explorer.display import ExplorerDisplay, every_widget
from nnviz_widgets.widgets.explorer.exports import ExplorerExports
from nnviz_widgets.widgets.explorer.frame_cache import COLOUR_MODES, FrameCache
from nnviz_widgets.widgets.explorer.health import HealthPanel, select_finding
from nnviz_widgets.widgets.explorer.live import ExplorerLive, checked_interval
from nnviz_widgets.widgets.explorer.selecting import SelectionTraits
from nnviz_widgets.widgets.explorer.selection import (
    Selection,
    checked,
    choices,
    fit_selection,
    sample_count,
)
from nnviz_widgets.widgets.explorer.source import open_source, start_training
from nnviz_widgets.widgets.training_controls import TrainingControls

__all__ = ["TrainingExplorer"]

#: The traits a recording decides the valid values of (see ``selection.checked``).
CHECKED_TRAITS = frozenset({"layer", "quantity", "index", "sample", "channel"})


class TrainingExplorer(SelectionTraits, ExplorerLive, ExplorerExports, ipywidgets.VBox):
    """Scrub through training: weights, gradients and activations of each layer, per snapshot.

    Parameters
    ----------
    source : torch.nn.Module, Recorder, Recording, path, RecorderCallback, or None
        A model (wrapped in a new :class:`~nnviz_widgets.Recorder`, which the explorer owns
        and closes), a Recorder, a Recording (no model or torch needed), or the path of a
        recording directory (opened and followed while another process writes it), or a
        framework callback of :mod:`nnviz_widgets.integrations` (its recording, shown live as
        the framework trains). None gives an empty Recording, filled through :attr:`recording`.
        A dict of run names to such sources gives a comparison of the runs instead
        (:class:`~nnviz_widgets.widgets.compare.RunComparison`).
    probe : tensor or (tensor, tensor), optional
        Only with a model: the fixed probe batch, passed to the Recorder.
    optimizer : torch.optim.Optimizer, optional
        Only with a model: passed to the Recorder.
    train_epoch : callable, optional
        ``train_epoch(epoch) -> dict of metrics | None``: trains epoch ``epoch``, counted from
        1 (after the last snapshot's epoch when the recording has some). Given it, the explorer
        shows Train / Pause / Step / Stop buttons and a progress bar and trains in a background
        thread, so that scrubbing stays live meanwhile. It takes a snapshot of the untrained
        network (epoch 0) if the recording is empty, and one after each epoch, labelled with
        that epoch's number and the metrics returned (numbers: Python, numpy, 0-d arrays or
        tensors; a metric named ``epoch`` is recorded as ``epoch_metric``). Pause acts at the
        next optimizer step; an exception in ``train_epoch`` stops training and shows its
        traceback, and its epoch leaves no snapshot; closing the explorer (or running its cell
        again) stops training and removes every hook. Needs a model or a Recorder.
    epochs : int, optional
        With ``train_epoch``: how many epochs the Train button runs before pausing (by default
        it trains until paused or stopped).
    min_interval : float
        Live updates redraw at most once per this many seconds (0.25 by default).
    max_cells : (int, int)
        Largest picture (rows, columns) drawn cell for cell; larger ones are reduced in the
        kernel by block means to this size.
    **recorder_options
        Only with a model: further options for the Recorder.

    Examples
    --------
    >>> explorer = nv.TrainingExplorer(model, probe=(x, y), optimizer=opt)  # doctest: +SKIP
    >>> explorer  # display it, then train and call explorer.snapshot(epoch=e, loss=l)
    """

    index = traitlets.Int(
        0, help="The selected snapshot (position in recording.snapshots); every view follows it."
    ).tag(sync=True)
    layer = traitlets.Unicode(
        "", help="The layer shown, as named by model.named_modules(), or '<input>'."
    ).tag(sync=True)
    quantity = traitlets.Unicode(
        "", help="The quantity shown: weight, weight_grad, update, activation, ..."
    ).tag(sync=True)
    sample = traitlets.Int(
        0,
        help="The probe sample shown for per-sample quantities; -1 shows every sample (and is "
        "the value where the quantity has no samples to choose, as the dropdown shows).",
    ).tag(sync=True)
    channel = traitlets.Int(
        -1, help="A single channel (feature map or output channel) to show; -1 shows all."
    ).tag(sync=True)
    colour_range = traitlets.Enum(
        COLOUR_MODES,
        "fixed",
        help="'fixed': one range over the snapshots (scrubbing compares like with like; each "
        "snapshot's own where their ranges differ over 10x, the sample's own for one sample); "
        "'snapshot': the range of the picture shown; 'robust': its 1st to 99th percentile.",
    ).tag(sync=True)
    follow_latest = traitlets.Bool(
        True, help="Jump to each new snapshot as it arrives; turned off when you scrub back."
    ).tag(sync=True)

    def __new__(cls, source: Any = None, *args: Any, **kwargs: Any) -> Any:
        """A dict of runs makes a comparison instead (``docs/explorer.md``, "Comparing runs")."""
        if cls is TrainingExplorer and isinstance(source, Mapping):
            from nnviz_widgets.widgets.compare import RunComparison

            extra = sorted({*kwargs} - {"min_interval", "max_cells"}) + ["..."] * bool(args)
            if extra:
                raise TypeError(
                    f"a comparison of runs takes no {', '.join(extra)}: each run is already "
                    "recorded (a Recording, Recorder, path or callback); to train from the "
                    "widget, show one run with TrainingExplorer(model, probe, optimizer, ...)"
                )
            return RunComparison(source, **kwargs)
        return super().__new__(cls, source, *args, **kwargs)

    def __init__(
        self,
        source: Any = None,
        probe: Any = None,
        optimizer: Any = None,
        *,
        train_epoch: Callable[[int], Any] | None = None,
        epochs: int | None = None,
        min_interval: float = 0.25,
        max_cells: tuple[int, int] = (400, 450),
        **recorder_options: Any,
    ) -> None:
        min_interval = checked_interval(min_interval)  # before a Recorder or thread is started
        opened = open_source(
            source, probe, optimizer, recorder_options, train_epoch=train_epoch, epochs=epochs
        )
        self.recording: Recording = opened.recording
        self.recorder = opened.recorder
        self._owns_recorder = opened.owned
        # the selection traits, the controls and the views: every thread that moves or draws
        # them holds it (browser updates, live updates, observers); re-entrant for observers
        self._lock = threading.RLock()
        self._closed = False
        self._synced_count = 0  # snapshots the slider and dropdowns were last brought up to
        # the sample last chosen where there are samples to choose: weights have none (the
        # trait is then -1, as the dropdown shows), activations ask for it again
        self._chosen_sample = 0
        self._frames = FrameCache(self.recording, max_cells)
        self._display = ExplorerDisplay(
            max_cells, self._select_from_metrics, self._select_layer, self._lock
        )
        self._controls = ExplorerControls(self, self._lock, on_error=self._could_not_apply)
        self._name_parts()
        self.loop: TrainingLoop | None = None
        """The background training loop, when built with ``train_epoch=``."""
        self.training: TrainingControls | None = None
        # the health strip and findings panel: nv.diagnose in a thread of its own, live
        self.health = HealthPanel(self.recording, self._lock, lambda f: select_finding(self, f))
        # the layer's value histograms over snapshots (docs/explorer.md, "Values over snapshots")
        self.dimension = DimensionPanel(self._select_from_metrics, self._lock)
        children = [*self._controls.rows(self.epoch_label), self.health.widget]
        children += self._display.rows()
        children += [self.dimension.widget]
        if train_epoch is not None:
            self.loop, self.training = start_training(self, opened, train_epoch, epochs)
            children = [self.training, *children]
        super().__init__(children=children)
        self.add_class("nnviz-explorer")
        self._start_live(min_interval)  # live.py: drawn in the explorer's thread, nnviz-live
        self._catch_up()

    def _name_parts(self) -> None:
        """Every control and view under its own name too: notebooks and tests reach them so."""
        display, controls = self._display, self._controls
        self.heatmap, self.histogram = display.heatmap, display.histogram
        self.metrics_view, self.gradients = display.metrics_view, display.gradients
        self.epoch_label, self.readout = display.epoch_label, display.readout
        self.nonfinite, self.note, self.error = display.nonfinite, display.note, display.error
        self.play, self.slider, self.play_link = controls.play, controls.slider, controls.play_link
        self.follow_box, self.layer_box = controls.follow_box, controls.layer_box
        self.layer_picker = controls.picker
        self.quantity_box, self.sample_box = controls.quantity_box, controls.sample_box
        self.channel_box, self.colour_box = controls.channel_box, controls.colour_box

    # ------------------------------------------------------------------ public API
    def snapshot(self, **kwargs: Any) -> Any:
        """Take a snapshot through the Recorder (``epoch=...``, metrics as keywords).

        Only for an explorer built from a model or a Recorder; the view follows by itself.
        """
        if self.recorder is None:
            raise RuntimeError(
                "this explorer shows a Recording: append snapshots to the Recording (or build "
                "the explorer from a model or a Recorder to call snapshot())"
            )
        return self.recorder.snapshot(**kwargs)

    def close(self, *, widget: bool = False) -> None:
        """Stop training, live updates, background threads and following the directory;
        release the Recorder the explorer opened (its hooks).

        Every widget stays open: the explorer on screen keeps scrubbing what was recorded, its
        training buttons show that training is closed, and a page still building the widget
        (Voila builds widgets only once the whole notebook ran) builds it whole. Pass
        ``widget=True`` to close the widget (and its figures) as well. Returns within about a
        second even if an epoch never ends (see ``TrainingLoop.close``). Calling it twice is
        fine.
        """
        if not getattr(self, "_closed", True):  # True also when construction failed early
            self._closed = True
            if self.loop is not None:  # training first: it writes into the recorder
                self.loop.close()
                self.training.close(widget=False)
            self._stop_background()  # live.py: draws an update still due, stops the threads
            if self._owns_recorder and self.recorder is not None:
                # an epoch still running closes it as its thread ends (source.start_training)
                if self.loop is None or not self.loop.alive:
                    self.recorder.close()
            elif self._owns_recorder:
                self.recording.close()  # opened from a path: stop following the directory
        if widget:
            for child in self._all_widgets():
                child.close()
            super().close()

    def __enter__(self) -> TrainingExplorer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ the selection
    def __setattr__(self, name: str, value: Any) -> None:
        """Check a selection trait set from code before traitlets does: a refused value raises
        one short TraitError from here (the user's line, this one, the sentence), not through
        a dozen frames of traitlets."""
        if name in CHECKED_TRAITS and _checkable(name, value) and not self._cross_validation_lock:
            value = value if isinstance(value, str) else int(value)  # a numpy integer too
            try:
                value = checked(self.recording, self._selection(), name, value, self._frames.shape)
            except ValueError as error:
                raise traitlets.TraitError(str(error)) from None
        super().__setattr__(name, value)

    def _selection(self) -> Selection:
        return Selection.of(self)

    def _sample_count(self) -> int:
        selection = self._selection()
        return sample_count(selection.quantity, self._frames.shape(selection))

    @traitlets.validate("layer", "quantity", "index", "sample", "channel")
    def _validate_selection(self, proposal: traitlets.Bunch) -> Any:
        """Refuse what the recording does not hold, in words that say what it does hold (for
        values set by the controls, links and ``set_trait``; code setting a trait is checked
        first in ``__setattr__``)."""
        name, value = proposal["trait"].name, proposal["value"]
        try:
            return checked(self.recording, self._selection(), name, value, self._frames.shape)
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None

    # the observers and _fit_selection: SelectionTraits (selecting.py), shared with comparisons
    def _newest_index(self) -> int:
        return self._synced_count - 1

    def _fitted(self, wanted: Selection) -> tuple[Selection, Any]:
        """``wanted`` made whole (see ``fit_selection``), and the choices to offer."""
        fitted = fit_selection(self.recording, wanted, self._frames.shape)
        return fitted, choices(self.recording, fitted, self._frames.shape)

    def _catch_up(self) -> None:
        """Bring the controls up to the recording, move to the newest snapshot when following,
        and draw."""
        with self._lock:
            self._synced_count = count = len(self.recording)
            self._controls.show_range(count)
            self._fit_selection(count - 1 if self.follow_latest and count else None)
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            self._display.draw(self.recording, self._selection(), self._frames)
            self.dimension.draw(self.recording, self._selection())  # shows its own failure

    def _select_from_metrics(self, index: int) -> None:
        if 0 <= index < len(self.recording):
            try:
                self.index = index
            except Exception as error:  # a click must never leave a traceback in the page
                self._could_not_apply(error)

    def _select_layer(self, layer: str) -> None:
        """A layer clicked in a gradient chart: show it."""
        with self._lock:
            try:
                self.layer = layer
            except Exception as error:  # a click must never leave a traceback in the page
                self._could_not_apply(error)

    def _could_not_apply(self, error: Exception) -> None:
        self._display.show_error("could not apply that", error)

    def _all_widgets(self) -> list[ipywidgets.Widget]:
        """Every widget the explorer made: children, figures, marks, axes, scales, images."""
        # the spare images are not reachable from the marks
        roots = [*self.children, self.play_link, *self.heatmap.image_widgets]
        roots += [image for view in self.dimension.views.values() for image in view.image_widgets]
        return every_widget(roots, skip=self)


def _checkable(name: str, value: Any) -> bool:
    """Whether ``value`` has the type of the selection trait ``name`` (a numpy integer counts
    as an integer); else traitlets says what type it wants."""
    if name in ("layer", "quantity"):
        return isinstance(value, str)
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
