"""What every part of a Recording shares: its fields, declared once, and the checks that name
what a caller got wrong.

:class:`~nnviz_widgets.recording.recording.Recording` is built in three parts so that each stays
a size a reader can hold: this base (the state and its checks), the filling side
(:mod:`~nnviz_widgets.recording.filling`: what the Recorder and the store call to add to it) and
the moving side (:mod:`~nnviz_widgets.recording.transfer`: the whole recording in and out of
files). The reading API is the Recording class itself.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable

import numpy as np

from nnviz_widgets.recording.columns import Columns
from nnviz_widgets.recording.frames import FrameSeries, dropped_message
from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    INPUT,
    FrameMissingError,
    RecordingBudgetWarning,
    RecordingSource,
)
from nnviz_widgets.threads import Listeners, warn_quietly

__all__ = ["RecordingState", "readonly", "suggest"]


def suggest(name: str, options: Iterable[str]) -> str:
    """A sentence naming the close matches of ``name`` among ``options``, and the options."""
    options = list(options)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    listed = ", ".join(repr(o) for o in options[:20]) + (" ..." if len(options) > 20 else "")
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Known: {listed or 'none'}."


def readonly(array: np.ndarray) -> np.ndarray:
    """``array``, marked read-only (readers share it)."""
    array.flags.writeable = False
    return array


class RecordingState:
    """The fields of a Recording and the checks its methods share; see ``Recording``."""

    def __init__(
        self, *, max_bytes: int = DEFAULT_MAX_BYTES, source: RecordingSource | None = None
    ) -> None:
        if not isinstance(max_bytes, int | np.integer) or max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
        # guards every field below: a snapshot is appended whole while other threads read
        self._lock = threading.RLock()
        self._epochs: list[float] = []
        self._snapshot_steps: list[int] = []
        self._layer_info: dict[str, dict] = {}  # in the order declared
        self._frames = FrameSeries(int(max_bytes))
        self._notes: dict[tuple[str, str], str] = {}
        self._statistics = Columns("statistic", "snapshots")
        self._metrics = Columns("metric", "snapshots")
        self._step_series = Columns("step series", "steps")  # labelled by step number
        self._probe: dict[str, np.ndarray] = {}
        self._listeners = Listeners("a Recording listener")
        self._source = source

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._epochs)

    def _keep_within_budget(self) -> None:
        """Thin past the budget; say so, but never to the training loop (called under the lock)."""
        newly = self._frames.keep_within_budget()
        if newly:
            message = dropped_message(self.max_bytes, [self._epochs[i] for i in newly])
            # stacklevel: the caller of the method that appended
            warn_quietly(message, RecordingBudgetWarning, stacklevel=5)

    def _why_missing(self, key: tuple[str, str], index: int) -> str:
        return self._frames.why_missing(key, index, self._epochs[index])

    def _names(self, columns: Columns, layer: str) -> tuple[str, ...]:
        """The names of ``layer``'s columns in a table keyed by (layer, name)."""
        self._check_layer(layer)
        with self._lock:
            return columns.names_of(layer)

    def _column(self, columns: Columns, layer: str, name: str, what: str) -> np.ndarray:
        """``layer``'s column ``name``; a KeyError naming the known ones if there is none."""
        self._check_layer(layer)
        with self._lock:
            if (layer, name) not in columns:
                known = self._names(columns, layer)
                raise KeyError(f"no {what} {name!r} for layer {layer!r}." + suggest(name, known))
            return columns.column((layer, name))

    def _check_layer(self, layer: str) -> None:
        if layer not in self._layer_info:
            raise KeyError(
                f"no layer {layer!r} in this recording." + suggest(layer, self._layer_info)
            )

    def _check_quantity(self, layer: str, quantity: str) -> tuple[str, str]:
        self._check_layer(layer)
        key = (layer, quantity)
        if key not in self._frames and not (key == (INPUT, "probe") and "input" in self._probe):
            raise KeyError(
                f"no quantity {quantity!r} for layer {layer!r}."
                + suggest(quantity, self.quantities(layer))
            )
        return key

    def _check_index(self, index: int) -> int:
        n = len(self._epochs)
        if not isinstance(index, int | np.integer):
            raise TypeError(f"a snapshot index must be an integer, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(
                f"snapshot index {index} is out of range: the recording has {n} snapshot(s)"
                + (f" (valid: {-n} to {n - 1})" if n else "")
            )
        return int(index) % n

    def _entry(self, layer: str, quantity: str, index: int) -> tuple:
        """``(key, index, entry)`` of a frame that is there (the lock held); FrameMissingError
        naming why otherwise."""
        key = self._check_quantity(layer, quantity)
        i = self._check_index(index)
        if key == (INPUT, "probe"):  # the same batch at every snapshot: stored once
            return key, i, self._probe["input"]
        entry = self._frames.get(key, i)
        if entry is None:
            raise FrameMissingError(self._why_missing(key, i))
        return key, i, entry
