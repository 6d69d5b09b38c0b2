"""Widgets whose browser updates apply under a lock that the kernel's other threads share.

A control's value can change from two sides at once: the user's key press or click arrives from
the browser (ipywidgets applies it in the thread that handles comm messages), while a training
thread moves the control, for example the slider following the newest epoch. ipywidgets applies
a browser update, and sends its echo back, without any lock of ours:

- a training thread changing the value in between leaves the browser and the kernel on
  different values, or the user's move lost (seen in Chromium: the Playground's slider at 190
  while the user had pressed Home);
- a widget that ignores its controls' callbacks while it moves them itself (the explorer's
  ``_quiet`` flag) would also ignore a user's change that arrived during such a move.

The controls here take their owner's lock around ``set_state`` (the echo and the assignment,
observers included), so a browser update and a training update apply one after the other,
never interleaved, and the last value the browser receives is the one the kernel keeps.
"""

from __future__ import annotations

import threading

import ipywidgets


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
