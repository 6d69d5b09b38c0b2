"""Results computed on demand in a background thread, cached per key, with their progress.

The panels that show what units want and adversarial examples ask for a result when the
selection moves; the asking never waits (a scrub stays live), the work runs in one
``nnviz-<name>`` worker thread, and a job whose key is no longer the one wanted when its turn
comes is skipped (scrubbing past ten snapshots computes one, not ten). Locks:
``docs/architecture.md`` ("Threads").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from nnviz_widgets.threads import Worker

__all__ = ["OnDemand"]


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

    def close(self) -> None:
        """Drop the queued jobs and end the worker after the running one (without waiting)."""
        self._worker.close(wait=False, cancel_pending=True)

    def _run(self, key: Hashable) -> None:
        with self._lock:
            if key != self._wanted:  # scrubbed past: asked again when shown again
                self._pending.discard(key)
                return
        try:
            outcome = ("ready", self._compute(key, lambda f: self._progressed(key, f)))
        except Exception as error:  # shown in the panel, in words
            outcome = ("failed", f"{type(error).__name__}: {error}")
        with self._lock:
            self._results[key] = outcome
            self._pending.discard(key)
            self._progress.pop(key, None)
        self._on_change(key)

    def _progressed(self, key: Hashable, fraction: float) -> None:
        with self._lock:
            self._progress[key] = float(fraction)
        self._on_change(key)
