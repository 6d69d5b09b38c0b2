"""A throttle whose action runs in a thread of its own: the asking thread only marks a run due.

Training asks for a redraw from its own thread after every snapshot; drawing there costs
training time (a view with a thousand snapshots to lay out takes a tenth of a second), and
the recorder must be invisible. A :class:`ThrottledWorker` coalesces: asking marks one run due
(however often it is asked, at most one run waits), and its thread runs the action at most
once per interval, reading the newest state when it starts, so the last request is never lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from nnviz_widgets.threads.background import start_daemon, stop_at_exit
from nnviz_widgets.threads.listeners import warn_quietly

__all__ = ["ThrottledWorker"]

#: How long :meth:`ThrottledWorker.close` waits for a running action, at most (seconds).
CLOSE_WAIT = 2.0


class ThrottledWorker:
    """Run ``action()`` in the daemon thread ``nnviz-<name>``, at most once per ``interval``.

    Calling the object returns at once: it marks a run due. A run due after a quiet interval
    starts at once; otherwise at the end of the interval (counted between the starts of two
    runs). Calls while a run is due make no second run; a call while the action runs makes one
    more run after it, so the action always sees the state of the newest call.

    Parameters
    ----------
    action : callable
        What to run; an exception it raises goes to ``on_error(error)`` (a warning by default)
        and the thread goes on.
    interval : float
        Seconds between the starts of two runs (0: as soon as the last one ended).
    name : str
        The thread's name (after ``nnviz-``).
    on_error : callable, optional
        Called in the thread with the exception of a failed run.
    """

    def __init__(
        self,
        action: Callable[[], object],
        interval: float,
        name: str,
        *,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        if not interval >= 0:
            raise ValueError(f"interval must be a number of seconds >= 0, got {interval!r}")
        self.interval = float(interval)
        self.name = name
        self._action = action
        self._on_error = on_error
        # guards the four fields below; the thread waits on it; never held while the action runs
        self._condition = threading.Condition()
        self._due = False  # a run was asked for and has not started
        self._not_before = -float("inf")  # a deferred run starts no earlier than this
        self._last = -float("inf")  # when the last run started
        self._running = False
        self._closed = False
        self._thread = start_daemon(self._run, name)
        stop_at_exit(self._stop_for_exit, self._thread)

    @property
    def alive(self) -> bool:
        """Whether the thread still takes requests."""
        return self._thread.is_alive() and not self._closed

    @property
    def pending(self) -> bool:
        """Whether a run is due or running."""
        with self._condition:
            return self._due or self._running

    def __call__(self) -> None:
        """Ask for a run (returns at once; nothing once closed)."""
        with self._condition:
            if not self._closed:
                self._due = True
                self._condition.notify_all()

    def defer(self, delay: float) -> None:
        """Ask for a run no sooner than ``delay`` seconds from now (the action may call it to
        try again later)."""
        with self._condition:
            if not self._closed:
                self._due = True
                self._not_before = max(self._not_before, time.monotonic() + delay)
                self._condition.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Start a run that is due now, without waiting for its interval, and wait until it
        has run; False on timeout."""
        with self._condition:
            self._last = self._not_before = -float("inf")
            self._condition.notify_all()
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run is due or running (an interval still to pass included); False on
        timeout, and at once from the action itself or once closed with a run left undone."""
        if threading.current_thread() is self._thread:
            return not self._due
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._due or self._running:
                if self._closed and not self._running:
                    return False  # closed: the run due never comes
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._condition.wait(left)
            return True

    def close(self, *, wait: bool = True) -> bool:
        """Drop a run that is due and end the thread after the running one; with ``wait``,
        join it (at most :data:`CLOSE_WAIT` seconds; not from the action itself). Returns
        whether the thread has ended. Calling it again does nothing more."""
        with self._condition:
            self._closed = True
            self._due = False
            self._condition.notify_all()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(CLOSE_WAIT)
        return not self._thread.is_alive()

    def _stop_for_exit(self) -> None:
        self.close(wait=False)

    def _run(self) -> None:
        while self._next_run():
            try:
                self._action()
            except Exception as error:  # the thread outlives a failed run
                self._report(error)
            finally:
                with self._condition:
                    self._running = False
                    self._condition.notify_all()

    def _next_run(self) -> bool:
        """Wait until a run is due and its time has come; False once closed."""
        with self._condition:
            while True:
                if self._closed:
                    return False
                if self._due:
                    start = max(self._last + self.interval, self._not_before)
                    wait = start - time.monotonic()
                    if wait <= 0:
                        self._due, self._running = False, True
                        self._last, self._not_before = time.monotonic(), -float("inf")
                        return True
                    self._condition.wait(wait)
                else:
                    self._condition.wait()

    def _report(self, error: Exception) -> None:
        if self._on_error is None:
            warn_quietly(f"{self.name} failed: {type(error).__name__}: {error}")
            return
        try:
            self._on_error(error)
        except Exception as second:  # reporting must not end the thread either
            warn_quietly(f"{self.name} failed to report a failure: {second!r}")
