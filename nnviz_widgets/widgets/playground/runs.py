"""The Playground's kept runs: every run started stays, numbered, until the cap drops the oldest.

A changed data set, architecture or other restarting setting starts a new run; the previous one
is paused and kept, with its recording and its model, so that the user can bring it back from
the run list, scrub it and even train it further. At most :data:`MAX_KEPT_RUNS` are kept
(docs/playground.md, "Runs"): a Playground's recordings are small (a few kB an epoch), but each
kept run holds a paused training thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only
    from nnviz_widgets.widgets.playground.run import PlaygroundRun

__all__ = ["MAX_KEPT_RUNS", "RunHistory"]

#: The most runs a Playground keeps, the current one included; the oldest goes first.
MAX_KEPT_RUNS = 6


class RunHistory:
    """The runs a Playground has started, by number (1 for the first), at most a cap of them.

    Parameters
    ----------
    cap : int
        How many runs are kept at most, the newest one included.
    """

    def __init__(self, cap: int = MAX_KEPT_RUNS) -> None:
        if cap < 1:
            raise ValueError(f"cap must be at least 1 run, got {cap!r}")
        self.cap = cap
        # guards _runs and _next: changed in the kernel's thread (a new run, a restore), read
        # from training threads too (the run list's labels grow with each epoch)
        self._lock = threading.Lock()
        self._runs: dict[int, PlaygroundRun] = {}
        self._next = 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def __contains__(self, number: object) -> bool:
        with self._lock:
            return number in self._runs

    @property
    def numbers(self) -> list[int]:
        """The kept runs' numbers, oldest first."""
        with self._lock:
            return sorted(self._runs)

    def add(self, run: PlaygroundRun) -> tuple[int, list[str]]:
        """Keep ``run`` as the newest; its number, and the words for each run dropped for it.

        The oldest runs beyond the cap are closed (their threads end, their hooks go) and
        forgotten.
        """
        with self._lock:
            number = self._next
            self._next += 1
            self._runs[number] = run
            dropped = []
            while len(self._runs) > self.cap:
                oldest = min(self._runs)
                dropped.append((oldest, self._runs.pop(oldest)))
        words = []
        for old_number, old_run in dropped:
            words.append(old_run.describe(old_number))
            old_run.close()
        return number, words

    def get(self, number: int) -> PlaygroundRun:
        """The run numbered ``number``; a ``KeyError`` naming the kept ones if it is not kept."""
        with self._lock:
            try:
                return self._runs[number]
            except KeyError:
                kept = ", ".join(map(str, sorted(self._runs))) or "none"
                raise KeyError(
                    f"run {number!r} is not kept; the kept runs are {kept} "
                    f"(at most {self.cap}, the oldest dropped first)"
                ) from None

    def number_of(self, run: PlaygroundRun) -> int | None:
        """The number of ``run``, or None if it is not kept (dropped, or never added)."""
        with self._lock:
            return next((number for number, kept in self._runs.items() if kept is run), None)

    def options(self) -> list[tuple[str, int]]:
        """``(label, number)`` of every kept run, newest first, for the run list."""
        with self._lock:
            runs = sorted(self._runs.items(), reverse=True)
        return [(run.describe(number), number) for number, run in runs]

    def close(self) -> None:
        """Close every kept run and forget them."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            run.close()
