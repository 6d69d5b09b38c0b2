"""The vocabulary of a recording: what one snapshot holds, and the errors and warnings around it.

The Recorder (torch) builds :class:`SnapshotData`, the Recording (numpy) keeps it, and the store
writes and reads it; all three speak these types, and none of them needs the others' classes.
:class:`RecordingSource` is what a Recording opened from disk delegates ``refresh()`` and
``close()`` to (the store's reader); :class:`StoredSnapshots` and :class:`StoredSteps` are what
it appends without reading them whole (``docs/format.md``, "Reading and following"), their
scalars in a :class:`ColumnSource`. Numpy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = [
    "DEFAULT_MAX_BYTES",
    "HISTOGRAM_BINS",
    "INPUT",
    "ColumnSource",
    "FrameMissingError",
    "LazyFrame",
    "RecordingBudgetWarning",
    "RecordingSource",
    "SnapshotData",
    "StoredSnapshots",
    "StoredSteps",
]

#: Pseudo-layer name under which input-level quantities live: the probe input (``"probe"``) and
#: the gradient of the probe loss with respect to it (``"saliency"``).
INPUT = "<input>"

#: The default memory budget of a Recording's frames, in bytes (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30

#: Bins of the histogram kept with every frame, equal bins between its finite extremes.
HISTOGRAM_BINS = 64


class FrameMissingError(KeyError):
    """A frame that was never recorded, or was thinned away, was asked for.

    The message says why the frame is missing (for instance "no optimizer step ran before this
    snapshot"), so a view can show it to the user as it is.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; a sentence reads better bare
        return str(self.args[0]) if self.args else ""


class LazyFrame:
    """A frame kept elsewhere (on disk) and read only when asked for.

    Subclasses implement :meth:`load`, returning the array or raising :class:`FrameMissingError`
    with a message that names the file when it cannot be read.
    """

    nbytes = 0  # frames on disk do not count against a Recording's memory budget
    shape: tuple[int, ...] | None = None  # known without reading, where the store recorded it

    def load(self) -> np.ndarray:
        """Read the frame."""
        raise NotImplementedError

    def read(self, where: tuple) -> np.ndarray:
        """Read the block ``where`` (slices or integers) of the frame; by default, all of it
        first."""
        return np.array(self.load()[where])


class RecordingBudgetWarning(UserWarning):
    """Frames were thinned out to keep a Recording within its memory budget."""


class RecordingSource(Protocol):
    """Where a Recording read from disk gets its news; what ``refresh()`` and ``close()`` call."""

    def refresh(self) -> int:
        """Append what was written since the last look; return how many snapshots."""
        ...

    def close(self) -> None:
        """Stop following; calling it again does nothing."""
        ...


@dataclass
class SnapshotData:
    """Everything one snapshot adds to a Recording; built by the Recorder, then appended whole.

    Attributes
    ----------
    epoch : float
        The label of the snapshot (usually the epoch).
    step : int
        How many training steps had run when the snapshot was taken.
    frames : dict
        ``{(layer, quantity): float32 array}``, or a :class:`LazyFrame` for a frame on disk, or
        None for a missing frame (its reason in ``missing``); quantities keep this order. The
        array is the tensor itself, or its block-mean preview when ``reduced`` names the key.
    missing : dict
        ``{(layer, quantity): reason}`` for quantities a layer has but could not record now.
    statistics : dict
        ``{(layer, name): float}`` scalar statistics per layer.
    metrics : dict
        ``{name: float}`` as passed to ``Recorder.snapshot``.
    notes : dict
        ``{(layer, quantity): text}``, e.g. how a frame was reduced to fit.
    thinned : bool
        The frames of this snapshot were dropped to stay within a memory budget before it was
        saved; a Recording explains its missing frames by its budget.
    reduced : dict
        ``{(layer, quantity): full shape}`` for the frames that are block-mean previews of a
        larger tensor (see :func:`~nnviz_widgets.recording.block_slices`).
    full : dict
        ``{(layer, quantity): float32 array or LazyFrame}``: the tensor at full size, for frames
        that are previews; it goes to disk, never into a Recording's memory.
    histograms : dict
        ``{(layer, quantity): counts}``, ``HISTOGRAM_BINS`` counts of the tensor's finite values
        in equal bins from its statistic ``min_<quantity>`` to ``max_<quantity>`` (or a
        :class:`LazyFrame` of them).
    """

    epoch: float
    step: int
    frames: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    missing: dict[tuple[str, str], str] = field(default_factory=dict)
    statistics: dict[tuple[str, str], float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    thinned: bool = False
    reduced: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)
    full: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    histograms: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


class ColumnSource(Protocol):
    """Rows of named float columns kept elsewhere (a file), read a column at a time.

    Rows are numbered by the source; a Recording holds ranges of them. Methods may be called from
    any thread.
    """

    def column(self, name: Hashable, start: int, stop: int) -> np.ndarray | None:
        """Rows ``start`` to ``stop`` of column ``name`` as a float64 array (NaN where a row has no
        value), or None where none of them has one. The caller does not change it."""
        ...

    def row(self, index: int) -> dict[Hashable, float]:
        """The values row ``index`` has, by name."""
        ...

    def labels(self, start: int, stop: int) -> np.ndarray:
        """The integer label of each of rows ``start`` to ``stop`` (int64): the step number of a
        row of step series."""
        ...


@dataclass
class StoredSnapshots:
    """Snapshots on disk, appended whole by ``Recording.append_stored``: what is known of them at
    once, and where the rest is read from the first time it is asked for.

    They are rows ``first`` to ``first + len(epochs)`` of ``statistics`` and ``metrics``.

    Attributes
    ----------
    first : int
        The row of the first of them in the sources.
    epochs, steps : numpy.ndarray
        Their epoch labels (float64) and step counts (int64).
    thinned : numpy.ndarray
        Per snapshot, whether a saved Recording's memory budget had taken its frames (bool).
    keys : list of (layer, quantity)
        Every frame key of these snapshots (missing ones included), in order of first appearance.
    notes : dict
        ``{(layer, quantity): text}``, the newest note of each key.
    statistics, metrics : ColumnSource
        Their statistics (named ``(layer, name)``) and metrics (named by text).
    statistic_names, metric_names : list
        The names of the columns, in order of first appearance.
    details : callable
        ``details(row, position)``: the :class:`SnapshotData` of row ``row``, which is snapshot
        ``position`` of the Recording; only its frames, missing reasons, ``reduced``, ``full``
        and ``histograms`` are used. Called at most once per snapshot that is asked about (from
        any thread, the Recording's lock held); it reports damage as missing frames.
    """

    first: int
    epochs: np.ndarray
    steps: np.ndarray
    thinned: np.ndarray
    keys: list[tuple[str, str]]
    notes: dict[tuple[str, str], str]
    statistics: ColumnSource
    statistic_names: list[tuple[str, str]]
    metrics: ColumnSource
    metric_names: list[str]
    details: Callable[[int, int], SnapshotData]


@dataclass
class StoredSteps:
    """Per-step series on disk, appended by ``Recording.append_stored_steps``: rows ``first`` to
    ``first + rows`` of ``source`` (labelled by their step numbers), read when asked for."""

    first: int
    rows: int
    source: ColumnSource
    names: list[tuple[str, str]]
