"""Who may use the model now: one snapshot at a time, and never beside a training step.

A snapshot reads the parameters and runs the probe pass (forward and backward, the model in
eval mode, hooks on its layers). Two snapshots at once would save each other's eval mode as the
mode to restore, and catch each other's calls as activations; a training step in another thread
would run in the probe's eval mode, and its optimizer would change the weights under the probe's
backward pass. :class:`ModelTurns` keeps them apart (``docs/recorder.md``, "Threads"):

- A lock serializes snapshots: a second ``snapshot()`` waits for the first to end.
- A thread that trains the model says so (``Recorder.begin_training()``; the explorer's training
  loop does it). While it trains, a snapshot from another thread waits until that thread ends an
  optimizer step: there, in the Recorder's post-step hook, the training thread waits while the
  snapshot runs (between two steps, with the step's gradients in place). When it stops training
  (``Recorder.end_training()``, or the thread ends), snapshots run at once again, and
  ``begin_training()`` waits for a snapshot in progress before training resumes.

The training thread pays one attribute read per step for this.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["ModelTurns"]

#: Seconds between two looks at whether a training thread that never reached a step boundary
#: has ended (a backstop: a thread that ends normally says so with end_training()).
_BACKSTOP = 1.0


class ModelTurns:
    """Turns on the model between snapshots (any thread) and a training thread.

    Notes
    -----
    Lock order: a ``TrainingLoop``'s condition (its listeners call :meth:`end_training`) comes
    before this lock, which comes before everything a snapshot takes (a widget's lock through
    the Recording's listeners, the Recording's lock, the step statistics' lock).
    """

    def __init__(self) -> None:
        # held for the whole of a snapshot, and guards the two fields below; re-entrant: a
        # Recording listener may take a snapshot from inside one
        self._condition = threading.Condition(threading.RLock())
        self._trainer: threading.Thread | None = None  # the thread that said it trains
        self._waiting = 0  # snapshots from other threads waiting for the trainer
        self._depth = 0  # snapshots in progress in the holding thread (a listener's nests)
        self._closed = False

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Hold the model for one snapshot: after any other snapshot, and while the training
        thread (if another) waits between two steps or has stopped training."""
        current = threading.current_thread()
        with self._condition:
            self._waiting += 1
            try:
                while not self._closed and self._busy(current):
                    self._condition.wait(_BACKSTOP)
            finally:
                self._waiting -= 1
                self._condition.notify_all()
            self._depth += 1
            try:
                yield  # the lock stays held: the trainer resumes when the snapshot is done
            finally:
                self._depth -= 1

    def _busy(self, current: threading.Thread) -> bool:
        trainer = self._trainer
        return trainer is not None and trainer is not current and trainer.is_alive()

    def begin_training(self) -> None:
        """The calling thread trains the model from now on (waits for a snapshot in progress)."""
        current = threading.current_thread()
        if self._trainer is current:  # said already (only this thread sets itself)
            return
        with self._condition:
            self._trainer = current

    def end_training(self) -> None:
        """The calling thread stopped training; from another thread this does nothing."""
        with self._condition:
            if self._trainer is threading.current_thread():
                self._trainer = None
                self._condition.notify_all()

    def between_steps(self) -> None:
        """The training thread ended an optimizer step: let waiting snapshots run, then go on.

        Costs one attribute read when no snapshot waits (read without the lock: a snapshot
        that starts waiting just now is served at the next step).
        """
        if not self._waiting:
            return
        current = threading.current_thread()
        with self._condition:
            if self._trainer is not current or self._depth:  # not from inside a snapshot
                return
            self._trainer = None
            self._condition.notify_all()
            self._condition.wait_for(lambda: not self._waiting or self._closed)
            if not self._closed:
                self._trainer = current

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        """Hold the model to close the Recorder: after a snapshot in progress; waiting
        snapshots then find it closed."""
        with self._condition:
            self._closed = True
            self._trainer = None
            self._condition.notify_all()
            yield
