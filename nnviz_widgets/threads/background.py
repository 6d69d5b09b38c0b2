"""Daemon threads: one that runs queued jobs in order, one that repeats a job; their stop at exit.

A daemon, because a thread of ours must never keep a kernel or a training script from exiting;
each one has a name starting with ``nnviz-`` so that it can be told apart in a debugger.

A daemon thread still inside torch when the interpreter exits aborts the process ("terminate
called without an active exception": torch's C++ threads are torn down under it). So every
thread here is registered with :func:`stop_at_exit`: at exit (``atexit``, which runs before the
interpreter tears anything down) each is told to stop, queued work is dropped, and the threads
are joined for up to :data:`EXIT_WAIT` seconds; a long job stops early by checking
:attr:`Worker.closed` (``docs/architecture.md``, "Threads").
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
import time
import weakref
from collections.abc import Callable

from nnviz_widgets.threads.listeners import warn_quietly

__all__ = ["EXIT_WAIT", "Repeater", "Worker", "start_daemon", "stop_at_exit"]

#: Seconds the interpreter's exit waits, at most, for our threads to end.
EXIT_WAIT = 3.0

# thread -> its owner's stop method (weakly: an owner that is gone has nothing left to stop);
# guarded by its lock, a leaf
_AT_EXIT: dict[threading.Thread, weakref.WeakMethod] = {}
_AT_EXIT_LOCK = threading.Lock()


def stop_at_exit(stop: Callable[[], object], thread: threading.Thread) -> None:
    """At the interpreter's exit, call ``stop()`` (a bound method that must not wait) and then
    join ``thread`` (all such threads together for :data:`EXIT_WAIT` seconds at most)."""
    with _AT_EXIT_LOCK:
        for ended in [known for known in _AT_EXIT if not known.is_alive()]:
            del _AT_EXIT[ended]
        _AT_EXIT[thread] = weakref.WeakMethod(stop)


@atexit.register
def _stop_all() -> None:
    with _AT_EXIT_LOCK:
        entries = list(_AT_EXIT.items())
        _AT_EXIT.clear()
    for thread, reference in entries:
        stop = reference()
        if stop is not None and thread.is_alive():
            with contextlib.suppress(Exception):  # exiting: nothing to report to
                stop()
    deadline = time.monotonic() + EXIT_WAIT
    for thread, _ in entries:
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def start_daemon(target: Callable[..., object], name: str, *args: object) -> threading.Thread:
    """Start ``target(*args)`` in a new daemon thread called ``nnviz-<name>``."""
    thread = threading.Thread(target=target, args=args, name=f"nnviz-{name}", daemon=True)
    thread.start()
    return thread


class Worker:
    """A daemon thread that runs submitted jobs one after another, in the order given.

    Parameters
    ----------
    name : str
        The thread's name (after ``nnviz-``).
    max_pending : int
        With a positive value, :meth:`submit` waits while this many jobs are queued: the
        submitting thread (training) is held back rather than memory growing without bound.
        0: no bound.
    max_bytes : int
        With a positive value, :meth:`submit` also waits while the jobs queued hold this many
        bytes (as each submit says); a job larger than that alone still goes, on its own.

    Notes
    -----
    A job that raises is reported as a warning and the worker goes on; jobs that must report
    their own failures catch them.
    """

    _STOP = object()

    def __init__(self, name: str, *, max_pending: int = 0, max_bytes: int = 0) -> None:
        self.name = name
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._max_bytes = max_bytes
        # guards the bytes queued: submit() waits on it, the worker thread releases them
        self._room = threading.Condition()
        self._bytes = 0
        self._closed = False
        self._thread = start_daemon(self._run, name)
        stop_at_exit(self._stop_for_exit, self._thread)

    @property
    def alive(self) -> bool:
        """Whether the thread still runs jobs."""
        return self._thread.is_alive() and not self._closed

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: a long job checks it to stop early."""
        return self._closed

    def submit(self, job: Callable[[], object], *, nbytes: int = 0) -> bool:
        """Queue ``job`` (which holds ``nbytes`` of memory until it has run); False (and the
        job dropped) when the worker is closed or dead."""
        if not self.alive:
            return False
        if self._max_bytes:
            with self._room:
                self._room.wait_for(
                    lambda: (
                        self._bytes == 0
                        or self._bytes + nbytes <= self._max_bytes
                        or not self.alive
                    )
                )
                self._bytes += nbytes
        self._queue.put((job, nbytes))
        return True

    def close(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        """Stop taking jobs; finish the queued ones (or drop them), then end the thread.

        Calling it again does nothing. ``wait`` joins the thread (not from a job itself).
        """
        if self._closed:
            return
        self._closed = True
        if cancel_pending:
            try:
                while True:
                    _, nbytes = self._queue.get_nowait()
                    self._release(nbytes)
            except queue.Empty:
                pass
        self._queue.put((self._STOP, 0))
        with self._room:
            self._room.notify_all()  # a submitter waiting for room gives up
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    def _stop_for_exit(self) -> None:
        self.close(wait=False, cancel_pending=True)

    def _run(self) -> None:
        while True:
            job, nbytes = self._queue.get()
            if job is self._STOP:
                return
            try:
                job()
            except Exception as error:  # the worker outlives a failed job
                warn_quietly(
                    f"a background job of {self.name} failed: {type(error).__name__}: {error}"
                )
            finally:
                self._release(nbytes)

    def _release(self, nbytes: int) -> None:
        if self._max_bytes:
            with self._room:
                self._bytes -= nbytes
                self._room.notify_all()


class Repeater:
    """A daemon thread that calls ``job()`` every ``interval`` seconds until stopped.

    It stops by itself when ``job`` returns False. An exception in ``job`` is reported to
    ``on_error(error)`` (a warning by default) and the repeating goes on.
    """

    def __init__(
        self,
        job: Callable[[], bool | None],
        interval: float,
        name: str,
        *,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"the interval must be a positive number of seconds, got {interval}")
        self._job = job
        self._interval = float(interval)
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread = start_daemon(self._run, name)
        stop_at_exit(self._stop_for_exit, self._thread)

    @property
    def alive(self) -> bool:
        """Whether the thread still repeats."""
        return self._thread.is_alive()

    def stop(self, *, wait: bool = True) -> None:
        """Stop repeating; calling it again does nothing."""
        self._stop.set()
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    def _stop_for_exit(self) -> None:
        self.stop(wait=False)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if self._job() is False:
                    return
            except Exception as error:  # the repeating outlives one failure
                if self._on_error is not None:
                    self._on_error(error)
                else:
                    warn_quietly(f"a repeated job failed: {type(error).__name__}: {error}")
