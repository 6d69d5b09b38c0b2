"""Train / Pause / Step / Stop buttons, a progress bar and the error text, for a TrainingLoop.

The loop runs in its own thread and reports through listeners; this widget turns those reports
into button states, progress and words. Updates from the training thread reach the browser
directly (kernel-to-browser messages do not wait for the main thread), at most a few times a
second for per-step progress.

The words name an epoch by the number ``train_epoch`` receives (the explorer's and the
Playground's count from 1, as their snapshots do). Once the epochs asked for are done the status
says "done" and the first button offers Train again (for that many more); after a Pause it
offers Resume (up to the epochs asked for).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

import ipywidgets

from nnviz_widgets.threads import Throttle
from nnviz_widgets.training import TrainingLoop

__all__ = ["TrainingControls"]

#: Which buttons are enabled in each state of the loop: train, pause, step, stop.
_ENABLED = {
    "idle": (True, False, True, False),
    "running": (False, True, False, True),
    "paused": (True, False, True, True),
    "stopped": (False, False, False, False),
    "failed": (False, False, False, False),
    "closed": (False, False, False, False),
}


class TrainingControls(ipywidgets.VBox):
    """Buttons and progress for a :class:`~nnviz_widgets.TrainingLoop`.

    Parameters
    ----------
    loop : TrainingLoop
        The loop to control; its listener is removed by :meth:`close`.
    epochs : int, optional
        How many epochs "Train" runs before pausing; by default it runs until paused or stopped.
    min_interval : float
        Per-step progress is redrawn at most once per this many seconds.
    """

    def __init__(
        self, loop: TrainingLoop, *, epochs: int | None = None, min_interval: float = 0.2
    ) -> None:
        if not isinstance(loop, TrainingLoop):
            raise TypeError(f"TrainingControls needs a TrainingLoop, got {type(loop).__name__}")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be a positive integer or None, got {epochs!r}")
        self.loop = loop
        self.epochs = epochs
        self.min_interval = min_interval
        self._draw_lock = threading.Lock()
        # per-step progress at most every min_interval; the newest step is always drawn
        self._step_redraw = Throttle(self._draw, min_interval)
        # (description, icon, tooltip, CSS class, action) of each button, in the order shown
        buttons = [
            ("Train", "play", "train in the background", "train", self._train),
            ("Pause", "pause", "pause at the next step", "pause", loop.pause),
            ("Step", "step-forward", "train one epoch", "step", loop.step),
            ("Stop", "stop", "end training", "stop", lambda: loop.stop(wait=False)),
        ]
        (self.train_button, self.pause_button, self.step_button, self.stop_button) = [
            _button(*spec) for spec in buttons
        ]
        self.progress = ipywidgets.IntProgress(
            value=0, min=0, max=1, description="epoch", layout=ipywidgets.Layout(width="220px")
        )
        self.step_progress = ipywidgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="step", layout=ipywidgets.Layout(width="220px")
        )
        self.status = ipywidgets.HTML("")
        self.error = ipywidgets.HTML("")
        self.status.add_class("nnviz-training-status")
        self.error.add_class("nnviz-training-error")
        row = [
            self.train_button,
            self.pause_button,
            self.step_button,
            self.stop_button,
            self.progress,
            self.step_progress,
            self.status,
        ]
        super().__init__(children=[ipywidgets.HBox(row), self.error])
        self.add_class("nnviz-training")
        loop.add_listener(self._on_loop_event)
        self._draw()

    def close(self, *, widget: bool = True) -> None:
        """Stop listening to the loop (the loop itself is not stopped) and close the widget.

        ``widget=False`` leaves the widget on screen as it is now: the explorer closes its
        controls so, since a page may still be building the widget (Voila builds every widget
        after the whole notebook ran: one closed child leaves the page at "Loading widget...").
        """
        # getattr: None when construction failed half-way (close() then runs from __del__)
        loop = getattr(self, "loop", None)
        if loop is not None and getattr(self, "error", None) is not None:
            loop.remove_listener(self._on_loop_event)
            self._step_redraw.close()
            self._draw()  # the loop's last state: a closed loop's buttons are all disabled
        if widget:
            for child in self._widgets():
                child.close()
            super().close()

    def _widgets(self) -> list[ipywidgets.Widget]:
        """The widgets inside (buttons, bars, texts, their row): closed with the controls."""
        row = self.children[0] if self.children else None
        return [*row.children, row, self.error] if row is not None else []

    def _on_loop_event(self, loop: TrainingLoop, event: str) -> None:
        if event == "step":
            self._step_redraw()  # throttled; state changes never are
        else:
            self._draw()

    def _train(self) -> None:
        """The first button: Train ``epochs`` more, or Resume up to the epochs asked for."""
        loop, target = self.loop, self.loop.pause_at
        if _finished(loop) or target is None:
            loop.start(self.epochs)
        else:  # paused on the way: the rest of what was asked for
            loop.start(max(target - loop.epoch, 1))

    def _draw(self) -> None:
        loop = self.loop
        with self._draw_lock, self.hold_sync():
            state, done, target = loop.state, loop.epoch, loop.pause_at
            train, pause, step, stop = _ENABLED[state]
            finished = _finished(loop)
            self.train_button.disabled = not train
            self.train_button.description = (
                "Resume" if state == "paused" and not finished else "Train"
            )
            self.pause_button.disabled = not pause
            self.step_button.disabled = not step
            self.stop_button.disabled = not stop
            goal = target if target is not None and target > done else done + 1
            if finished or state in ("stopped", "failed", "closed"):
                goal = max(done, 1)
            self.progress.max = max(goal, 1)
            self.progress.value = done
            self.progress.description = f"epoch {done}"
            per_epoch = loop.steps_per_epoch
            self.step_progress.layout.visibility = "visible" if per_epoch else "hidden"
            if per_epoch:
                self.step_progress.value = min(loop.step_in_epoch / per_epoch, 1.0)
                self.step_progress.description = f"step {loop.step_in_epoch}/{per_epoch}"
            self.status.value = f"<span>{html.escape(_status(loop, finished))}</span>"
            if state == "failed" and loop.traceback:
                self.error.value = (
                    "<details open><summary style='color:var(--jp-error-color1, #b00020)'>"
                    f"{html.escape(type(loop.error).__name__)}: {html.escape(str(loop.error))}"
                    " (every snapshot taken so far is kept)</summary>"
                    f"<pre style='font-size:11px'>{html.escape(loop.traceback)}</pre></details>"
                )


def _finished(loop: TrainingLoop) -> bool:
    """Whether the loop is paused because the epochs asked for are done."""
    target = loop.pause_at
    return loop.state == "paused" and target is not None and loop.epoch >= target


def _status(loop: TrainingLoop, finished: bool) -> str:
    """The status line: what the loop does, its epochs named as ``train_epoch`` gets them."""
    done, state = loop.epoch, loop.state
    if finished:
        return f"done: {done} epoch(s) trained"
    return {
        "idle": "ready to train",
        "running": f"training epoch {loop.next_epoch}",
        "paused": f"paused after {done} epoch(s)",
        "stopped": f"stopped after {done} epoch(s)",
        "failed": f"failed in epoch {loop.failed_epoch}: training stopped",
        "closed": f"closed after {done} epoch(s)",
    }[state]


def _button(
    description: str, icon: str, tooltip: str, name: str, action: Callable[[], object]
) -> ipywidgets.Button:
    button = ipywidgets.Button(
        description=description,
        icon=icon,
        tooltip=tooltip,
        layout=ipywidgets.Layout(width="auto"),
    )
    button.add_class(f"nnviz-{name}")
    button.on_click(lambda _: action())
    return button
