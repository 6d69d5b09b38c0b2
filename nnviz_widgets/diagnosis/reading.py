"""What a diagnosis reads from a recording, read once, safely, and the same way for every check.

:class:`Evidence` fixes the recording's length when the diagnosis starts (a recording still being
recorded may grow meanwhile: what arrives later waits for the next diagnosis), reads each
statistic, step series and metric at most once, cuts them to that length, and answers None where
the recording lacks something (an old recording, no probe, no optimizer) instead of raising: a
check that misses what it needs is skipped. It also holds the helpers every check shares: which
snapshot a step falls in, and runs of consecutive snapshots where a condition holds.

It reads a Recording only through its public methods, so it works alike on a recording in
memory, one opened from disk (statistics read a column at a time) and one still being recorded.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import weakref

import numpy as np

from nnviz_widgets.recording.types import FrameMissingError

__all__ = ["Evidence", "holding", "runs"]

# What was measured on a recording's frames, kept as long as the recording lives: a frame does
# not change once recorded, so a diagnosis repeated as snapshots arrive (the explorer's, live)
# reads each frame once, not once per diagnosis. {recording: {key: value}}
_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MEASURED_LOCK = threading.Lock()


class Evidence:
    """A recording as the checks read it.

    Parameters
    ----------
    recording : Recording
        Anything with a Recording's public reading methods.

    Attributes
    ----------
    count : int
        Snapshots taken into account (those present when the diagnosis started).
    snapshot_steps : numpy.ndarray
        Training steps at each of them (int64).
    layers : tuple of str
        The recorded layers, in the model's order.
    steps : numpy.ndarray
        The steps that have per-step statistics (int64), as many as when the diagnosis
        started; those after the newest snapshot count only as evidence of NaN/Inf.
    step_interval : numpy.ndarray
        For each of :attr:`steps`, the snapshot that ends its interval: step ``s`` belongs to
        snapshot ``i`` when ``snapshot_steps[i - 1] < s <= snapshot_steps[i]`` (``count`` for
        the steps after the newest snapshot).
    """

    def __init__(self, recording) -> None:
        self.recording = recording
        self.count = len(recording)
        self.snapshot_steps = np.asarray(recording.snapshot_steps, dtype=np.int64)[: self.count]
        #: snapshots taken after at least one training step: a unit cannot have died, or
        #: saturated for good, before the first step
        self.trained = self.snapshot_steps > 0
        self.layers = tuple(recording.layers)
        self.position = {layer: i for i, layer in enumerate(self.layers)}
        self._infos = recording.layer_infos()
        # series read later may have grown meanwhile: they are cut to these steps
        self.steps = np.asarray(recording.steps, dtype=np.int64)
        self._statistic_names = {layer: tuple(recording.statistics(layer)) for layer in self.layers}
        self._step_names = {layer: tuple(recording.step_statistics(layer)) for layer in self.layers}
        self._cache: dict[tuple, np.ndarray | None] = {}
        self.step_interval = np.searchsorted(self.snapshot_steps, self.steps, side="left")

    # ------------------------------------------------------------------ layers
    def layer_type(self, layer: str) -> str:
        """The module's class name, or "" where unknown."""
        return str(self._infos.get(layer, {}).get("type", ""))

    def parameter_count(self, layer: str) -> int | None:
        """How many parameter values the layer has, or None where unknown."""
        shapes = self._infos.get(layer, {}).get("parameters")
        if not shapes:
            return None
        return sum(math.prod(int(n) for n in shape) for shape in shapes.values())

    def channel_first(self, layer: str) -> bool:
        """Whether the layer's 3-D outputs are ``(samples, channels, positions)`` (the
        Recorder learns it from the probe) rather than ``(samples, tokens, features)``."""
        return bool(self._infos.get(layer, {}).get("channel_first", False))

    def frozen(self, layer: str) -> bool:
        """Whether every parameter of the layer is frozen (``requires_grad=False``)."""
        info = self._infos.get(layer, {})
        frozen, shapes = info.get("frozen") or (), info.get("parameters") or {}
        return bool(shapes) and set(shapes) <= set(frozen)

    # ------------------------------------------------------------------ columns
    def statistic(self, layer: str, name: str) -> np.ndarray | None:
        """One statistic per snapshot (float64, NaN where none), or None where not recorded."""
        key = ("statistic", layer, name)
        if key not in self._cache:
            values = None
            if name in self._statistic_names.get(layer, ()):
                values = self._read(lambda: self.recording.statistic(layer, name), self.count)
            self._cache[key] = values
        return self._cache[key]

    def statistic_names(self, layer: str) -> tuple[str, ...]:
        """The names of the layer's statistics, in the recording's order."""
        return self._statistic_names.get(layer, ())

    def step_series(self, layer: str, name: str) -> np.ndarray | None:
        """One per-step series aligned with :attr:`steps` (float64), or None."""
        key = ("step", layer, name)
        if key not in self._cache:
            values = None
            if name in self._step_names.get(layer, ()):
                values = self._read(
                    lambda: self.recording.step_series(layer, name), self.steps.size
                )
            self._cache[key] = values
        return self._cache[key]

    def metric_names(self) -> tuple[str, ...]:
        """The recording's metric names."""
        return tuple(self.recording.metric_names)

    def metric(self, name: str) -> np.ndarray | None:
        """A metric per snapshot (float64; NaN where not given), or None."""
        key = ("metric", name)
        if key not in self._cache:
            self._cache[key] = self._read(lambda: self.recording.metric(name), self.count)
        return self._cache[key]

    @staticmethod
    def _read(read, length: int) -> np.ndarray | None:
        try:
            values = np.asarray(read(), dtype=np.float64)
        except (KeyError, FrameMissingError, OSError, ValueError):
            return None  # an unreadable column: the check that wanted it is skipped
        if values.size < length:  # never shorter in a sound recording; pad rather than fail
            values = np.concatenate([values, np.full(length - values.size, np.nan)])
        return values[:length]

    # ------------------------------------------------------------------ frames
    def preview(self, layer: str, quantity: str, index: int) -> np.ndarray | None:
        """The frame the views draw (never a whole large tensor from disk), or None where it is
        missing, thinned or unreadable."""
        try:
            return self.recording.preview(layer, quantity, index)
        except (KeyError, FrameMissingError, OSError, ValueError, IndexError):
            return None

    def measured(self, key: tuple) -> float | None:
        """A measure of a frame kept by :meth:`remember` for this recording, or None."""
        with _MEASURED_LOCK, contextlib.suppress(TypeError):  # TypeError: no weak reference
            return _MEASURED.get(self.recording, {}).get(key)
        return None

    def remember(self, key: tuple, value: float) -> None:
        """Keep a measure of a frame (never of a missing one) for later diagnoses."""
        # an object that takes no weak reference (TypeError) is measured at each diagnosis
        with _MEASURED_LOCK, contextlib.suppress(TypeError):
            _MEASURED.setdefault(self.recording, {})[key] = value

    def has_quantity(self, layer: str, quantity: str) -> bool:
        """Whether the layer has that quantity at all."""
        try:
            return quantity in self.recording.quantities(layer)
        except KeyError:
            return False

    # ------------------------------------------------------------------ time
    def per_interval(
        self, values: np.ndarray, how: str = "median", *, after: int = 0
    ) -> np.ndarray:
        """A per-step series reduced over the steps of each snapshot interval (the steps since
        the previous snapshot, up to and including the snapshot's step), leaving out NaN and the
        steps up to ``after``: their ``"median"``, ``"max"`` or ``"count"``; NaN where an
        interval has no such step (0 for the count). Vectorised over the intervals."""
        out = np.full(self.count, 0.0 if how == "count" else np.nan)
        starts, where = self._groups
        if not starts.size:
            return out
        values = values[self._order]
        keep = ~np.isnan(values) & (self._ordered_steps > after)
        counts = np.add.reduceat(keep, starts)
        if how == "count":
            out[where] = counts
        elif how == "max":
            out[where] = np.fmax.reduceat(np.where(keep, values, np.nan), starts)
        elif how == "median":
            out[where] = self._medians(np.where(keep, values, np.inf), counts)
        else:
            raise ValueError(f'how must be "median", "max" or "count", got {how!r}')
        return out

    def _medians(self, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Each interval's median of its first ``counts`` values once sorted (the values left
        out are +inf, so they sort last); NaN where it keeps none."""
        starts, _ = self._groups
        sizes = np.diff(np.r_[starts, values.size])
        if sizes.size * sizes.max() <= 4 * values.size + 64:
            # one row per interval, padded with +inf, sorted along the rows: fast for the
            # usual few steps per snapshot
            table = np.full((sizes.size, sizes.max()), np.inf)
            table[self._row, self._column] = values
            table.sort(axis=1)
            rows = np.arange(sizes.size)
            low, high = np.maximum(counts - 1, 0) // 2, counts // 2
            medians = 0.5 * (table[rows, low] + table[rows, np.minimum(high, table.shape[1] - 1)])
        else:  # intervals of very different lengths: one sort of everything, by interval
            ordered = values[np.lexsort((values, self._ordered_intervals))]
            low = starts + np.maximum(counts - 1, 0) // 2
            medians = 0.5 * (ordered[low] + ordered[starts + counts // 2 - (counts == 0)])
        return np.where(counts > 0, medians, np.nan)

    @functools.cached_property
    def _row(self) -> np.ndarray:
        """Each ordered step's interval, numbered from 0 among the intervals with steps."""
        starts, _ = self._groups
        return np.repeat(np.arange(starts.size), np.diff(np.r_[starts, self._order.size]))

    @functools.cached_property
    def _column(self) -> np.ndarray:
        """Each ordered step's place within its interval."""
        starts, _ = self._groups
        return np.arange(self._order.size) - starts[self._row]

    @functools.cached_property
    def _order(self) -> np.ndarray:
        """The steps before the newest snapshot, in the order of their intervals."""
        inside = np.flatnonzero(self.step_interval < self.count)
        return inside[np.argsort(self.step_interval[inside], kind="stable")]

    @functools.cached_property
    def _ordered_intervals(self) -> np.ndarray:
        return self.step_interval[self._order]

    @functools.cached_property
    def _ordered_steps(self) -> np.ndarray:
        return self.steps[self._order]

    @functools.cached_property
    def _groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each interval's steps start in :attr:`_order`, and the interval (snapshot)."""
        intervals = self._ordered_intervals
        if not intervals.size:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        starts = np.flatnonzero(np.r_[True, intervals[1:] != intervals[:-1]])
        return starts, intervals[starts]

    def first_snapshot_at_or_after(self, step: int) -> int | None:
        """The first snapshot taken at or after ``step`` (it shows what happened then)."""
        index = int(np.searchsorted(self.snapshot_steps, step, side="left"))
        return index if index < self.count else None

    def steps_of(self, snapshots) -> tuple[int, ...]:
        """The training steps of these snapshots."""
        return tuple(int(self.snapshot_steps[i]) for i in snapshots)


def runs(held: np.ndarray, measured: np.ndarray, length: int) -> list[int]:
    """The snapshots that belong to runs of at least ``length`` consecutive measured snapshots
    where ``held`` is true (snapshots where nothing could be measured neither break nor extend
    a run), ascending."""
    indices = np.flatnonzero(measured)
    found: list[int] = []
    run: list[int] = []
    for i in indices:
        if held[i]:
            run.append(int(i))
            continue
        if len(run) >= length:
            found += run
        run = []
    if len(run) >= length:
        found += run
    return found


def holding(held: np.ndarray, measured: np.ndarray, length: int) -> list[int]:
    """The snapshots of the run of consecutive measured snapshots where ``held`` is true that
    ends at the last measured snapshot, when it is at least ``length`` long; else empty."""
    indices = np.flatnonzero(measured)
    if indices.size == 0:
        return []
    misses = np.flatnonzero(~held[indices])
    run = indices if misses.size == 0 else indices[misses[-1] + 1 :]
    return run.tolist() if run.size >= length else []
