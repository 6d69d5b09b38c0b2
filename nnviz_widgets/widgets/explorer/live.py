"""The explorer's live updates: a new snapshot is drawn in the explorer's own thread.

A Recording calls its listeners in the thread that appends a snapshot, which is usually the
training thread. The recorder must be invisible there, so the listener only marks an update
due on a :class:`~nnviz_widgets.threads.ThrottledWorker` (``nnviz-live``) and returns; that
thread brings the slider, the dropdowns and the views up to the recording, at most once per
``min_interval``, under the explorer's lock. Many snapshots in a burst make one update, which
reads the newest state. A failed update is shown in the widget, in words; training goes on.
Threads and locks: ``docs/architecture.md`` ("Threads").

:class:`ExplorerLive`, a mixin of the explorer, starts them with the explorer and stops them,
and every other thread of the explorer and of the panels built on it
(:meth:`ExplorerLive.on_close`), when it closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from nnviz_widgets.recording import Recording
from nnviz_widgets.threads import Listeners, ThrottledWorker
from nnviz_widgets.widgets.explorer.selection import Selection, is_half_made

__all__ = ["RETRY_SECONDS", "ExplorerLive", "LiveUpdates", "checked_interval"]

#: How long a live update waits when it finds the selection half-made by another thread.
RETRY_SECONDS = 0.05


def checked_interval(seconds: float) -> float:
    """``min_interval`` as a float, or a ValueError naming it (before anything is opened)."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        value = float("nan")
    if not value >= 0:
        raise ValueError(f"min_interval must be a number of seconds >= 0, got {seconds!r}")
    return value


class LiveUpdates:
    """Follow ``recording`` for an explorer: ask in the appending thread, draw in ``nnviz-live``.

    Parameters
    ----------
    recording : Recording
        Followed through its listener until :meth:`close`.
    lock : threading.RLock
        The explorer's lock, held for the whole update.
    selection : callable
        ``selection() -> Selection``, the explorer's selection now.
    synced : callable
        ``synced() -> int``, how many snapshots the explorer's controls were last brought up to.
    catch_up : callable
        ``catch_up()``: bring the controls up to the recording and draw (called with the lock).
    on_error : callable
        ``on_error(error)``: show a failed update in the widget.
    min_interval : float
        Seconds between the starts of two updates, at most.
    """

    def __init__(
        self,
        recording: Recording,
        lock: threading.RLock,
        *,
        selection: Callable[[], Selection],
        synced: Callable[[], int],
        catch_up: Callable[[], None],
        on_error: Callable[[Exception], None],
        min_interval: float,
    ) -> None:
        self.recording = recording
        self._lock = lock
        self._selection, self._synced, self._catch_up = selection, synced, catch_up
        self._on_error = on_error
        self._worker = ThrottledWorker(self._apply, float(min_interval), "live", on_error=on_error)
        recording.add_listener(self._on_update)

    @property
    def interval(self) -> float:
        """Seconds between the starts of two updates, at most."""
        return self._worker.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._worker.interval = float(seconds)

    def wait(self, timeout: float | None = 5.0) -> bool:
        """Wait until the update asked for is drawn (one still in its interval included)."""
        return self._worker.wait(timeout)

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Draw the update that is due now, not at the end of its interval, and wait for it."""
        return self._worker.flush(timeout)

    def close(self) -> None:
        """Stop following and end the thread; an update still waiting for its turn is drawn
        here, so that the widget that stays shows every snapshot recorded."""
        self.recording.remove_listener(self._on_update)
        self._worker.close()
        if len(self.recording) != self._synced():
            try:
                self._apply()
            except Exception as error:  # the widget says it; close() goes on
                self._on_error(error)

    def _on_update(self, recording: Recording) -> None:
        """Listener, in the appending thread (often training): only asks, never draws."""
        if len(recording) != self._synced():  # else per-step statistics only: nothing shown
            self._worker()

    def _apply(self) -> None:
        """In ``nnviz-live`` (or in close()): catch up with the recording."""
        with self._lock:
            if is_half_made(self.recording, self._selection()):
                # another thread set the layer and its observer has not yet chosen a quantity
                # for it: do not draw (or fix) that half-made selection; try again soon
                self._worker.defer(RETRY_SECONDS)
                return
            self._catch_up()


class ExplorerLive:
    """Mixin of the explorer: its live updates, and the background work that stops with it.

    It uses the explorer's ``recording``, ``health``, ``_lock``, ``_frames``, ``_display``,
    ``_closed``, ``_synced_count``, ``_selection()`` and ``_catch_up()``.
    """

    @property
    def min_interval(self) -> float:
        """Live updates redraw at most once per this many seconds."""
        return self._live.interval

    @min_interval.setter
    def min_interval(self, seconds: float) -> None:
        self._live.interval = float(seconds)

    def on_close(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` when :meth:`close` stops the explorer's background work (a panel
        built on the explorer stops its own thread then); at once if it is closed already. A
        failing callback becomes a warning."""
        if self._closed:
            callback()
        else:
            self._closers.add(callback)

    def _start_live(self, min_interval: float) -> None:
        """Follow the recording from now on (at the end of construction: an update may come
        at once, from another thread)."""
        self._closers = Listeners("an explorer's close callback")
        self._live = LiveUpdates(
            self.recording,
            self._lock,
            selection=self._selection,
            synced=lambda: self._synced_count,
            catch_up=self._catch_up,
            on_error=lambda error: self._display.show_error("live update failed", error),
            min_interval=min_interval,
        )

    def _stop_background(self) -> None:
        """Stop live updates (drawing one still due), the diagnosis, the panels' threads and
        the prefetcher; the widgets stay."""
        self._live.close()
        self.health.close()
        self._closers.emit()
        self._frames.close()

    def _drain(self, timeout: float = 5.0) -> bool:
        """Wait until the live update asked for has been drawn (``nnviz-live``); for tests and
        scripts. False on timeout."""
        return self._live.wait(timeout)
