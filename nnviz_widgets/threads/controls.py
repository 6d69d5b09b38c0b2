"""Widgets whose browser updates apply under a lock that the kernel's other threads share.

A control's value can change from two sides at once: the user's key press or click arrives from
the browser (ipywidgets applies it in the thread that handles comm messages), while a training
thread moves the control, for example the slider following the newest epoch. ipywidgets applies
a browser update, and sends its echo back, without any lock of ours:

- a training thread changing the value in between leaves the browser and the kernel on
  different values, or the user's move lost (seen in Chromium: the Playground's slider at 190
  while the user had pressed Home);
- a widget that ignores its controls' callbacks while it moves them itself (as the explorer
  once did, with a flag) would also ignore a user's change that arrived during such a move.

The controls here take their owner's lock around ``set_state`` (the echo and the assignment,
observers included), so a browser update and a training update apply one after the other,
never interleaved, and the last value the browser receives is the one the kernel keeps.
:class:`Link` keeps a control and its owner's trait equal under that same lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets
import traitlets

__all__ = ["Link", "LockedCheckbox", "LockedDropdown", "LockedIntSlider"]


class _LockedUpdates:
    """Mixin: apply updates from the browser while holding ``lock``.

    ``lock`` must be re-entrant (``threading.RLock``) when the control's observers take it too.
    """

    def __init__(self, lock: threading.RLock, **kwargs) -> None:
        self._update_lock = lock
        super().__init__(**kwargs)

    def set_state(self, sync_data: dict) -> None:
        with self._update_lock:
            super().set_state(sync_data)


class LockedIntSlider(_LockedUpdates, ipywidgets.IntSlider):
    """An ``IntSlider`` whose browser updates apply under its owner's lock."""


class LockedDropdown(_LockedUpdates, ipywidgets.Dropdown):
    """A ``Dropdown`` whose browser updates apply under its owner's lock."""


class LockedCheckbox(_LockedUpdates, ipywidgets.Checkbox):
    """A ``Checkbox`` whose browser updates apply under its owner's lock."""


def _same(value: Any) -> Any:
    return value


class Link:
    """Keep ``source.name`` and ``target.name`` equal both ways, safely across threads.

    ``traitlets.link`` stops loops with one flag for every thread: while one thread copies a
    change, a change made by another thread is dropped. Here each copy is made holding
    ``lock`` (the owner's, re-entrant), so a change from another thread waits its turn and is
    copied after; the flag only stops this thread's own echo. Each copy reads the side's value
    as it is now, not as the change reported it: the latest value wins, on both sides.

    Parameters
    ----------
    source, target : (HasTraits, str)
        The two ends; ``target`` takes ``source``'s value at once.
    lock : threading.RLock
        The owner's lock, held during every copy.
    transform : (callable, callable), optional
        Functions from the source's value to the target's, and back.
    on_error : callable, optional
        ``on_error(error)`` when a side refuses a value (a validator raised); the side that
        changed then takes the other's value back. Without it the error is raised.
    """

    def __init__(
        self,
        source: tuple[traitlets.HasTraits, str],
        target: tuple[traitlets.HasTraits, str],
        lock: threading.RLock,
        *,
        transform: tuple[Callable[[Any], Any], Callable[[Any], Any]] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.source, self.target = source, target
        self._lock = lock
        self._forward, self._backward = transform or (_same, _same)
        self._on_error = on_error
        self._copying = False
        with lock:
            self._copy(self.source, self.target, self._forward)
        source[0].observe(self._on_source, names=source[1])
        target[0].observe(self._on_target, names=target[1])

    def unlink(self) -> None:
        """Stop copying in either direction."""
        self.source[0].unobserve(self._on_source, names=self.source[1])
        self.target[0].unobserve(self._on_target, names=self.target[1])

    def _on_source(self, change: dict) -> None:
        self._follow(self.source, self.target, self._forward, self._backward)

    def _on_target(self, change: dict) -> None:
        self._follow(self.target, self.source, self._backward, self._forward)

    def _follow(self, changed: tuple, other: tuple, there: Callable, back: Callable) -> None:
        with self._lock:
            if self._copying:
                return  # this thread's own echo
            try:
                self._copy(changed, other, there)
            except Exception as error:
                if self._on_error is None:
                    raise
                self._on_error(error)
                self._copy(other, changed, back)  # the side that changed shows the truth

    def _copy(self, origin: tuple, destination: tuple, convert: Callable) -> None:
        value = convert(getattr(*origin))
        if getattr(*destination) == value:
            return
        self._copying = True
        try:
            setattr(*destination, value)
        finally:
            self._copying = False
