"""Callbacks called from the thread that reports, whose failures never reach that thread.

A Recording calls its listeners from the thread that appends a snapshot, a TrainingLoop from its
training thread: an exception in a view's callback must not stop training. It becomes a warning,
and a warning that cannot become an exception even where warnings are turned into errors.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable

__all__ = ["Listeners", "warn_quietly"]


def warn_quietly(
    message: str, category: type[Warning] = RuntimeWarning, *, stacklevel: int = 3
) -> None:
    """Warn; where warnings are turned into errors, say nothing rather than raise."""
    with contextlib.suppress(Exception):
        warnings.warn(message, category, stacklevel=stacklevel)


class Listeners:
    """A list of callbacks, safe to change from one thread while another calls them.

    Parameters
    ----------
    what : str
        What the callbacks listen to, for messages ("a Recording listener").
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._callbacks: list[Callable[..., object]] = []

    def add(self, callback: Callable[..., object]) -> None:
        """Call ``callback`` on each :meth:`emit` from now on."""
        if not callable(callback):
            raise TypeError(f"a listener must be callable, got {type(callback).__name__}")
        with self._lock:
            self._callbacks.append(callback)

    def remove(self, callback: Callable[..., object]) -> None:
        """Stop calling ``callback``; removing one that is not there does nothing."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def emit(self, *args: object) -> None:
        """Call every callback with ``args``, in this thread; a failure becomes a warning."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(*args)
            except Exception as error:  # a view must never break training
                warn_quietly(
                    f"{self._what} ({callback!r}) failed and was ignored: "
                    f"{type(error).__name__}: {error}",
                    stacklevel=4,
                )

    def __len__(self) -> int:
        with self._lock:
            return len(self._callbacks)
