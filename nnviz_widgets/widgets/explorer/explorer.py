"""The TrainingExplorer widget: scrub through a recorded training run, view by view.

It holds the one piece of UI state (snapshot index, layer, quantity, sample, channel, colour-range
mode, follow-latest) as traits; every control and view follows them. It reads a
:class:`~nnviz_widgets.Recording` (numpy only) and draws through ``nnviz_widgets.views``; torch is
imported only when the explorer is built from a model, to wrap it in a Recorder.

Live updates arrive through the Recording's listener, in whatever thread calls ``snapshot()``.
They are throttled (a few redraws per second at most), and a failure to draw is shown in the
widget instead of being raised into the training loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import traceback
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from nnviz_widgets.recording import INPUT, FrameMissingError, Recording
from nnviz_widgets.render.colour import (
    DIVERGING,
    NAN_COLOUR,
    NEG_INF_COLOUR,
    POS_INF_COLOUR,
    SEQUENTIAL,
    colour_indices,
    colour_range,
    describe_nonfinite,
    finite_extremes,
    widen_range,
)
from nnviz_widgets.render.export import compose_export, write_png
from nnviz_widgets.render.layout import Picture, layout_frame, quantity_kind
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.threads.controls import LockedCheckbox, LockedDropdown, LockedIntSlider
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.views.gradients import GradientNormView
from nnviz_widgets.views.heatmap import HeatmapView
from nnviz_widgets.views.histogram import HistogramView
from nnviz_widgets.views.metrics import MetricsView
from nnviz_widgets.widgets.training_controls import TrainingControls

__all__ = ["TrainingExplorer"]

#: How the layer dropdown names the pseudo-layer that holds the probe input and the saliency.
INPUT_LABEL = "input"
#: Quantities preferred, in order, when a layer is chosen and the current quantity is absent.
_PREFERRED = ("weight", "activation", "saliency", "probe")
_COLOUR_MODES = ("fixed", "snapshot", "robust")
#: The explorer training each model from its buttons, by id(model): re-running a cell that
#: makes a new one for the same model stops the old one's training.
_TRAINING: dict[int, weakref.ReferenceType] = {}
#: Most memory the prepared-picture cache keeps (frames included), in bytes.
_CACHE_BYTES = 512 << 20


@dataclass
class _Prepared:
    """One selection made ready to show: pictures, colours, PNG, histogram, NaN line."""

    frame: np.ndarray
    picture: Picture
    reduced: Picture
    limits: tuple = ()
    indices: np.ndarray | None = None
    png: bytes = b""
    histogram: tuple = ()
    nonfinite: str = ""

    @property
    def nbytes(self) -> int:
        """Memory this entry holds on to (the frame counts: it may come from disk)."""
        pictures = self.picture.values.nbytes + self.reduced.values.nbytes
        same = self.picture.values is self.frame  # a matrix frame is its own picture
        return self.frame.nbytes + (self.reduced.values.nbytes if same else pictures)


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


class TrainingExplorer(ipywidgets.VBox):
    """Scrub through training: weights, gradients and activations of each layer, per snapshot.

    Parameters
    ----------
    source : torch.nn.Module, Recorder, Recording, path, or None
        A model (wrapped in a new :class:`~nnviz_widgets.Recorder`, which the explorer owns
        and closes), a Recorder, a Recording (no model or torch needed), or the path of a
        recording directory (opened and followed while another process writes it). None gives
        an empty Recording, filled through :attr:`recording`.
    probe : tensor or (tensor, tensor), optional
        Only with a model: the fixed probe batch, passed to the Recorder.
    optimizer : torch.optim.Optimizer, optional
        Only with a model: passed to the Recorder.
    train_epoch : callable, optional
        ``train_epoch(epoch) -> dict of metrics | None``: trains one epoch (``epoch`` counts
        from 0). Given it, the explorer shows Train / Pause / Step / Stop buttons and a progress
        bar and trains in a background thread, so that scrubbing stays live meanwhile. It takes
        a snapshot of the untrained network (epoch 0) if the recording is empty, and one after
        each epoch, labelled with the number of epochs done and the metrics returned. Pause acts
        at the next optimizer step; an exception in ``train_epoch`` stops training and shows
        its traceback; closing the explorer (or running its cell again) stops training and
        removes every hook. Needs a model or a Recorder.
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
        0, help="The probe sample shown for per-sample quantities; -1 shows every sample."
    ).tag(sync=True)
    channel = traitlets.Int(
        -1, help="A single channel (feature map or output channel) to show; -1 shows all."
    ).tag(sync=True)
    colour_range = traitlets.Enum(
        _COLOUR_MODES,
        "fixed",
        help="'fixed': one range over all snapshots (scrubbing compares like with like); "
        "'snapshot': the range of the picture shown; 'robust': its 1st to 99th percentile.",
    ).tag(sync=True)
    follow_latest = traitlets.Bool(
        True, help="Jump to each new snapshot as it arrives; turned off when you scrub back."
    ).tag(sync=True)

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
        if train_epoch is not None and not callable(train_epoch):
            raise TypeError(
                "train_epoch must be a function train_epoch(epoch) -> metrics, got "
                f"{type(train_epoch).__name__}"
            )
        if epochs is not None and train_epoch is None:
            raise TypeError("epochs= applies only with train_epoch=")
        if train_epoch is not None:
            # the cell was run again: stop the old widget's training before anything here
            # touches the model (a probe pass beside a training step would read torn weights)
            _stop_previous_training(source)
        recording, recorder, owned = self._resolve_source(
            source, probe, optimizer, recorder_options
        )
        if train_epoch is not None and recorder is None:
            raise TypeError(
                "train_epoch= needs a model (or a Recorder) to record into; a Recording only "
                "replays what was recorded"
            )
        self.recording: Recording = recording
        self.recorder = recorder
        self._owns_recorder = owned
        self.min_interval = float(min_interval)
        self._lock = threading.RLock()
        self._throttle_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_live = 0.0
        self._known_snapshots = -1
        self._quiet = False  # True while the explorer itself moves traits and controls
        self._closed = False
        # prepared pictures by selection; a background worker fills in the neighbours
        self._prepared: OrderedDict[tuple, _Prepared] = OrderedDict()
        self._pending: set[tuple] = set()
        self._cache_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="nnviz-prefetch"
        )
        self._extremes: dict[tuple, tuple[float, float]] = {}
        self._shapes: dict[tuple[str, str], tuple[int, ...]] = {}

        self.heatmap = HeatmapView(max_cells=max_cells, on_hover=self._show_readout)
        self.histogram = HistogramView(self.heatmap.colour_scale)
        self.metrics_view = MetricsView(on_select=self._select_from_metrics)
        self.gradients = GradientNormView()
        self._build_controls()
        self.loop: TrainingLoop | None = None
        """The background training loop, when built with ``train_epoch=``."""
        self.training: TrainingControls | None = None
        children = self._layout()
        if train_epoch is not None:
            self._start_training_controls(train_epoch, epochs)
            children = [self.training, *children]
        super().__init__(children=children)
        self.add_class("nnviz-explorer")
        self.recording.add_listener(self._on_recording_update)
        with self._lock:
            self._sync_with_recording()
            if len(self.recording):
                self._quietly(index=len(self.recording) - 1)
            self._draw()

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _resolve_source(source, probe, optimizer, options):
        if source is None:
            source = Recording()
        if isinstance(source, str | os.PathLike):
            if probe is not None or optimizer is not None or options:
                raise TypeError("probe, optimizer and recorder options apply only to a model")
            # a directory another process may still be writing: follow it
            return Recording.open(source, follow=True), None, True
        if isinstance(source, Recording):
            if probe is not None or optimizer is not None or options:
                raise TypeError("probe, optimizer and recorder options apply only to a model")
            return source, None, False
        if isinstance(getattr(source, "recording", None), Recording):  # a Recorder
            if probe is not None or optimizer is not None or options:
                raise TypeError("probe, optimizer and recorder options apply only to a model")
            return source.recording, source, False
        try:  # a model: only now is torch needed
            import torch
        except ImportError as error:  # pragma: no cover - torch is a dependency
            raise TypeError(
                "TrainingExplorer takes a torch model, a Recorder or a Recording"
            ) from error
        if not isinstance(source, torch.nn.Module):
            raise TypeError(
                "TrainingExplorer takes a torch model, a Recorder or a Recording, "
                f"got {type(source).__name__}"
            )
        from nnviz_widgets.record import Recorder

        recorder = Recorder(source, probe=probe, optimizer=optimizer, **options)
        return recorder.recording, recorder, True

    def _build_controls(self) -> None:
        self.play = ipywidgets.Play(
            value=0,
            min=0,
            max=0,
            step=1,
            interval=400,
            description="play",
            layout=ipywidgets.Layout(width="auto"),
        )
        # browser moves apply under the explorer's lock, never between a live update's steps
        self.slider = LockedIntSlider(
            self._lock,
            value=0,
            min=0,
            max=0,
            description="snapshot",
            readout=False,
            continuous_update=True,
            layout=ipywidgets.Layout(width="360px"),
        )
        # the Play control drives the slider in the browser: animation needs no kernel round trip
        self.play_link = ipywidgets.jslink((self.play, "value"), (self.slider, "value"))
        self.epoch_label = ipywidgets.HTML("", layout=ipywidgets.Layout(min_width="260px"))
        # every control the user changes applies under the explorer's lock (see _sync.py)
        self.follow_box = LockedCheckbox(
            self._lock,
            value=True,
            description="follow latest",
            indent=False,
            layout=ipywidgets.Layout(width="auto"),
        )
        narrow = ipywidgets.Layout(width="auto", margin="2px 10px 2px 0")

        def dropdown(description: str, options: list, **kwargs) -> LockedDropdown:
            return LockedDropdown(
                self._lock,
                description=description,
                options=options,
                layout=narrow,
                style={"description_width": "initial"},
                **kwargs,
            )

        self.layer_box = dropdown("layer", [])
        self.quantity_box = dropdown("quantity", [])
        self.sample_box = dropdown("sample", [("all", -1)], value=-1)
        self.channel_box = dropdown("channel", [("all", -1)], value=-1)
        self.colour_box = dropdown(
            "colours",
            [
                ("fixed over snapshots", "fixed"),
                ("per snapshot", "snapshot"),
                ("robust (1-99%)", "robust"),
            ],
            value="fixed",
        )
        self.readout = ipywidgets.HTML("move the pointer over the picture to read values")
        self.nonfinite = ipywidgets.HTML("")
        self.note = ipywidgets.HTML("")
        self.error = ipywidgets.HTML("")
        for widget in (self.readout, self.nonfinite, self.note, self.error):
            widget.add_class("nnviz-text")
        self.readout.add_class("nnviz-readout")
        self.nonfinite.add_class("nnviz-nonfinite")
        self.error.add_class("nnviz-error")

        self.slider.observe(self._on_slider_value, names="value")
        self.follow_box.observe(self._on_follow_box, names="value")
        self.layer_box.observe(self._on_layer_box, names="value")
        self.quantity_box.observe(self._on_quantity_box, names="value")
        self.sample_box.observe(self._on_sample_box, names="value")
        self.channel_box.observe(self._on_channel_box, names="value")
        self.colour_box.observe(self._on_colour_box, names="value")

    def _layout(self) -> list[ipywidgets.Widget]:
        time_row = ipywidgets.HBox([self.play, self.slider, self.epoch_label, self.follow_box])
        select_row = ipywidgets.HBox(
            [self.layer_box, self.quantity_box, self.sample_box, self.channel_box, self.colour_box]
        )
        main = ipywidgets.VBox(
            [self.heatmap.widget, self.readout, self.nonfinite, self.note],
            layout=ipywidgets.Layout(width="570px"),
        )
        side = ipywidgets.VBox([self.histogram.figure, self.metrics_view.figure])
        gradients = ipywidgets.HBox([self.gradients.across_figure, self.gradients.history_figure])
        return [
            time_row,
            select_row,
            self.error,
            ipywidgets.HBox([main, side]),
            gradients,
        ]

    def _start_training_controls(self, train_epoch: Callable, epochs: int | None) -> None:
        """Training from the widget: a TrainingLoop in the background, snapshots after each
        epoch, and the buttons that drive it."""
        recorder = self.recorder
        _TRAINING[id(recorder.model)] = weakref.ref(self)
        if len(self.recording) == 0:
            recorder.snapshot(epoch=0)  # the untrained network: where learning starts from
        done = int(self.recording.snapshots[-1])

        def on_epoch(epoch: int, metrics: dict) -> None:
            recorder.snapshot(epoch=epoch + 1, **metrics)

        self.loop = TrainingLoop(
            train_epoch, optimizer=recorder.optimizer, on_epoch=on_epoch, first_epoch=done
        )
        self.loop.add_listener(self._on_loop_event)
        self.training = TrainingControls(self.loop, epochs=epochs)

    def _on_loop_event(self, loop: TrainingLoop, event: str) -> None:
        # a stopped or failed loop cannot restart: release the Recorder's optimizer hooks now
        # (a kernel interrupt included); the recording stays for scrubbing
        ended = event == "state" and loop.state in ("stopped", "failed")
        if ended and self._owns_recorder and self.recorder is not None:
            self.recorder.close()

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
        """Stop following the recording; release the Recorder (or directory) the explorer opened.

        The widget stays on screen and scrubbing keeps working on what was recorded. Pass
        ``widget=True`` to close the widget (and its figures) as well. Calling it twice is fine.
        """
        if not getattr(self, "_closed", True):  # True also when construction failed early
            self._closed = True
            if self.loop is not None:  # training first: it writes into the recorder
                self.loop.close()
                self.training.close()
            self.recording.remove_listener(self._on_recording_update)
            with self._throttle_lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            if self._owns_recorder and self.recorder is not None:
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

    def save_png(self, path: str) -> str:
        """Write the main view (picture, title and colour bar) to a PNG file; returns the path.

        The image is rendered in the kernel from the same coloured pixels the browser shows, so
        it needs no browser and works from a script.
        """
        with self._lock:
            if self.heatmap.rgb is None:
                raise RuntimeError(f"nothing to export: {self.heatmap.figure.title}")
            low, high = self.heatmap.colour_limits
            image = compose_export(
                self.heatmap.rgb,
                title=self.heatmap.figure.title,
                low=low,
                high=high,
                colour_map=self.heatmap.colour_map,
                footer=_strip_tags(self.nonfinite.value),
            )
        write_png(path, image)
        return str(path)

    # ------------------------------------------------------------------ validation
    def _selectable_layers(self) -> list[str]:
        layers = [layer for layer in self.recording.layers if self._quantities(layer)]
        try:
            if self._quantities(INPUT):
                layers.insert(0, INPUT)
        except KeyError:  # no input pseudo-layer was declared
            pass
        return layers

    def _quantities(self, layer: str) -> list[str]:
        """The layer's quantities in reading order: weights, gradients, updates, then the rest."""
        return sorted(self.recording.quantities(layer), key=_quantity_order)

    @traitlets.validate("index")
    def _validate_index(self, proposal):
        value, count = proposal["value"], len(self.recording)
        if count == 0 and value == 0:
            return value
        if not 0 <= value < count:
            raise traitlets.TraitError(
                f"index {value} is out of range: the recording has {count} snapshot(s)"
                + (f" (0 to {count - 1})" if count else "")
            )
        return value

    @traitlets.validate("layer")
    def _validate_layer(self, proposal):
        value = proposal["value"]
        valid = self._selectable_layers()
        if value == INPUT_LABEL and INPUT in valid:
            return INPUT
        if value in valid or (value == "" and not valid):
            return value
        names = ", ".join(repr(INPUT_LABEL if v == INPUT else v) for v in valid) or "none yet"
        raise traitlets.TraitError(f"unknown layer {value!r}; valid layers: {names}")

    @traitlets.validate("quantity")
    def _validate_quantity(self, proposal):
        value = proposal["value"]
        valid = self._quantities(self.layer) if self.layer else ()
        if value in valid or (value == "" and not valid):
            return value
        names = ", ".join(repr(v) for v in valid) or "none"
        raise traitlets.TraitError(
            f"unknown quantity {value!r} for layer {self.layer!r}; valid quantities: {names}"
        )

    @traitlets.validate("sample")
    def _validate_sample(self, proposal):
        value = proposal["value"]
        count = self._sample_count()
        if value < -1 or (count and value >= count):
            raise traitlets.TraitError(
                f"sample {value} is out of range: -1 (all) or 0 to {max(count - 1, 0)}"
            )
        return value

    @traitlets.validate("channel")
    def _validate_channel(self, proposal):
        value = proposal["value"]
        count = self._channel_count()
        if value < -1 or (value >= 0 and value >= count):
            raise traitlets.TraitError(
                f"channel {value} is out of range: -1 (all)"
                + (f" or 0 to {count - 1}" if count else "; this quantity has no channels")
            )
        return value

    # ------------------------------------------------------------------ trait observers
    @traitlets.observe("index")
    def _on_index_change(self, change):
        with self._lock:
            if not self._quiet and change["new"] != len(self.recording) - 1:
                self.follow_latest = False  # the user scrubbed back
            self._set_control(self.slider, "value", change["new"])
            # Play's value too: a page that builds the widgets from their state (Voila, a
            # reload) runs the jslink, which copies Play's value onto the slider
            self._set_control(self.play, "value", change["new"])
            self._draw()

    @traitlets.observe("layer")
    def _on_layer_change(self, change):
        with self._lock:
            self._set_control(self.layer_box, "value", change["new"] or None)
            quantities = self._quantities(change["new"]) if change["new"] else ()
            self._set_control(self.quantity_box, "options", list(quantities))
            if self.quantity not in quantities:
                self._quietly(quantity=_pick_quantity(quantities, self.quantity))
            self._set_control(self.quantity_box, "value", self.quantity or None)
            self._fit_sample_and_channel()
            self._draw()

    @traitlets.observe("quantity")
    def _on_quantity_change(self, change):
        with self._lock:
            self._set_control(self.quantity_box, "value", change["new"] or None)
            self._fit_sample_and_channel()
            self._draw()

    @traitlets.observe("sample")
    def _on_sample_change(self, change):
        with self._lock:
            self._set_control(self.sample_box, "value", change["new"])
            self._draw()

    @traitlets.observe("channel")
    def _on_channel_change(self, change):
        with self._lock:
            self._set_control(self.channel_box, "value", change["new"])
            self._draw()

    @traitlets.observe("colour_range")
    def _on_colour_range_change(self, change):
        with self._lock:
            self._set_control(self.colour_box, "value", change["new"])
            self._draw()

    @traitlets.observe("follow_latest")
    def _on_follow_latest_change(self, change):
        with self._lock:
            self._set_control(self.follow_box, "value", change["new"])
            if change["new"] and len(self.recording):
                self._quietly(index=len(self.recording) - 1)
                self._draw()  # the quiet move above does not draw by itself

    # ------------------------------------------------------------------ control callbacks
    def _on_slider_value(self, change):
        if not self._quiet:
            self._guarded(lambda: setattr(self, "index", int(change["new"])))

    def _on_follow_box(self, change):
        if not self._quiet:
            self._guarded(lambda: setattr(self, "follow_latest", bool(change["new"])))

    def _on_layer_box(self, change):
        if not self._quiet and change["new"] is not None:
            self._guarded(lambda: setattr(self, "layer", change["new"]))

    def _on_quantity_box(self, change):
        if not self._quiet and change["new"] is not None:
            self._guarded(lambda: setattr(self, "quantity", change["new"]))

    def _on_sample_box(self, change):
        if not self._quiet and change["new"] is not None:
            self._guarded(lambda: setattr(self, "sample", int(change["new"])))

    def _on_channel_box(self, change):
        if not self._quiet and change["new"] is not None:
            self._guarded(lambda: setattr(self, "channel", int(change["new"])))

    def _on_colour_box(self, change):
        if not self._quiet and change["new"] is not None:
            self._guarded(lambda: setattr(self, "colour_range", change["new"]))

    def _select_from_metrics(self, index: int) -> None:
        if 0 <= index < len(self.recording):
            self._guarded(lambda: setattr(self, "index", index))

    def _guarded(self, action) -> None:
        """Run a UI action; show what went wrong in the widget instead of raising."""
        try:
            action()
        except Exception as error:  # a click must never leave a traceback in the page
            self._show_error("could not apply that", error)

    def _set_control(self, control, name: str, value) -> None:
        """Set a control's trait without it calling back into the explorer."""
        if getattr(control, name) == value:
            return
        quiet, self._quiet = self._quiet, True
        try:
            setattr(control, name, value)
        finally:
            self._quiet = quiet

    def _quietly(self, **values) -> None:
        """Set the explorer's own traits as the explorer (not the user) moving them."""
        quiet, self._quiet = self._quiet, True
        try:
            with self.hold_trait_notifications():
                for name, value in values.items():
                    setattr(self, name, value)
        finally:
            self._quiet = quiet

    # ------------------------------------------------------------------ live updates
    def _on_recording_update(self, recording: Recording) -> None:
        """Listener: called in the thread that appended (often the training thread)."""
        if len(recording) == self._known_snapshots:
            return  # per-step statistics only: nothing the views show changed
        with self._throttle_lock:
            if self._timer is not None:
                return  # an update is already due; it will see this snapshot too
            wait = self._last_live + self.min_interval - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._apply_live)
                self._timer.daemon = True
                self._timer.start()
                return
        self._apply_live()

    def _apply_live(self) -> None:
        with self._throttle_lock:
            self._timer = None
            self._last_live = time.monotonic()
        try:
            with self._lock:
                if self._between_changes():
                    self._retry_live()
                    return
                self._sync_with_recording()
                if self.follow_latest and len(self.recording):
                    self._quietly(index=len(self.recording) - 1)
                self._draw()
        except Exception as error:  # never into the training loop
            self._show_error("live update failed", error)

    def _between_changes(self) -> bool:
        """True while the main thread has set ``layer`` but its observer has not yet chosen a
        quantity for it: a live update must not draw (or fix) that half-made selection."""
        if not (self.layer and self.quantity):
            return False
        try:
            return self.quantity not in self._quantities(self.layer)
        except KeyError:
            return True

    def _retry_live(self) -> None:
        with self._throttle_lock:
            if self._timer is None and not self._closed:
                self._timer = threading.Timer(0.05, self._apply_live)
                self._timer.daemon = True
                self._timer.start()

    def _drain(self, timeout: float = 5.0) -> None:
        """Wait until a throttled live update has been applied (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._throttle_lock:
                timer = self._timer
            if timer is None:
                return
            timer.join(max(0.0, deadline - time.monotonic()))

    def _sync_with_recording(self) -> None:
        """Bring slider range, dropdown options and defaults up to date with the recording."""
        count = len(self.recording)
        grew = count != self._known_snapshots
        self._known_snapshots = count
        layers = self._selectable_layers()
        options = [(INPUT_LABEL if layer == INPUT else layer, layer) for layer in layers]
        if list(self.layer_box.options) != options:
            # new options reset a Dropdown's value: put the selected layer back
            self._set_control(self.layer_box, "options", options)
            self._set_control(self.layer_box, "value", self.layer or None)
        if grew:
            with self.slider.hold_sync(), self.play.hold_sync():
                self._set_control(self.slider, "max", max(count - 1, 0))
                self._set_control(self.play, "max", max(count - 1, 0))
        if not self.layer and layers and count:
            # chosen once the first snapshot is in, when every layer's quantities are known
            self._quietly(layer=_pick_layer(self.recording, layers))
        elif self.layer:
            quantities = list(self._quantities(self.layer))
            if list(self.quantity_box.options) != quantities:
                self._set_control(self.quantity_box, "options", quantities)
                self._set_control(self.quantity_box, "value", self.quantity or None)
        if count and not self.quantity and self.layer:
            quantities = self._quantities(self.layer)
            self._quietly(quantity=_pick_quantity(quantities, ""))
        self._fit_sample_and_channel()

    # ------------------------------------------------------------------ sample and channel
    def _reference_shape(self) -> tuple[int, ...] | None:
        """Shape of the current quantity's frames (from the newest frame that exists)."""
        if not (self.layer and self.quantity) or not len(self.recording):
            return None
        key = (self.layer, self.quantity)
        if key in self._shapes:  # a quantity keeps its shape: read a frame (maybe on disk) once
            return self._shapes[key]
        for index in (self.index, *range(len(self.recording) - 1, -1, -1)):
            if 0 <= index < len(self.recording) and (
                self.recording.missing_reason(self.layer, self.quantity, index) is None
            ):
                try:
                    shape = tuple(self.recording.frame(self.layer, self.quantity, index).shape)
                except FrameMissingError:
                    continue
                self._shapes[key] = shape
                return shape
        return None

    def _sample_count(self) -> int:
        shape = self._reference_shape()
        if shape is None or quantity_kind(self.quantity) == "parameter" or len(shape) < 2:
            return 0
        if len(shape) == 2 and quantity_kind(self.quantity) == "activation":
            return 0  # dense activations show every sample as rows already
        return shape[0]

    def _channel_count(self) -> int:
        shape = self._reference_shape()
        if shape is None or len(shape) != 4:
            return 0
        return shape[0] if quantity_kind(self.quantity) == "parameter" else shape[1]

    def _fit_sample_and_channel(self) -> None:
        samples, channels = self._sample_count(), self._channel_count()
        targets = self.recording.probe.get("target")
        sample_options = [("all", -1)]
        for k in range(samples):
            label = str(k)
            if targets is not None and k < len(targets) and np.ndim(targets[k]) == 0:
                label += f" (label {targets[k]})"
            sample_options.append((label, k))
        channel_options = [("all", -1)] + [(str(k), k) for k in range(channels)]
        # without samples to choose the choice is kept (disabled), for when it applies again
        sample = self.sample if (samples == 0 or -1 <= self.sample < samples) else 0
        channel = self.channel if -1 <= self.channel < channels else -1
        if sample != self.sample or channel != self.channel:
            self._quietly(sample=sample, channel=channel)
        if list(self.sample_box.options) != sample_options:
            self._set_control(self.sample_box, "options", sample_options)
        if list(self.channel_box.options) != channel_options:
            self._set_control(self.channel_box, "options", channel_options)
        self._set_control(self.sample_box, "value", self.sample if samples else -1)
        self._set_control(self.channel_box, "value", self.channel)
        self._set_control(self.sample_box, "disabled", samples == 0)
        self._set_control(self.channel_box, "disabled", channels == 0)

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        """Redraw every view for the current state; failures are shown, never raised."""
        if self._quiet:
            return  # the explorer is mid-way through moving several traits
        self._set_control(self.error, "value", "")
        count = len(self.recording)
        if count == 0:
            self.heatmap.clear("no snapshots yet")
            self.epoch_label.value = "<b>no snapshots yet</b>"
            self._set_control(self.note, "value", "")
            self._set_control(self.nonfinite, "value", "")
            return
        epochs = np.asarray(self.recording.snapshots)
        step = int(self.recording.snapshot_steps[self.index])
        self.epoch_label.value = (
            f"<b>epoch {epochs[self.index]:g}</b> &middot; snapshot {self.index + 1} of {count}"
            f" &middot; step {step}"
        )
        self._guard_view("main view", self._draw_main)
        self._guard_view("metrics", self._draw_metrics)
        self._guard_view("gradient norms", self._draw_gradients)

    def _guard_view(self, name: str, draw) -> None:
        try:
            draw()
        except Exception as error:  # one broken view must not take the others down
            self._show_error(f"the {name} could not be drawn", error)

    def _show_error(self, what: str, error: BaseException) -> None:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        text = f"<span style='color:#b00020'>&#9888; {what}: {_escape(detail)}</span>"
        # if even the error line fails there is nothing left to tell the user with
        with contextlib.suppress(Exception):
            self.error.value = (self.error.value + "<br>" if self.error.value else "") + text

    def _selection(self, index: int | None = None) -> tuple:
        """Everything that decides the main picture, as a cache key."""
        return (
            self.layer,
            self.quantity,
            self.index if index is None else index,
            self.sample,
            self.channel,
            self.colour_range,
        )

    def _prepare(self, selection: tuple) -> _Prepared:
        """Lay out, reduce, colour and encode one selection (cached; safe in any thread).

        Raises :class:`FrameMissingError` when the frame is missing.
        """
        layer, quantity, index, sample, channel, mode = selection
        with self._cache_lock:
            prepared = self._prepared.get(selection)
        # recorded frames never change (a thinned one is reported missing before this), so a
        # prepared selection is reused without reading the frame again, from memory or disk
        if prepared is None:
            frame = self.recording.frame(layer, quantity, index)
            probe = self.recording.probe.get("input")
            info = self.recording.layer_info(layer)
            picture = layout_frame(
                frame,
                quantity,
                layer_type=str(info.get("type", "")),
                probe_shape=None if probe is None else probe.shape,
                sample=sample,
                channel=channel,
            )
            reduced = reduce_picture(picture, *self.heatmap.max_cells)
            prepared = _Prepared(frame, picture, reduced)
            prepared.nonfinite = self._nonfinite_text(layer, quantity, index, frame)
        limits = self._colour_limits(layer, quantity, prepared.reduced, mode)
        if prepared.limits != limits:
            low, high, signed = limits
            colour_map = DIVERGING if signed else SEQUENTIAL
            indices = colour_indices(prepared.reduced.values, low, high, gaps=prepared.reduced.gaps)
            prepared.indices = indices
            prepared.png = encode_png(indices, palette=colour_map.palette)
            prepared.histogram = HistogramView.count(prepared.frame, low, high)
            prepared.limits = limits
        with self._cache_lock:
            self._prepared[selection] = prepared
            self._prepared.move_to_end(selection)
            # bounded by count and by bytes: frames read from disk live only in this cache
            total = sum(p.nbytes for p in self._prepared.values())
            while len(self._prepared) > 1 and (len(self._prepared) > 48 or total > _CACHE_BYTES):
                _, dropped = self._prepared.popitem(last=False)
                total -= dropped.nbytes
        return prepared

    def _prefetch_neighbours(self, current: _Prepared) -> None:
        """Prepare other snapshots of this selection in the background, nearest first.

        As many as the cache holds (by count and bytes, judged from ``current``): for small
        frames that is the whole run, so a jump anywhere is warm; for large ones the
        neighbours, so stepping and playing are. Work for a selection the user has left is
        skipped when its turn comes.
        """
        if self._executor is None or self._closed:
            return
        count = len(self.recording)
        room = min(48, _CACHE_BYTES // max(current.nbytes, 1)) - 1
        order = sorted(range(count), key=lambda i: (abs(i - self.index), i))[1 : 1 + room]
        for index in order:
            selection = self._selection(index)
            with self._cache_lock:
                if selection in self._prepared or selection in self._pending:
                    continue
                self._pending.add(selection)
            self._executor.submit(self._prefetch, selection)

    def _prefetch(self, selection: tuple) -> None:
        try:
            # still the selection on screen (apart from the snapshot)? otherwise skip it
            if selection[:2] + selection[3:] == self._selection()[:2] + self._selection()[3:]:
                self._prepare(selection)
        except Exception:  # a failed prefetch costs nothing: the draw itself will report it
            return
        finally:
            with self._cache_lock:
                self._pending.discard(selection)

    def _nonfinite_text(self, layer: str, quantity: str, index: int, frame: np.ndarray) -> str:
        """The NaN/Inf line for a frame; skips the scan when the Recorder counted none."""
        try:
            counted = self.recording.statistic(layer, f"nonfinite_{quantity}")[index]
        except (KeyError, IndexError):
            counted = np.nan
        if counted == 0:
            return ""
        text = describe_nonfinite(frame)
        if not text:
            return ""
        return (
            f"<span style='color:#b00020'>&#9888; {_escape(text)}</span>: NaN drawn in "
            f"<span style='color:{_hex(NAN_COLOUR)}'>&#9632; magenta</span>, +Inf in "
            f"<span style='color:{_hex(POS_INF_COLOUR)}'>&#9632; black</span>, -Inf in "
            f"<span style='color:{_hex(NEG_INF_COLOUR)}'>&#9632; grey</span>"
        )

    def _frame_extremes(self, layer: str, quantity: str, index: int) -> tuple[float, float] | None:
        """Finite (min, max) of one recorded frame, cached (frames never change)."""
        key = (layer, quantity, index)
        if key not in self._extremes:
            try:
                frame = self.recording.frame(layer, quantity, index)
            except FrameMissingError:
                return None
            self._extremes[key] = finite_extremes(frame)
        return self._extremes[key]

    def _colour_limits(
        self, layer: str, quantity: str, shown: Picture, mode: str
    ) -> tuple[float, float, bool]:
        """(low, high, signed) for a selection and colour-range mode."""
        extremes = [self._frame_extremes(layer, quantity, i) for i in range(len(self.recording))]
        extremes = [e for e in extremes if e is not None and np.isfinite(e[0])]
        # signed or not is decided over every snapshot, so the colour map never flips
        signed = any(low < 0 for low, _ in extremes) if extremes else True
        if mode == "fixed" and extremes:
            low = min(e[0] for e in extremes)
            high = max(e[1] for e in extremes)
            low, high = widen_range(low, high, signed=signed)
            if not signed and 0 < low < 0.5 * high:
                low = 0.0  # non-negative data reads best from zero
        else:
            values = shown.values if shown.gaps is None else shown.values[~shown.gaps]
            low, high = colour_range(values, signed=signed, robust=mode == "robust")
        return low, high, signed

    def _draw_main(self) -> None:
        if not (self.layer and self.quantity):
            self.heatmap.clear("nothing recorded for any layer yet")
            return
        reason = self.recording.missing_reason(self.layer, self.quantity, self.index)
        if reason is not None:
            self.heatmap.clear(reason)
            self._set_control(self.nonfinite, "value", "")
            return
        prepared = self._prepare(self._selection())
        picture, reduced = prepared.picture, prepared.reduced
        low, high, signed = prepared.limits
        colour_map = DIVERGING if signed else SEQUENTIAL
        layer_label = INPUT_LABEL if self.layer == INPUT else self.layer
        epoch = self.recording.snapshots[self.index]
        title = f"{layer_label} \u00b7 {self.quantity} \u00b7 epoch {epoch:g}"
        if reduced.reduced:
            full_rows, full_columns = reduced.full_shape
            title += (
                f" \u00b7 reduced {full_rows}x{full_columns} to "
                f"{reduced.values.shape[0]}x{reduced.values.shape[1]} "
                f"(block mean of {reduced.reduction[0]}x{reduced.reduction[1]})"
            )
        self.heatmap.show(
            picture,
            low,
            high,
            colour_map,
            title=title,
            reduced=reduced,
            indices=prepared.indices,
            png=prepared.png,
        )
        self.histogram.show_counts(*prepared.histogram)
        self._set_control(self.nonfinite, "value", prepared.nonfinite)
        note = self.recording.note(self.layer, self.quantity)
        layout = picture.layout + (f"; recorded as: {note}" if note else "")
        self._set_control(self.note, "value", f"<span style='color:#555'>{_escape(layout)}</span>")
        self._prefetch_neighbours(prepared)

    def _draw_metrics(self) -> None:
        epochs = np.asarray(self.recording.snapshots, dtype=np.float64)
        self.metrics_view.show(epochs, self.recording.metrics, self.index)

    def _draw_gradients(self) -> None:
        epochs = np.asarray(self.recording.snapshots, dtype=np.float64)
        norms = {}
        for layer in self.recording.layers:
            if "grad_norm" in self.recording.statistics(layer):
                norms[layer] = self.recording.statistic(layer, "grad_norm")
        self.gradients.show(epochs, norms, self.index)

    def _show_readout(self, row: int, column: int, row_end: int, column_end: int) -> None:
        """Write the value(s) under the pointer: cells ``[row:row_end, column:column_end]``."""
        try:
            picture = self.heatmap.picture
            if picture is None:
                return
            name = f"{self.quantity}"
            if picture.gaps is not None:
                cells = np.argwhere(~picture.gaps[row:row_end, column:column_end])
                if len(cells) == 1:  # a block holding one cell and gaps: read that cell
                    row, column = row + int(cells[0][0]), column + int(cells[0][1])
                    row_end, column_end = row + 1, column + 1
            if row_end - row == 1 and column_end - column == 1:
                where = picture.locate(row, column)
                if where is None:
                    text = f"row {row}, column {column}: gap between tiles"
                else:
                    value = float(picture.values[row, column])
                    index = ", ".join(str(int(i)) for i in where)
                    text = f"row {row}, column {column} &rarr; {name}[{index}] = <b>{value:.6g}</b>"
            else:
                block = picture.values[row:row_end, column:column_end]
                if picture.gaps is not None:
                    block = block[~picture.gaps[row:row_end, column:column_end]]
                finite = block[np.isfinite(block)]
                text = (
                    f"rows {row}&ndash;{row_end - 1}, columns {column}&ndash;{column_end - 1} "
                    f"({block.size} values)"
                )
                if finite.size:
                    text += (
                        f": mean <b>{finite.mean():.4g}</b>, min {finite.min():.4g}, "
                        f"max {finite.max():.4g}"
                    )
                if finite.size < block.size:
                    text += f", {block.size - finite.size} NaN/Inf"
            self.readout.value = text
        except Exception as error:
            self._show_error("the readout failed", error)

    def _all_widgets(self) -> list[ipywidgets.Widget]:
        """Every widget the explorer made: children, figures, marks, axes, scales, images."""
        found: dict[int, ipywidgets.Widget] = {}
        stack: list[ipywidgets.Widget] = [
            *self.children,
            self.play_link,
            *self.heatmap.image_widgets,  # the spare images are not reachable from the marks
        ]
        while stack:
            widget = stack.pop()
            if id(widget) in found or widget is self:
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


def _stop_previous_training(source: Any) -> None:
    """Close the explorer that trains the same model from its buttons, if there is one."""
    from nnviz_widgets.record import unwrap_model

    model = getattr(source, "model", source)  # a Recorder, or the model itself
    try:
        key = id(unwrap_model(model))
    except TypeError:
        return  # not a model: the constructor says so in words
    previous = _TRAINING.pop(key, None)
    previous = previous() if previous is not None else None
    if previous is not None:
        previous.close()


_ORDER = {
    "weight": 0, "weight_grad": 1, "update": 2, "activation": 10, "output_grad": 11,
    "probe": 20, "saliency": 21,
}  # fmt: skip


def _quantity_order(quantity: str) -> tuple:
    base = re.sub(r"\[\d+\]$", "", quantity)
    calls = re.findall(r"\[(\d+)\]$", quantity)
    if base in _ORDER:
        return (_ORDER[base], "", int(calls[0]) if calls else 0)
    # other parameters (bias, weight_ih_l0, ...): p, p_grad, p_update together, after weights
    stem = re.sub(r"_(grad|update)$", "", base)
    suffix = {"": 0, "_grad": 1, "_update": 2}[base[len(stem) :]]
    return (5, stem, suffix)


def _pick_layer(recording: Recording, layers: list[str]) -> str:
    """The first layer with weights, else the first layer with anything recorded."""
    for layer in layers:
        if layer != INPUT and "weight" in recording.quantities(layer):
            return layer
    return layers[0]


def _pick_quantity(quantities, current: str) -> str:
    if current in quantities:
        return current
    # keep the same family when switching layers (activation -> activation, ...)
    if current:
        same = [q for q in quantities if quantity_kind(q) == quantity_kind(current)]
        if same:
            return same[0]
    for preferred in _PREFERRED:
        if preferred in quantities:
            return preferred
    return quantities[0] if quantities else ""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _strip_tags(html: str) -> str:
    text = re.sub(r"<[^>]+>", "", html)
    for entity, char in (("&#9888;", "!"), ("&#9632;", ""), ("&lt;", "<"), ("&gt;", ">")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&").strip()
