"""Training in a background thread, with play, pause, step and stop.

A Jupyter kernel handles browser messages (slider moves, clicks) on its main thread, so a training
loop running in a cell freezes every widget until it ends. :class:`TrainingLoop` runs the user's
``train_epoch(epoch)`` in a daemon thread instead, and keeps the main thread free.

Pausing and stopping act at step boundaries: the loop puts a post-step hook on the optimizer
(when it is given one) that waits there while paused and ends the epoch early on stop. The hook
never touches a tensor, so training results are unchanged. Without an optimizer, both act at the
next epoch boundary.

Epochs are numbered by ``first_epoch``: the explorer and the Playground pass 1, so that the
number ``train_epoch`` receives is the label of the snapshot that ends that epoch. Closing never
waits long for an epoch that does not end (:data:`CLOSE_WAIT`).

Nothing here imports a widget library: widgets observe a loop through :meth:`add_listener`.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import signal
import threading
import traceback
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from nnviz_widgets.threads import Listeners, start_daemon

__all__ = ["CLOSE_WAIT", "TrainingLoop", "checked_metrics"]

STATES = ("idle", "running", "paused", "stopped", "failed", "closed")
#: Seconds :meth:`TrainingLoop.close` waits for the training thread to reach its next optimizer
#: step (or the end of its epoch); past that it returns and the thread ends there by itself.
CLOSE_WAIT = 1.0

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
        ``first_epoch``) and returns its metrics, e.g. ``{"loss": 0.3}``: each a single
        number (a Python or numpy number, a 0-d array or tensor), passed on as a float.
    optimizer : torch.optim.Optimizer, optional
        When given, pause and stop take effect at the next optimizer step instead of the next
        epoch, and :attr:`step_in_epoch` counts steps.
    on_epoch : callable, optional
        ``on_epoch(epoch, metrics)``, called in the training thread after each epoch (e.g. to
        take a Recorder snapshot). An exception in it fails the loop like one in
        ``train_epoch``.
    first_epoch : int
        The number given to the first epoch (0 by default; the explorer and the Playground
        pass 1, the label of the snapshot taken after it).

    Notes
    -----
    States: ``"idle"`` (never started), ``"running"``, ``"paused"`` (by :meth:`pause`, or
    because the epochs asked for are done: see :attr:`pause_at`), ``"stopped"`` (by
    :meth:`stop` or a kernel interrupt), ``"failed"`` (``train_epoch`` or ``on_epoch`` raised:
    see :attr:`error`, :attr:`traceback` and :attr:`failed_epoch`), ``"closed"``. A stopped or
    failed loop cannot be restarted; make a new one, the Recording keeps every snapshot taken so
    far.
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
        self.failed_epoch: int | None = None
        """The number of the epoch that failed (its ``train_epoch`` or its ``on_epoch``)."""
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
    def pause_at(self) -> int | None:
        """The count of epochs done at which the loop pauses by itself (None: no limit), as
        :meth:`start` and :meth:`step` set it."""
        return self._target

    @property
    def alive(self) -> bool:
        """Whether the training thread is running (it may be paused)."""
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        return f"TrainingLoop({self._state}, {self._epochs_done} epochs done)"

    def add_listener(self, callback: Callable[[TrainingLoop, str], None]) -> None:
        """Call ``callback(loop, event)`` on each state change (``event`` = ``"state"``), after
        each epoch (``"epoch"``), every optimizer step (``"step"``) where an optimizer is known,
        and once the training thread has ended (``"ended"``: nothing of the loop's runs after).

        It runs in the training thread (state changes also in the thread that asked for them);
        an exception in it becomes a warning.
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
                    f"the training thread did not end within {timeout:g} s; it will stop at its "
                    "next step or epoch boundary",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop is not running (paused, stopped, failed); True if it is not."""
        with self._condition:
            return self._condition.wait_for(lambda: self._state != "running", timeout)

    def close(self) -> None:
        """Stop training and remove the optimizer hook; safe to call more than once.

        Waits at most :data:`CLOSE_WAIT` seconds for the epoch in progress to reach its next
        optimizer step (without an optimizer: its end), then warns and returns: that epoch
        ends there by itself, in its own thread, neither counted nor reported (``on_epoch``).
        """
        if self._state == "closed":
            return
        self.stop(CLOSE_WAIT)
        with self._condition:
            self._set_state("closed")
            running = self.alive
        if not running:  # else the thread removes the hook as it ends: it still stops there
            self._remove_hook()

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
        epoch = self.next_epoch
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
                metrics = checked_metrics(self._train_epoch(epoch))
                with self._condition:
                    if self._state == "closed":  # closed meanwhile: its owner let go of it all
                        break
                    self._epochs_done += 1
                    if self.step_in_epoch:
                        self.steps_per_epoch = self.step_in_epoch
                if self._on_epoch is not None:
                    self._on_epoch(epoch, metrics)
                self._emit("epoch")
        except _StopTraining:
            pass
        except BaseException as error:  # anything from user code fails the loop, in words
            with self._condition:
                self.error = error
                self.traceback = "".join(traceback.format_exception(error))
                self.failed_epoch = epoch
                if self._state != "closed":
                    self._set_state("failed")
        finally:
            _running_loops.discard(self)
            # a loop that ended cannot restart: its optimizer hook has nothing left to do
            self._remove_hook()
        with self._condition:
            if self._state not in ("closed", "failed"):
                self._set_state("stopped")
        self._emit("ended")

    def _remove_hook(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            hook.remove()

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


def checked_metrics(metrics: object) -> dict[str, float]:
    """``train_epoch``'s return value as ``{name: float}``, or TypeError saying what is wrong.

    None is no metrics. Each value must be one number: a Python or numpy number, or an array or
    tensor of one element (``.item()`` is not needed); a bool, a string or several numbers are
    refused, naming the metric.
    """
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"train_epoch must return a dict of metrics or None, got {type(metrics).__name__}"
        )
    checked = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"train_epoch returned a metric named {name!r}: names must be strings")
        checked[name] = _one_number(name, value)
    return checked


def _one_number(name: str, value: object) -> float:
    """``value`` as a float, if it is one number (see :func:`checked_metrics`)."""
    shape = getattr(value, "shape", None)  # numpy arrays and scalars, torch tensors
    if shape is not None and not isinstance(value, bool):
        if math.prod(shape) != 1:
            raise TypeError(
                f"train_epoch returned metric {name!r} as an array of shape {tuple(shape)}: "
                "a metric must be a single number"
            )
        value = value.item() if hasattr(value, "item") else value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"train_epoch returned metric {name!r} = {value!r} "
            f"({type(value).__name__}): a metric must be a single number"
        )
    return float(value)


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
