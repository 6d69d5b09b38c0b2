"""Which training steps get per-step statistics: every ``stats_every``-th, or as many as cost ~1%.

``Recorder(stats_every=k)`` takes statistics on steps ``k, 2k, 3k, ...``. With ``"auto"`` (the
default) :class:`StatsSchedule` times, on the host and without waiting for the device, the
Recorder's work in the step hooks of the steps with statistics and the time between the ends of
two consecutive steps, and keeps the stride (steps from one step with statistics to the next) at
``ceil(hook time / (1% x time between steps))``, medians of the last few of each, between 1 and
:data:`MAX_STRIDE`. The first steps all have statistics until both are measured, and so does the
first step after each snapshot, so that every snapshot's mean gradient norm has a step to average.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque

__all__ = ["MAX_STRIDE", "TARGET", "StatsSchedule"]

#: The share of a training step that "auto" lets the step hooks cost.
TARGET = 0.01
#: With "auto", at least one step in this many has statistics.
MAX_STRIDE = 100
#: How many recent measurements the medians are taken over.
_KEEP = 9


class StatsSchedule:
    """When per-step statistics are taken, and (with ``"auto"``) the timings that decide it.

    Parameters
    ----------
    every : int or "auto"
        ``Recorder(stats_every=...)``.

    Notes
    -----
    Called from the training thread only (the step hooks and ``snapshot()``).
    """

    def __init__(self, every: int | str) -> None:
        self.auto = every == "auto"
        self._every = 1 if self.auto else int(every)
        self._next = 1 if self.auto else self._every
        self._costs: deque[float] = deque(maxlen=_KEEP)  # hook seconds of steps with statistics
        self._intervals: deque[float] = deque(
            maxlen=_KEEP
        )  # seconds from one step's end to the next
        self._last_end: float | None = None

    @property
    def stride(self) -> int:
        """Steps from one step with statistics to the next, as now chosen."""
        return self._every

    def due(self, step: int) -> bool:
        """Whether step number ``step`` (counted from 1) gets statistics."""
        if self.auto:
            return step >= self._next
        return step % self._every == 0

    def step_ended(self, step: int, now: float, cost: float | None) -> None:
        """Step ``step`` ended at ``now`` (``time.perf_counter()``); ``cost`` is the seconds the
        hooks spent on its statistics, None when it had none."""
        if self._last_end is not None:
            self._intervals.append(now - self._last_end)
        self._last_end = now
        if cost is None or not self.auto:
            return
        self._costs.append(cost)
        if len(self._costs) >= 2 and len(self._intervals) >= 2:
            interval = statistics.median(self._intervals)
            wanted = statistics.median(self._costs) / (TARGET * max(interval, 1e-9))
            self._every = min(MAX_STRIDE, max(1, math.ceil(wanted - 1e-6)))
        self._next = step + self._every

    def snapshot_taken(self, step: int) -> None:
        """A snapshot was taken after step ``step``: the next step's interval would count the
        snapshot, so it is not measured; with "auto" the next step has statistics."""
        self._last_end = None
        if self.auto:
            self._next = min(self._next, step + 1)

    @staticmethod
    def now() -> float:
        """The clock the timings use."""
        return time.perf_counter()
