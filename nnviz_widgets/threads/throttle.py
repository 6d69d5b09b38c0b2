"""At most once per interval, and the last call is never lost.

Training asks for a redraw after every step or snapshot, from its own thread; drawing that often
costs training time and floods the browser (bqplot #1600: memory grows under continuous updates).
A :class:`Throttle` runs its action at once when it has been quiet for an interval, and
otherwise once at the end of the interval, so the newest state always gets drawn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Run ``action()`` at most once per ``interval`` seconds; a call in between is deferred.

    A call after a quiet interval runs the action at once, in the calling thread. A call
    within the interval makes sure one run happens at its end, in a timer thread (several such
    calls make one run). The action runs outside the throttle's lock.

    Parameters
    ----------
    action : callable
        What to run; it should catch its own failures (one raised in a timer thread is lost).
    interval : float
        Seconds between the starts of two runs.
    """

    def __init__(self, action: Callable[[], object], interval: float) -> None:
        if not interval >= 0:
            raise ValueError(f"interval must be a number of seconds >= 0, got {interval!r}")
        self.interval = float(interval)
        self._action = action
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._running: threading.Thread | None = None  # a timer thread running the action
        self._last = -float("inf")
        self._closed = False

    @property
    def pending(self) -> bool:
        """Whether a deferred run is waiting for its time."""
        with self._lock:
            return self._timer is not None

    def __call__(self) -> None:
        """Ask for a run: now if the interval has passed, else at its end."""
        with self._lock:
            if self._closed or self._timer is not None:
                return  # a run is already due; it will see whatever this call was about
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                self._schedule(wait)
                return
            self._last = time.monotonic()
        self._action()

    def defer(self, delay: float) -> None:
        """Ask for a run ``delay`` seconds from now (or with the one already due)."""
        with self._lock:
            if not self._closed and self._timer is None:
                self._schedule(delay)

    def flush(self) -> None:
        """Run a deferred run now, in this thread; nothing when none is due."""
        with self._lock:
            timer, self._timer = self._timer, None
            if timer is None or self._closed:
                return
            timer.cancel()
            self._last = time.monotonic()
        self._action()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no deferred run is due or running; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._timer or self._running
            if thread is None or thread is threading.current_thread():
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            thread.join(left)

    def close(self) -> None:
        """Cancel a deferred run; later calls do nothing."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _schedule(self, wait: float) -> None:
        # called with the lock held
        timer = threading.Timer(wait, self._fire)
        timer.daemon = True
        timer.name = "nnviz-throttle"
        self._timer = timer
        timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._timer is not threading.current_thread() or self._closed:
                return  # flushed or cancelled meanwhile
            self._timer = None
            self._running = threading.current_thread()
            self._last = time.monotonic()
        try:
            self._action()
        finally:
            with self._lock:
                self._running = None
