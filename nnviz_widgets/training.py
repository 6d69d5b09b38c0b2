"""Training in a background thread, with play, pause, step and stop.

A Jupyter kernel handles browser messages (slider moves, clicks) on its main thread, so a training
loop running in a cell freezes every widget until it ends. :class:`TrainingLoop` runs the user's
``train_epoch(epoch)`` in a daemon thread instead, and keeps the main thread free.

Pausing and stopping act at step boundaries: the loop puts a post-step hook on the optimizer
(when it is given one) that waits there while paused and ends the epoch early on stop. The hook
never touches a tensor, so training results are unchanged. Without an optimizer, both act at the
next epoch boundary.

Nothing here imports a widget library: widgets observe a loop through :meth:`add_listener`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import traceback
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from nnviz_widgets.threads import Listeners, start_daemon

__all__ = ["TrainingLoop"]

STATES = ("idle", "running", "paused", "stopped", "failed", "closed")

_running_loops: weakref.WeakSet[TrainingLoop] = weakref.WeakSet()


class _StopTraining(BaseException):
    """Raised inside the training thread, from the optimizer hook, to end an epoch on stop.

    A BaseException, so that a user's ``except Exception`` in their epoch does not swallow it.
    """


class TrainingLoop:
    """Run ``train_epoch(epoch)`` epoch after epoch in a background thread.

    Parameters
    ----------
    train_epoch : callable
        ``train_epoch(epoch) -> dict | None``: trains one epoch (``epoch`` counts from
        ``first_epoch``) and returns its metrics, e.g. ``{"loss": 0.3}``.
    optimizer : torch.optim.Optimizer, optional
        When given, pause and stop take effect at the next optimizer step instead of the next
        epoch, and :attr:`step_in_epoch` counts steps.
    on_epoch : callable, optional
        ``on_epoch(epoch, metrics)``, called in the training thread after each epoch (e.g. to
        take a Recorder snapshot). An exception in it fails the loop like one in
        ``train_epoch``.
    first_epoch : int
        The number given to the first epoch.

    Notes
    -----
    States: ``"idle"`` (never started), ``"running"``, ``"paused"``, ``"stopped"`` (by
    :meth:`stop` or a kernel interrupt), ``"failed"`` (``train_epoch`` raised: see
    :attr:`error` and :attr:`traceback`), ``"closed"``. A stopped or failed loop cannot be
    restarted; make a new one, the Recording keeps every snapshot taken so far.
    """

    def __init__(
        self,
        train_epoch: Callable[[int], Mapping[str, float] | None],
        *,
        optimizer: Any = None,
        on_epoch: Callable[[int, Mapping[str, float]], None] | None = None,
        first_epoch: int = 0,
    ) -> None:
        if not callable(train_epoch):
            raise TypeError(
                "train_epoch must be a function train_epoch(epoch) -> metrics, got "
                f"{type(train_epoch).__name__}"
            )
        if on_epoch is not None and not callable(on_epoch):
            raise TypeError(f"on_epoch must be callable, got {type(on_epoch).__name__}")
        if optimizer is not None and not hasattr(optimizer, "register_step_post_hook"):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if not isinstance(first_epoch, int):
            raise TypeError(f"first_epoch must be an integer, got {first_epoch!r}")
        self._train_epoch = train_epoch
        self._on_epoch = on_epoch
        self._condition = threading.Condition(threading.RLock())
        self._state = "idle"
        self._first_epoch = first_epoch
        self._epochs_done = 0
        self._target: int | None = None  # pause once this many epochs are done
        self._pause_requested = False
        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._listeners = Listeners("a training-loop listener")
        self.error: BaseException | None = None
        """The exception that failed the loop, if any."""
        self.traceback: str | None = None
        """The failing exception's traceback, as text."""
        self.step_in_epoch = 0
        """Optimizer steps done in the current epoch (0 without an optimizer)."""
        self.steps_per_epoch: int | None = None
        """Steps the previous complete epoch took, once known."""
        self._hook = None
        if optimizer is not None:
            ref = weakref.ref(self)

            def after_step(*args: object) -> None:
                loop = ref()
                if loop is not None:
                    loop._at_step_boundary()
                return None  # a hook's return value would replace the optimizer's arguments

            self._hook = optimizer.register_step_post_hook(after_step)

    # ------------------------------------------------------------------ reading
    @property
    def state(self) -> str:
        """``"idle"``, ``"running"``, ``"paused"``, ``"stopped"``, ``"failed"`` or ``"closed"``."""
        return self._state

    @property
    def epoch(self) -> int:
        """The number of epochs completed."""
        return self._epochs_done

    @property
    def next_epoch(self) -> int:
        """The number ``train_epoch`` will be given next."""
        return self._first_epoch + self._epochs_done

    @property
    def alive(self) -> bool:
        """Whether the training thread is running (it may be paused)."""
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        return f"TrainingLoop({self._state}, {self._epochs_done} epochs done)"

    def add_listener(self, callback: Callable[[TrainingLoop, str], None]) -> None:
        """Call ``callback(loop, event)`` on each state change (``event`` = ``"state"``) and after
        each epoch (``"epoch"``), and every optimizer step (``"step"``) where an optimizer is known.

        It runs in the training thread; an exception in it becomes a warning.
        """
        self._listeners.add(callback)

    def remove_listener(self, callback: Callable[[TrainingLoop, str], None]) -> None:
        """Stop calling ``callback``."""
        self._listeners.remove(callback)

    # ------------------------------------------------------------------ controlling
    def start(self, epochs: int | None = None) -> None:
        """Train (or resume): ``epochs`` more epochs then pause, or until paused or stopped."""
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be a positive integer or None, got {epochs!r}")
        with self._condition:
            self._check_usable()
            self._target = None if epochs is None else self._epochs_done + epochs
            self._pause_requested = False
            self._launch()

    def resume(self) -> None:
        """Continue after a pause, with no epoch limit."""
        self.start()

    def step(self) -> None:
        """Train exactly one epoch, then pause (from a pause mid-epoch: finish that epoch)."""
        with self._condition:
            self._check_usable()
            self._target = self._epochs_done + 1
            self._pause_requested = False
            self._launch()

    def pause(self) -> None:
        """Pause at the next step boundary (or epoch boundary without an optimizer)."""
        with self._condition:
            if self._state == "running":
                self._pause_requested = True

    def stop(self, timeout: float | None = 30.0, *, wait: bool = True) -> None:
        """End training cleanly (the current epoch ends at its next step).

        Parameters
        ----------
        timeout : float or None
            Seconds to wait for the thread to end (None: as long as it takes).
        wait : bool
            Wait at all; a button in a notebook passes False so the kernel stays free.
        """
        with self._condition:
            self._stop_requested = True
            self._condition.notify_all()
            thread = self._thread
            if thread is None and self._state in ("idle", "paused"):
                self._set_state("stopped")
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                warnings.warn(
                    f"the training thread did not end within {timeout} s; it will stop at its "
                    "next step or epoch boundary",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop is not running (paused, stopped, failed); True if it is not."""
        with self._condition:
            return self._condition.wait_for(lambda: self._state != "running", timeout)

    def close(self) -> None:
        """Stop training and remove the optimizer hook; safe to call more than once."""
        if self._state != "closed":
            self.stop()
        hook, self._hook = self._hook, None
        if hook is not None:
            hook.remove()
        with self._condition:
            self._set_state("closed")

    # ------------------------------------------------------------------ the thread
    def _launch(self) -> None:
        if self._thread is None:
            _install_sigint_handler()
            self._set_state("running")
            _running_loops.add(self)
            self._thread = start_daemon(self._run, "training")
        else:
            self._set_state("running")
            self._condition.notify_all()

    def _check_usable(self) -> None:
        if self._state in ("stopped", "failed", "closed"):
            raise RuntimeError(
                f"this training loop is {self._state} and cannot be restarted; make a new one "
                "(the recording keeps every snapshot taken so far)"
            )

    def _should_wait(self) -> bool:
        at_target = self._target is not None and self._epochs_done >= self._target
        return (self._pause_requested or at_target) and not self._stop_requested

    def _run(self) -> None:
        try:
            while True:
                with self._condition:
                    while self._should_wait():
                        self._set_state("paused")
                        self._condition.wait()
                    if self._stop_requested:
                        break
                    self._set_state("running")
                    epoch = self.next_epoch
                    self.step_in_epoch = 0
                metrics = self._train_epoch(epoch) or {}
                if not isinstance(metrics, Mapping):
                    raise TypeError(
                        "train_epoch must return a dict of metrics or None, got "
                        f"{type(metrics).__name__}"
                    )
                with self._condition:
                    self._epochs_done += 1
                    if self.step_in_epoch:
                        self.steps_per_epoch = self.step_in_epoch
                if self._on_epoch is not None:
                    self._on_epoch(epoch, dict(metrics))
                self._emit("epoch")
        except _StopTraining:
            pass
        except BaseException as error:  # anything from user code fails the loop, in words
            with self._condition:
                self.error = error
                self.traceback = "".join(traceback.format_exception(error))
                self._set_state("failed")
            return
        finally:
            _running_loops.discard(self)
            # a loop that ended cannot restart: its optimizer hook has nothing left to do
            hook, self._hook = self._hook, None
            if hook is not None:
                hook.remove()
        with self._condition:
            if self._state != "closed":
                self._set_state("stopped")

    def _at_step_boundary(self) -> None:
        if threading.current_thread() is not self._thread:
            return  # an optimizer step outside the loop (e.g. in a cell) is not ours to pause
        with self._condition:
            self.step_in_epoch += 1
            while self._pause_requested and not self._stop_requested:
                self._set_state("paused")
                self._condition.wait()
            if self._stop_requested:
                raise _StopTraining
            self._set_state("running")
        self._emit("step")

    def _set_state(self, state: str) -> None:
        # called with the condition held
        if state != self._state:
            self._state = state
            self._condition.notify_all()
            self._emit("state")

    def _emit(self, event: str) -> None:
        self._listeners.emit(self, event)


def _install_sigint_handler() -> None:
    """Make a kernel interrupt (SIGINT) stop background training too, then act as before.

    Checked at each start, not once: another library may have put its own handler in since;
    ours then goes in front of it.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGINT)
    if getattr(current, "_nnviz_stops_training", False):
        return

    def on_interrupt(signum: int, frame: object) -> None:
        for loop in list(_running_loops):
            with loop._condition:
                loop._stop_requested = True
                loop._condition.notify_all()
        if callable(current):
            current(signum, frame)
        elif current == signal.SIG_DFL:
            raise KeyboardInterrupt

    on_interrupt._nnviz_stops_training = True
    # not allowed here (an embedded interpreter): interrupts stay as they are
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, on_interrupt)
