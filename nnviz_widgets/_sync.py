"""Widgets whose browser updates apply under a lock that the kernel's other threads share.

A slider's value can change from two sides at once: the user's key press arrives from the
browser (ipywidgets applies it in the thread that handles comm messages), while a training
thread moves the slider to follow the newest epoch. ipywidgets applies a browser update, and
sends its echo back, without any lock of ours; a training thread changing the value in between
leaves the browser and the kernel disagreeing, or the user's move lost (seen in Chromium: the
Playground's slider at 190 while the user had pressed Home).

``LockedIntSlider`` takes the owner's lock around ``set_state`` (the echo and the assignment,
observers included), so a browser update and a training update are applied one after the
other, never interleaved, and the last one the browser receives is the one the kernel keeps.
"""

from __future__ import annotations

import threading

import ipywidgets


class LockedIntSlider(ipywidgets.IntSlider):
    """An ``IntSlider`` that applies updates from the browser while holding ``lock``.

    ``lock`` must be re-entrant (``threading.RLock``) when the slider's observers take it too.
    """

    def __init__(self, lock: threading.RLock, **kwargs) -> None:
        self._update_lock = lock
        super().__init__(**kwargs)

    def set_state(self, sync_data: dict) -> None:
        with self._update_lock:
            super().set_state(sync_data)
