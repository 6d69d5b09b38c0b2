"""The RunComparison widget: two or more runs of one architecture, one selection, one slider.

``nv.TrainingExplorer({"lr=0.1": rec_a, "lr=1.0": rec_b})`` makes one. It holds the same
selection traits as the explorer (index, layer, quantity, sample, channel, colour_range,
follow_latest) and a ``mode``; the index counts the epochs any run has a snapshot at, and each
run shows its latest snapshot at or before the selected epoch. The parts come from the
explorer's package (the selection rules, a frame cache per run, the controls, the heatmaps)
and from this one (``runs``: the dict opened and the layers compared; ``pictures``: shared
colours and differences; ``display`` and ``charts``: what is drawn). Live runs keep updating
through each Recording's listener: the appending thread only asks, the drawing happens
throttled in the comparison's own thread (``nnviz-compare-live``). Locks:
``docs/architecture.md`` ("Threads").
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import ipywidgets
import traitlets

from nnviz_widgets.recording import Recording
from nnviz_widgets.threads import ThrottledWorker
from nnviz_widgets.threads.controls import Link, LockedDropdown
from nnviz_widgets.widgets.compare.choosing import check_choice, fit_choice
from nnviz_widgets.widgets.compare.display import MODES, CompareDisplay, Shown
from nnviz_widgets.widgets.compare.exports import ComparisonExports
from nnviz_widgets.widgets.compare.runs import (
    at_or_before,
    close_owned,
    layer_agreement,
    open_runs,
    run_epochs,
)
from nnviz_widgets.widgets.explorer.controls import ExplorerControls
from nnviz_widgets.widgets.explorer.display import every_widget
from nnviz_widgets.widgets.explorer.frame_cache import COLOUR_MODES, FrameCache
from nnviz_widgets.widgets.explorer.selecting import SelectionTraits
from nnviz_widgets.widgets.explorer.selection import (
    Selection,
    is_half_made,
    sample_count,
)

__all__ = ["RunComparison"]

#: How long a live update waits when it finds the selection half-made by another thread.
RETRY_SECONDS = 0.05


class RunComparison(SelectionTraits, ComparisonExports, ipywidgets.VBox):
    """Compare runs of the same architecture: the same layer and quantity for each run, side by
    side in one colour range or as differences, one slider aligned by epoch, metrics and
    gradient norms overlaid with one colour per run.

    Made by ``nv.TrainingExplorer({"name": source, ...})``; see ``docs/explorer.md``,
    "Comparing runs".

    Parameters
    ----------
    runs : dict
        Run name (a non-empty string: it labels the pictures and the legend) -> anything the
        explorer takes as a source: a Recording, a Recorder, the path of a recording directory
        (followed while another process writes it), a framework callback. Live runs keep
        updating. The first run is the reference: differences are it minus each other run.
    min_interval : float
        Live updates redraw at most once per this many seconds (0.25 by default).
    max_cells : (int, int)
        Largest picture drawn cell for cell; larger ones are reduced by block means.

    Raises
    ------
    ValueError
        An empty dict, or runs that share no layer (the message lists each run's layers).
    TypeError
        A name that is not a string, or a source the explorer does not take (named).
    """

    index = traitlets.Int(
        0, help="The selected epoch, as a position in `epochs` (every epoch any run has)."
    ).tag(sync=True)
    layer = traitlets.Unicode("", help="The layer shown, one every run has.").tag(sync=True)
    quantity = traitlets.Unicode("", help="The quantity shown: weight, activation, ...").tag(
        sync=True
    )
    sample = traitlets.Int(0, help="The probe sample shown; -1 every sample.").tag(sync=True)
    channel = traitlets.Int(-1, help="A single channel to show; -1 shows all.").tag(sync=True)
    colour_range = traitlets.Enum(
        COLOUR_MODES,
        "fixed",
        help="As the explorer's, then joined over the runs: one range for every picture.",
    ).tag(sync=True)
    follow_latest = traitlets.Bool(
        True, help="Jump to each new epoch as it arrives; turned off when you scrub back."
    ).tag(sync=True)
    mode = traitlets.Enum(
        MODES,
        MODES[0],
        help="'side by side': each run's picture; 'difference': the first run's minus each "
        "other's, centred on zero (only where the frames have the same shape).",
    ).tag(sync=True)

    def __init__(
        self,
        runs: Any,
        *,
        min_interval: float = 0.25,
        max_cells: tuple[int, int] = (400, 450),
    ) -> None:
        self.sources = open_runs(runs)
        self.runs: dict[str, Recording] = {n: s.recording for n, s in self.sources.items()}
        """Run name -> its Recording."""
        try:
            self._agreement = layer_agreement(self.runs)
        except ValueError:
            close_owned(self.sources)
            raise
        self.recording: Recording = self._reference()
        """The reference run's Recording (the first with snapshots): its layers, quantities,
        samples and channels are what the dropdowns offer."""
        # the selection traits, the controls and the views: every thread that moves or draws
        # them holds it (browser updates, live updates, observers); re-entrant for observers
        self._lock = threading.RLock()
        self._closed = False
        self._epochs = run_epochs(self.runs)
        self._synced: tuple[int, ...] = ()  # each run's snapshots when last brought up to them
        self._chosen_sample = 0
        # drawn in its own thread (nnviz-compare-live): the appending thread only asks
        self._live = ThrottledWorker(self._apply_live, float(min_interval), "compare-live")
        self._frames = {name: FrameCache(r, max_cells) for name, r in self.runs.items()}
        self._display = CompareDisplay(list(self.runs), max_cells, self._lock)
        self._controls = ExplorerControls(self, self._lock, on_error=self._could_not_apply)
        self.mode_box = self._mode_dropdown()
        self._name_parts()
        time_row, choice_row, where = self._controls.rows(self.epoch_label)
        choice_row.children = (*choice_row.children, self.mode_box)
        super().__init__(children=[time_row, choice_row, where, *self._display.rows()])
        self.add_class("nnviz-explorer")
        self.add_class("nnviz-compare")
        for recording in self.runs.values():
            recording.add_listener(self._on_recording_update)
        self._catch_up()

    def _mode_dropdown(self) -> LockedDropdown:
        """The "compare" dropdown (side by side, difference), linked to ``mode``."""
        box = LockedDropdown(
            self._lock, description="compare", options=[(m, m) for m in MODES],
            value=self.mode, style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="auto", margin="2px 10px 2px 0"),
        )  # fmt: skip
        box.add_class("nnviz-compare-mode")
        self._mode_link = Link(
            (self, "mode"), (box, "value"), self._lock, on_error=self._could_not_apply
        )
        return box

    def _name_parts(self) -> None:
        """Every control and view under its own name too: notebooks and tests reach them so."""
        display, controls = self._display, self._controls
        self.heatmaps, self.pictures = display.heatmaps, display.pictures
        self.readout, self.metrics_view, self.gradients = (
            display.readout, display.metrics_view, display.gradients,
        )  # fmt: skip
        self.epoch_label, self.note, self.error = display.epoch_label, display.note, display.error
        self.play, self.slider = controls.play, controls.slider
        self.follow_box, self.layer_box, self.layer_picker = (
            controls.follow_box, controls.layer_box, controls.picker,
        )  # fmt: skip
        self.quantity_box, self.sample_box = controls.quantity_box, controls.sample_box
        self.channel_box, self.colour_box = controls.channel_box, controls.colour_box

    # ------------------------------------------------------------------ public API
    @property
    def epochs(self) -> tuple[float, ...]:
        """Every epoch any run has a snapshot at, in order: what the slider steps through."""
        return tuple(float(epoch) for epoch in self._epochs)

    @property
    def shown(self) -> Shown:
        """What is on screen: the mode drawn and each run's snapshot (None: none that early)."""
        return self._display.shown

    @property
    def panels(self) -> list:
        """Each heatmap's :class:`~nnviz_widgets.widgets.compare.pictures.Panel` (None: none)."""
        return list(self._display.panels)

    @property
    def min_interval(self) -> float:
        """Live updates redraw at most once per this many seconds."""
        return self._live.interval

    @min_interval.setter
    def min_interval(self, seconds: float) -> None:
        self._live.interval = float(seconds)

    def snapshot(self, run: str | None = None, **kwargs: Any) -> Any:
        """Take a snapshot of run ``run`` through its Recorder (``epoch=...``, metrics as
        keywords); ``run`` may be left out when one run only has a Recorder."""
        recorders = {n: s.recorder for n, s in self.sources.items() if s.recorder is not None}
        if run is None and len(recorders) == 1:
            run = next(iter(recorders))
        if run not in recorders:
            having = ", ".join(map(repr, recorders)) or "none"
            raise RuntimeError(
                f"snapshot(run=...) needs the name of a run given as a Recorder (runs with "
                f"one: {having}); got {run!r}"
            )
        return recorders[run].snapshot(**kwargs)

    def close(self, *, widget: bool = False) -> None:
        """Stop live updates and background work, release what the comparison opened itself
        (a directory it follows); every widget stays open unless ``widget=True``. Calling it
        twice is fine."""
        if not getattr(self, "_closed", True):
            self._closed = True
            for recording in self.runs.values():
                recording.remove_listener(self._on_recording_update)
            self._live.close()
            if self._counts() != self._synced:
                self._apply_live()  # the widget that stays shows every snapshot recorded
            for frames in self._frames.values():
                frames.close()
            close_owned(self.sources)
        if widget:
            roots = [*self.children, self.play_link]
            roots += [w for heatmap in self.heatmaps for w in heatmap.image_widgets]
            for child in every_widget(roots, skip=self):
                child.close()
            super().close()

    @property
    def play_link(self) -> ipywidgets.Widget:
        """The browser-side link from Play to the slider."""
        return self._controls.play_link

    def __enter__(self) -> RunComparison:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ the selection
    def _reference(self) -> Recording:
        """The first run with snapshots (else the first run): what the dropdowns offer."""
        return next((r for r in self.runs.values() if len(r)), next(iter(self.runs.values())))

    def _reference_frames(self) -> FrameCache:
        return self._frames[next(n for n, r in self.runs.items() if r is self.recording)]

    def _counts(self) -> tuple[int, ...]:
        return tuple(len(recording) for recording in self.runs.values())

    def _selection(self) -> Selection:
        return Selection.of(self)

    def _at_reference(self, selection: Selection) -> Selection:
        """``selection`` (index: an epoch's position) at the reference run's snapshot."""
        epoch = self._epochs[selection.index] if 0 <= selection.index < len(self._epochs) else 0
        index = at_or_before(self.recording, float(epoch)) if len(self._epochs) else None
        return selection.at(index if index is not None else 0)

    @traitlets.validate("layer", "quantity", "index", "sample", "channel")
    def _validate_selection(self, proposal: traitlets.Bunch) -> Any:
        """Refuse what the runs do not hold, in words that say what they do hold."""
        name, value = proposal["trait"].name, proposal["value"]
        reference = self._at_reference(self._selection())
        try:
            return check_choice(
                self.recording, self._agreement, len(self._epochs), reference, name, value,
                self._shape,
            )  # fmt: skip
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None

    def _shape(self, selection: Selection) -> tuple[int, ...] | None:
        return self._reference_frames().shape(selection)

    @traitlets.observe("mode")
    def _on_mode_change(self, change: traitlets.Bunch) -> None:
        self._draw()  # the other selection traits: SelectionTraits

    def _sample_count(self) -> int:
        reference = self._at_reference(self._selection())
        return sample_count(reference.quantity, self._shape(reference))

    def _newest_index(self) -> int:
        return len(self._epochs) - 1

    def _fitted(self, wanted: Selection) -> tuple[Selection, Any]:
        """``wanted`` (index: an epoch's position) made whole on the reference run among the
        layers every run has, at the same epoch position; and the choices to offer."""
        fitted, offered = fit_choice(
            self.recording, self._agreement, self._at_reference(wanted), self._shape
        )
        return replace(fitted, index=wanted.index), offered

    def _catch_up(self) -> None:
        """Bring the epochs, layers and controls up to the runs, move to the newest epoch when
        following, and draw."""
        with self._lock:
            self._synced = self._counts()
            self._epochs = run_epochs(self.runs)
            self._agreement = layer_agreement(self.runs)
            self.recording = self._reference()
            count = len(self._epochs)
            self._controls.show_range(count)
            self._fit_selection(count - 1 if self.follow_latest and count else None)
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            shown = self._display.draw(
                self.runs, self._frames, self._selection(), self._epochs, self.mode,
                self._agreement.note(),
            )  # fmt: skip
            # difference is offered only where the frames can be subtracted
            self.mode_box.disabled = shown.why_not_difference is not None
            self.mode_box.tooltip = shown.why_not_difference and (
                f"no difference: {shown.why_not_difference}"
            )

    def _could_not_apply(self, error: Exception) -> None:
        self._display.show_error("could not apply that", error)

    # ------------------------------------------------------------------ live updates
    def _on_recording_update(self, recording: Recording) -> None:
        """Listener: called in the thread that appended (often a training thread); only asks."""
        if self._counts() != self._synced:  # else per-step statistics only: nothing shown
            self._live()

    def _apply_live(self) -> None:
        try:
            with self._lock:
                if is_half_made(self.recording, self._at_reference(self._selection())):
                    self._live.defer(RETRY_SECONDS)  # a layer set, its quantity not yet
                    return
                self._catch_up()
        except Exception as error:  # never into the training loop
            self._display.show_error("live update failed", error)

    def _drain(self, timeout: float = 5.0) -> None:
        """Wait until a throttled live update has been applied (for tests and scripts)."""
        self._live.wait(timeout)
