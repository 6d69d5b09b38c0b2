"""Switching the Playground's run: a new run from the settings, or a kept run brought back.

:class:`RunSwitching` is a part of the Playground (a mixin): starting a run pauses the one shown
and keeps it in the Playground's :class:`~.runs.RunHistory`; bringing a kept run back copies its
settings into the traits (without restarting anything) and shows its newest epoch. It uses the
Playground's figures, controls, lock and run, which the Playground's ``__init__`` makes.
"""

from __future__ import annotations

import traitlets

from nnviz_widgets.widgets.playground.presets import PRESETS
from nnviz_widgets.widgets.playground.run import PlaygroundRun

__all__ = ["RunSwitching"]


class RunSwitching(traitlets.HasTraits):
    """The run shown, by number, and the moves between runs (a part of the Playground)."""

    run = traitlets.Int(
        1, help="The number of the run shown (1 is the first); setting it brings a kept run back."
    )

    @property
    def runs(self) -> list[str]:
        """The kept runs in words, newest first, e.g. "run 2: spirals, tanh, 4-2, 300 epochs"."""
        return [label for label, _ in self._history.options()]

    @traitlets.validate("run")
    def _validate_run(self, proposal: dict) -> int:
        if proposal["value"] not in self._history:
            kept = ", ".join(map(str, self._history.numbers))
            raise traitlets.TraitError(
                f"run must be the number of a kept run ({kept}), got {proposal['value']!r}"
            )
        return proposal["value"]

    def _on_run_change(self, change: dict) -> None:
        if self._history.get(change["new"]) is not self._run:
            self._show_kept_run(change["new"])

    def _start_run(self, reason: str) -> None:
        """Make a new run from the settings, show its epoch 0, and say ``reason``."""
        previous = self._run
        if self.activations and len(self.activations) != len(self.hidden):
            # the architecture changed under them: they named the old layers
            self._restoring = True
            try:
                self.activations = []
            finally:
                self._restoring = False
            reason += f" (the per-layer activations no longer fit: {self.activation} for all)"
        self._shelve_run()
        run = PlaygroundRun.from_settings(self, on_epoch=self._on_epoch)
        number, dropped = self._history.add(run)
        self._switch_to(run, number)
        if not reason:
            self._controls.tell("Ready: press Play to train, or Step for one epoch.")
            return
        message = f"{reason}: run {number} starts from epoch 0."
        kept = self._history.number_of(previous) if previous is not None else None
        if kept is not None:
            message += (
                f" Run {kept} ({previous.epochs} epoch(s)) is kept: "
                "pick it in the run list to bring it back."
            )
        for words in dropped:
            message += f" Dropped {words}: at most {self._history.cap} runs are kept."
        self._controls.tell(message)

    def apply_preset(self, name: str) -> None:
        """Take the settings of preset ``name`` (:data:`~.presets.PRESETS`) and start a run."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {name!r}")
        self._restoring = True  # one new run for the whole preset, not one per setting
        try:
            with self.hold_trait_notifications():
                for setting, value in PRESETS[name].items():
                    setattr(self, setting, value)
        finally:
            self._restoring = False
        # the run shown keeps its own settings (kept with it); the new one takes the traits
        self._start_run(f"Preset {name!r}")

    def _show_kept_run(self, number: int) -> None:
        """Bring kept run ``number`` back: its settings, its newest epoch, its training state."""
        run = self._history.get(number)
        self._shelve_run()
        self._restoring = True
        try:
            with self.hold_trait_notifications():
                for name, value in run.settings.items():
                    setattr(self, name, value)
        finally:
            self._restoring = False
        self._switch_to(run, number)
        self._controls.tell(f"Back to {run.describe(number)}.")

    def _switch_to(self, run: PlaygroundRun, number: int) -> None:
        """Show ``run`` (numbered ``number``) at its newest epoch, following its training."""
        run.loop.add_listener(self._on_loop_event)
        with self._state_lock:
            self._run = run
            self._figures.show_run(run)
            if self.index == run.epochs:
                self.redraw()
            else:
                self.index = run.epochs  # a move: it redraws
            self._controls.slider.max = run.epochs
            self._follow_newest = True  # shown at its newest snapshot
        self.run = number
        self._controls.show_runs(self._history.options(), number)
        self._controls.show_state(run.loop.state)

    def _shelve_run(self) -> None:
        """Pause the run shown and let go of it (it stays kept, and can be brought back)."""
        run = self._run
        if run is not None:
            run.loop.remove_listener(self._on_loop_event)
            run.loop.pause()
            run.loop.wait()  # paused at its next step: it draws nothing more

    def _stop_run(self) -> None:
        # getattr: close() may run from __del__ of a Playground whose construction failed
        run = getattr(self, "_run", None)
        if run is not None:
            run.loop.remove_listener(self._on_loop_event)
            run.close()
