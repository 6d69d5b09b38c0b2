"""The Recording: what a Recorder captured, as plain numpy data.

A Recording holds, per snapshot, one float32 frame per (layer, quantity), a few scalar
statistics per layer, and the metrics the user passed to ``snapshot()``; between snapshots it
holds per-step statistics series. It knows nothing of torch or of widgets, so a recording can be
read, kept and shown where no model and no torch exist.

It is safe to read from one thread while another appends: a snapshot becomes visible whole or not
at all. Its memory is bounded by ``max_bytes``; past that budget the frames of every other older
snapshot are thinned out (never the scalar statistics, metrics or step series), and the
recording says so through a warning, :attr:`Recording.thinned` and the reason given by
:meth:`Recording.missing_reason`.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    INPUT,
    FrameMissingError,
    LazyFrame,
    RecordingBudgetWarning,
    SnapshotData,
)

__all__ = ["Recording"]


def _suggest(name: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    listed = ", ".join(repr(o) for o in options[:20]) + (" ..." if len(options) > 20 else "")
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Known: {listed or 'none'}."


class Recording:
    """Frames, statistics and metrics of a training run, indexed by snapshot.

    Parameters
    ----------
    max_bytes : int, optional
        Memory budget for frames, in bytes (default 1 GiB). When appending a snapshot would go
        past it, the frames of every other snapshot (keeping the first and the newest) are
        dropped, a :class:`RecordingBudgetWarning` says so once, :attr:`thinned` lists the
        snapshot indices that lost their frames, and asking for one of those frames raises
        :class:`FrameMissingError` naming the budget. Scalar statistics, metrics and step series
        are always kept: they are small.

    Notes
    -----
    Layers are named as in ``model.named_modules()``. Quantities per layer are, where they apply:

    - ``"weight"``, ``"weight_grad"`` (mean gradient over the optimizer steps since the previous
      snapshot), ``"update"`` (weight change since the previous snapshot); other parameters
      ``p`` (``bias``, ``weight_ih_l0``, ...) give ``p``, ``p_grad`` and ``p_update``;
    - ``"activation"`` (the layer's output on the probe batch) and ``"output_grad"`` (gradient
      of the probe loss with respect to that output); a module called ``k`` times per forward
      also has ``"activation[1]"`` ... ``"activation[k-1]"`` and likewise for ``output_grad``;
    - under the pseudo-layer :data:`INPUT`: ``"probe"`` (the probe input, the same at every
      snapshot and stored once) and ``"saliency"`` (gradient of the probe loss with respect to
      the probe input).

    Scalar statistics per layer and snapshot (see :meth:`statistic`): ``grad_norm`` (mean over
    the steps since the previous snapshot of the layer's gradient norm), ``weight_norm``,
    ``update_ratio`` (norm of the update over norm of the previous weights), ``dead_fraction``
    (fraction of output units that are <= 0 for every probe sample), and ``nonfinite_<quantity>``
    (count of NaN and Inf values in that frame).
    """

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if not isinstance(max_bytes, int | np.integer) or max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
        self._max_bytes = int(max_bytes)
        self._lock = threading.RLock()
        self._epochs: list[float] = []
        self._snapshot_steps: list[int] = []
        self._layers: list[str] = []
        self._layer_info: dict[str, dict] = {}
        # (layer, quantity) -> one entry per snapshot: an array, or None where missing
        self._frames: dict[tuple[str, str], list[np.ndarray | None]] = {}
        self._missing: dict[tuple[str, str], dict[int, str]] = {}
        self._notes: dict[tuple[str, str], str] = {}
        self._statistics: dict[tuple[str, str], list[float]] = {}
        self._metrics: dict[str, list[float]] = {}
        self._step_numbers: list[int] = []
        self._step_series: dict[tuple[str, str], list[float]] = {}
        self._thinned: set[int] = set()
        self._stored: dict[int, dict[tuple[str, str], LazyFrame]] = {}
        self._storing: set[int] = set()
        self._nbytes = 0
        self._listeners: list[Callable[[Recording], None]] = []
        self._probe: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._epochs)

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"Recording({len(self._epochs)} snapshots, {len(self._layers)} layers, "
                f"{len(self._step_numbers)} steps, {self._nbytes / 2**20:.1f} MiB of frames)"
            )

    @property
    def snapshots(self) -> tuple[float, ...]:
        """The epoch label of each snapshot, in the order they were taken."""
        with self._lock:
            return tuple(self._epochs)

    @property
    def snapshot_steps(self) -> np.ndarray:
        """The number of training steps that had run at each snapshot (int64)."""
        with self._lock:
            return np.asarray(self._snapshot_steps, dtype=np.int64)

    @property
    def layers(self) -> tuple[str, ...]:
        """Recorded module names, in ``named_modules()`` order (without :data:`INPUT`)."""
        with self._lock:
            return tuple(layer for layer in self._layers if layer != INPUT)

    def layer_info(self, layer: str) -> dict:
        """What is known about a layer: ``type`` (class name), ``calls`` per forward, and more."""
        self._check_layer(layer)
        return dict(self._layer_info.get(layer, {}))

    def quantities(self, layer: str) -> tuple[str, ...]:
        """The frame quantities recorded for ``layer`` (see the class notes for their names)."""
        self._check_layer(layer)
        with self._lock:
            found = tuple(q for (lay, q) in self._frames if lay == layer)
            return ("probe", *found) if layer == INPUT and "input" in self._probe else found

    def statistics(self, layer: str) -> tuple[str, ...]:
        """The names of the per-snapshot scalar statistics recorded for ``layer``."""
        self._check_layer(layer)
        with self._lock:
            return tuple(n for (lay, n) in self._statistics if lay == layer)

    def frame(self, layer: str, quantity: str, index: int = -1) -> np.ndarray:
        """One recorded frame, as a float32 array (read-only).

        Parameters
        ----------
        layer, quantity : str
            As listed by :attr:`layers` (or :data:`INPUT`) and :meth:`quantities`.
        index : int
            Position in :attr:`snapshots`; negative counts from the end.

        Raises
        ------
        KeyError
            An unknown layer or quantity (the message lists the known ones).
        IndexError
            ``index`` out of range.
        FrameMissingError
            The frame was not recorded at that snapshot, or was thinned; the message says why.
        """
        with self._lock:
            key = self._check_quantity(layer, quantity)
            i = self._check_index(index)
            if key == (INPUT, "probe"):  # the same batch at every snapshot: stored once
                return self._probe["input"]
            array = self._frames[key][i]
            if array is None:
                raise FrameMissingError(self._reason(key, i))
        if isinstance(array, LazyFrame):  # read outside the lock: disk may be slow
            return _readonly(np.ascontiguousarray(array.load(), dtype=np.float32))
        return array

    def missing_reason(self, layer: str, quantity: str, index: int = -1) -> str | None:
        """Why a frame is missing, in words, or None when it is there."""
        with self._lock:
            key = self._check_quantity(layer, quantity)
            i = self._check_index(index)
            if key == (INPUT, "probe"):
                return None
            return None if self._frames[key][i] is not None else self._reason(key, i)

    def note(self, layer: str, quantity: str) -> str | None:
        """A note on how a quantity's frames were reduced when recorded, if they were."""
        with self._lock:
            return self._notes.get(self._check_quantity(layer, quantity))

    def statistic(self, layer: str, name: str) -> np.ndarray:
        """One scalar statistic per snapshot (float64; NaN where it could not be computed)."""
        self._check_layer(layer)
        with self._lock:
            if (layer, name) not in self._statistics:
                raise KeyError(
                    f"no statistic {name!r} for layer {layer!r}."
                    + _suggest(name, self.statistics(layer))
                )
            return np.asarray(self._statistics[(layer, name)], dtype=np.float64)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of the metrics passed to ``snapshot()``, in order of first appearance."""
        with self._lock:
            return tuple(self._metrics)

    def metric(self, name: str) -> np.ndarray:
        """A metric's value at each snapshot (float64; NaN where it was not given)."""
        with self._lock:
            if name not in self._metrics:
                raise KeyError(f"no metric {name!r}." + _suggest(name, self._metrics))
            return np.asarray(self._metrics[name], dtype=np.float64)

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """Every metric, as ``{name: values per snapshot}``."""
        with self._lock:
            return {name: self.metric(name) for name in self._metrics}

    @property
    def steps(self) -> np.ndarray:
        """The step number of each entry of the per-step series (int64)."""
        with self._lock:
            return np.asarray(self._step_numbers, dtype=np.int64)

    def step_statistics(self, layer: str) -> tuple[str, ...]:
        """Names of the per-step series recorded for ``layer``."""
        self._check_layer(layer)
        with self._lock:
            return tuple(n for (lay, n) in self._step_series if lay == layer)

    def step_series(self, layer: str, name: str) -> np.ndarray:
        """A per-step statistic of ``layer``, aligned with :attr:`steps` (float64)."""
        self._check_layer(layer)
        with self._lock:
            if (layer, name) not in self._step_series:
                raise KeyError(
                    f"no per-step series {name!r} for layer {layer!r}."
                    + _suggest(name, self.step_statistics(layer))
                )
            return np.asarray(self._step_series[(layer, name)], dtype=np.float64)

    @property
    def probe(self) -> dict[str, np.ndarray]:
        """The probe batch as numpy arrays: ``"input"`` and, where given, ``"target"``."""
        with self._lock:
            return dict(self._probe)

    @property
    def nbytes(self) -> int:
        """Bytes held by frames now."""
        return self._nbytes

    @property
    def max_bytes(self) -> int:
        """The memory budget for frames, in bytes."""
        return self._max_bytes

    @property
    def thinned(self) -> tuple[int, ...]:
        """Snapshot indices whose frames were dropped to stay within :attr:`max_bytes`."""
        with self._lock:
            return tuple(sorted(self._thinned))

    # ------------------------------------------------------------------ listening
    def add_listener(self, callback: Callable[[Recording], None]) -> None:
        """Call ``callback(recording)`` after each appended snapshot or batch of steps.

        Callbacks run in the thread that appends (often the training thread). An exception in a
        callback is turned into a warning: it never reaches the training loop.
        """
        if not callable(callback):
            raise TypeError(f"a listener must be callable, got {type(callback).__name__}")
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Recording], None]) -> None:
        """Stop calling ``callback``; removing one that is not there does nothing."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            try:
                callback(self)
            except Exception as error:  # a view must never break training
                message = (
                    f"a Recording listener ({callback!r}) failed and was ignored: "
                    f"{type(error).__name__}: {error}"
                )
                # where warnings are made errors, this one must still not reach training
                with contextlib.suppress(Exception):
                    warnings.warn(message, RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ writing
    def set_layers(self, infos: Mapping[str, dict]) -> None:
        """Declare the recorded layers (in order) and what is known about each.

        Called once by the Recorder before the first snapshot; later calls may add layers.
        """
        with self._lock:
            for layer, info in infos.items():
                if layer not in self._layer_info:
                    self._layers.append(layer)
                self._layer_info[layer] = dict(info)

    def set_probe(self, input: np.ndarray, target: np.ndarray | None = None) -> None:
        """Keep the probe batch, so views can show what the frames were computed on."""
        with self._lock:
            self._probe = {"input": _readonly(np.asarray(input))}
            if target is not None:
                self._probe["target"] = _readonly(np.asarray(target))

    def append_snapshot(self, data: SnapshotData) -> int:
        """Add one snapshot whole; returns its index.

        Frames become float32 and read-only. Layers named in ``data`` must have been declared
        with :meth:`set_layers`.
        """
        frames = {}
        added = 0
        for key, array in data.frames.items():
            if key[0] not in self._layer_info:
                raise KeyError(f"layer {key[0]!r} was not declared with set_layers()")
            if array is None:  # missing: the reason is in data.missing
                frames[key] = None
                continue
            if isinstance(array, LazyFrame):  # lives on disk; costs no memory until read
                frames[key] = array
                continue
            frame = _readonly(np.ascontiguousarray(array, dtype=np.float32))
            frames[key] = frame
            added += frame.nbytes
        for key in data.missing:
            if key[0] not in self._layer_info:
                raise KeyError(f"layer {key[0]!r} was not declared with set_layers()")
        with self._lock:
            index = len(self._epochs)
            self._epochs.append(float(data.epoch))
            self._snapshot_steps.append(int(data.step))
            # in the order given, so quantities() lists them as the Recorder chose
            for key in dict.fromkeys([*frames, *data.missing]):
                series = self._frames.setdefault(key, [None] * index)
                series.append(frames.get(key))
                if key in data.missing:
                    self._missing.setdefault(key, {})[index] = data.missing[key]
            for series in self._frames.values():  # quantities absent from this snapshot
                if len(series) == index:
                    series.append(None)
            _append_aligned(self._statistics, data.statistics, index)
            _append_aligned(self._metrics, data.metrics, index)
            self._notes.update(data.notes)
            self._nbytes += added
            if self._nbytes > self._max_bytes:
                self._thin()
        self._notify()
        return index

    def append_steps(self, steps: np.ndarray, series: Mapping[tuple[str, str], np.ndarray]) -> None:
        """Add per-step statistics: ``steps`` (n,) and ``{(layer, name): values (n,)}``."""
        steps = np.asarray(steps, dtype=np.int64).ravel()
        with self._lock:
            start = len(self._step_numbers)
            for key, values in series.items():
                values = np.asarray(values, dtype=np.float64).ravel()
                if values.shape != steps.shape:
                    raise ValueError(
                        f"step series {key} has {values.size} values for {steps.size} steps"
                    )
                column = self._step_series.setdefault(key, [math.nan] * start)
                column.extend(values.tolist())
            self._step_numbers.extend(steps.tolist())
            for column in self._step_series.values():
                column.extend([math.nan] * (len(self._step_numbers) - len(column)))
        self._notify()

    # ------------------------------------------------------------------ helpers
    def mark_storing(self, index: int) -> None:
        """Say that snapshot ``index`` is on its way to disk: it is not thinned meanwhile (the
        writer's queue is bounded, so neither is the overrun)."""
        with self._lock:
            self._storing.add(index)

    def mark_store_failed(self, index: int) -> None:
        """Say that snapshot ``index`` could not be written: it may be thinned again."""
        with self._lock:
            self._storing.discard(index)
            if self._nbytes > self._max_bytes:
                self._thin()

    def mark_stored(self, index: int, frames: Mapping[tuple[str, str], LazyFrame]) -> None:
        """Say that snapshot ``index``'s frames are also on disk, as these lazy frames.

        Past the memory budget, frames that are on disk leave memory first (they stay readable
        from disk); frames already thinned out come back, read from disk when asked for.
        """
        with self._lock:
            self._check_index(index)
            self._storing.discard(index)
            restored = False
            for key, lazy in frames.items():
                series = self._frames.get(key)
                if series is not None and series[index] is None and index in self._thinned:
                    series[index] = lazy
                    restored = True
            if restored:
                self._thinned.discard(index)
            self._stored[index] = dict(frames)
            if self._nbytes > self._max_bytes:
                self._thin()

    def _swap_to_disk(self) -> None:
        """Let in-memory frames that are also on disk go, oldest first, the newest kept."""
        newest = len(self._epochs) - 1
        for index in sorted(self._stored):
            if self._nbytes <= self._max_bytes:
                return
            if index == newest:
                continue
            for key, lazy in self._stored.pop(index).items():
                series = self._frames.get(key)
                if series is not None and isinstance(series[index], np.ndarray):
                    self._nbytes -= series[index].nbytes
                    series[index] = lazy

    def _thin(self) -> None:
        """Past the budget: first move frames that are on disk out of memory; then drop the
        frames of every other snapshot until the budget holds (the newest kept)."""
        self._swap_to_disk()
        newly = []
        # snapshots with nothing in memory to drop, or on their way to disk
        skipped: set[int] = set(self._storing)
        while self._nbytes > self._max_bytes:
            kept = [
                i for i in range(len(self._epochs)) if i not in self._thinned and i not in skipped
            ]
            # candidates: every other kept snapshot, never the first or the newest
            candidates = kept[1:-1][::2]
            if not candidates:
                # only the first and newest are left: drop the first too, keep the newest
                candidates = kept[:-1]
            if not candidates:
                break
            for i in candidates:
                dropped = False
                for series in self._frames.values():
                    array = series[i]
                    if array is not None and not isinstance(array, LazyFrame):
                        self._nbytes -= array.nbytes
                        series[i] = None
                        dropped = True
                if dropped:
                    self._thinned.add(i)
                    newly.append(i)
                else:
                    skipped.add(i)
        if newly:
            labels = ", ".join(f"{self._epochs[i]:g}" for i in sorted(newly)[:10])
            message = (
                f"the recording reached its memory budget of {self._max_bytes / 2**20:.0f} MiB: "
                f"the frames of {len(newly)} older snapshot(s) (epochs {labels}"
                f"{' ...' if len(newly) > 10 else ''}) were dropped; their statistics and "
                "metrics are kept. Raise max_bytes, record fewer layers, take fewer snapshots, "
                "or record to disk (Recorder(path=...)) to keep every frame."
            )
            # where warnings are made errors, this one must still not reach training
            with contextlib.suppress(Exception):
                warnings.warn(message, RecordingBudgetWarning, stacklevel=4)

    def _reason(self, key: tuple[str, str], index: int) -> str:
        epoch = self._epochs[index]
        where = f"{key[1]!r} of layer {key[0]!r} at snapshot {index} (epoch {epoch:g})"
        if index in self._thinned:
            return (
                f"{where} was dropped to keep the recording within its memory budget of "
                f"{self._max_bytes / 2**20:.0f} MiB"
            )
        reason = self._missing.get(key, {}).get(index)
        return f"{where} is missing: {reason or 'it was not recorded at this snapshot'}"

    def _check_layer(self, layer: str) -> None:
        if layer not in self._layer_info:
            raise KeyError(f"no layer {layer!r} in this recording." + _suggest(layer, self._layers))

    def _check_quantity(self, layer: str, quantity: str) -> tuple[str, str]:
        self._check_layer(layer)
        key = (layer, quantity)
        if key not in self._frames and not (key == (INPUT, "probe") and "input" in self._probe):
            raise KeyError(
                f"no quantity {quantity!r} for layer {layer!r}."
                + _suggest(quantity, self.quantities(layer))
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

    # ------------------------------------------------------------ on disk (nnviz_widgets.store)
    # The store is imported on use: a Recording kept in memory never loads it.
    _source = None  # the reader of a Recording opened from disk; None for one built in memory

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the whole recording to a new directory (format in ``docs/format.md``).

        Parameters
        ----------
        path : str or os.PathLike
            A directory that does not exist yet or is empty.
        overwrite : bool
            Replace a recording already in ``path`` (nothing else is ever removed).

        Raises
        ------
        OSError
            ``path`` is not empty or not writable, or a write failed; the message names the path.
        """
        from nnviz_widgets.store import save_recording

        save_recording(self, path, overwrite=overwrite)

    @classmethod
    def open(
        cls, path: str | os.PathLike, follow: bool = False, *, poll_interval: float = 0.5
    ) -> Recording:
        """Open a recording directory; frames stay on disk until ``frame()`` reads them.

        Parameters
        ----------
        path : str or os.PathLike
            A directory written by ``Recording.save`` or by a Recorder recording to disk.
        follow : bool
            Keep picking up snapshots another process is still writing: a daemon thread calls
            :meth:`refresh` every ``poll_interval`` seconds (listeners run in that thread) until
            :meth:`close`. Without it, call :meth:`refresh` yourself when you want news.
        poll_interval : float
            Seconds between two looks at the directory when following.

        Raises
        ------
        FileNotFoundError
            No recording at ``path``.
        ValueError
            The recording is of an unsupported format version, malformed, or names a path
            outside its directory (``nnviz_widgets.store.RecordingFormatError``).
        """
        from nnviz_widgets.store import open_recording

        return open_recording(path, follow=follow, poll_interval=poll_interval, cls=cls)

    def refresh(self) -> int:
        """Append the snapshots written to disk since the last look; return how many.

        Listeners are called for each new snapshot. Does nothing for a recording in memory.
        """
        return 0 if self._source is None else self._source.refresh()

    def close(self) -> None:
        """Stop following the directory (see :meth:`open`); calling it again does nothing."""
        if self._source is not None:
            self._source.close()


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _append_aligned(store: dict, values: Mapping, index: int) -> None:
    for key, value in values.items():
        store.setdefault(key, [math.nan] * index).append(float(value))
    for column in store.values():
        if len(column) == index:
            column.append(math.nan)
