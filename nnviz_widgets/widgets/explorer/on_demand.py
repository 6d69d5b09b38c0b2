"""Results computed on demand in a background thread, cached per key, with their progress.

The panels that show what units want and adversarial examples ask for a result when the
selection moves; the asking never waits (a scrub stays live), the work runs in one
``nnviz-<name>`` worker thread, and a job whose key is no longer the one wanted when its turn
comes is skipped (scrubbing past ten snapshots computes one, not ten). Once closed (by the
panel's ``close()``, or by the interpreter's exit through the threads toolkit), a computation
that reports progress stops at its next report: a torch computation must not be running in a
daemon thread while the interpreter tears torch down. Locks: ``docs/architecture.md``
("Threads").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from nnviz_widgets.threads import Worker

__all__ = ["Cancelled", "OnDemand", "close_with"]


class Cancelled(Exception):
    """Raised from a progress report once the results are closed: the computation stops."""


def close_with(explorer: Any, close: Callable[[], object]) -> None:
    """Call ``close()`` when ``explorer`` closes, where it says when (``on_close``): a panel
    built on an explorer stops its thread with it."""
    on_close = getattr(explorer, "on_close", None)
    if callable(on_close):
        on_close(close)


class OnDemand:
    """A cache of ``compute(key, progress)`` results, filled in the background.

    Parameters
    ----------
    compute : callable
        ``compute(key, progress)`` returns the result; it may call ``progress(fraction)``.
    on_change : callable
        ``on_change(key)``, called in the worker thread after the key's progress or result
        changed (a failure is stored as its message).
    name : str
        The worker thread's name (after ``nnviz-``).
    """

    def __init__(
        self,
        compute: Callable[[Hashable, Callable[[float], None]], Any],
        on_change: Callable[[Hashable], None],
        name: str,
    ) -> None:
        self._compute = compute
        self._on_change = on_change
        # guards the four fields below; never held while computing or calling on_change
        self._lock = threading.Lock()
        self._results: dict[Hashable, tuple[str, Any]] = {}
        self._progress: dict[Hashable, float] = {}
        self._pending: set[Hashable] = set()
        self._wanted: Hashable | None = None
        self._worker = Worker(name)

    def request(self, key: Hashable) -> tuple[str, Any]:
        """``("ready", result)``, ``("failed", message)`` or ``("computing", fraction)``; a key
        neither held nor queued is queued. Returns at once."""
        with self._lock:
            self._wanted = key
            if key in self._results:
                return self._results[key]
            fraction = self._progress.get(key, 0.0)
            if key in self._pending:
                return ("computing", fraction)
            self._pending.add(key)
        if not self._worker.submit(lambda: self._run(key)):
            with self._lock:
                self._pending.discard(key)
            return ("failed", "closed: nothing more is computed")
        return ("computing", fraction)

    def close(self, *, wait: bool = False) -> None:
        """Drop the queued jobs and stop the running one at its next progress report; with
        ``wait``, wait until it has stopped."""
        self._worker.close(wait=wait, cancel_pending=True)

    def _run(self, key: Hashable) -> None:
        with self._lock:
            if key != self._wanted or self._worker.closed:  # scrubbed past, or closed
                self._pending.discard(key)
                return
        try:
            outcome = ("ready", self._compute(key, lambda f: self._progressed(key, f)))
        except Cancelled:  # closed meanwhile: nothing to keep or show
            with self._lock:
                self._pending.discard(key)
                self._progress.pop(key, None)
            return
        except Exception as error:  # shown in the panel, in words
            outcome = ("failed", f"{type(error).__name__}: {error}")
        with self._lock:
            self._results[key] = outcome
            self._pending.discard(key)
            self._progress.pop(key, None)
        self._on_change(key)

    def _progressed(self, key: Hashable, fraction: float) -> None:
        if self._worker.closed:
            raise Cancelled("closed: the computation stops here")
        with self._lock:
            self._progress[key] = float(fraction)
        self._on_change(key)
