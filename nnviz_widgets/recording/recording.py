"""The Recording: what a Recorder captured, as plain numpy data.

A Recording holds, per snapshot, one float32 frame per (layer, quantity), a few scalar
statistics per layer, and the metrics the user passed to ``snapshot()``; between snapshots it
holds per-step statistics series. It knows nothing of torch or of widgets, so a recording can be
read, kept and shown where no model and no torch exist.

It is safe to read from one thread while another appends: a snapshot becomes visible whole or not
at all. Its memory is bounded by ``max_bytes``; past that budget the frames of every other older
snapshot are thinned out (never the scalar statistics, metrics or step series), and the
recording says so through a warning, :attr:`Recording.thinned` and the reason given by
:meth:`Recording.missing_reason`. The frames and the budget live in
:mod:`~nnviz_widgets.recording.frames`, the scalar series in
:mod:`~nnviz_widgets.recording.columns`; this module is the API over both.

On disk (``docs/format.md``): :meth:`Recording.open` and :meth:`Recording.save` import
:mod:`nnviz_widgets.store` when called, so a Recording kept in memory never loads it; the store
in turn reads and fills a Recording through the public methods here only.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from nnviz_widgets.recording.columns import Columns
from nnviz_widgets.recording.export import write_csv, write_npz
from nnviz_widgets.recording.frames import FrameSeries, as_frame, dropped_message, entry_values
from nnviz_widgets.recording.histogram import histogram_counts
from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    INPUT,
    FrameMissingError,
    LazyFrame,
    RecordingBudgetWarning,
    RecordingSource,
    SnapshotData,
    StoredSnapshots,
    StoredSteps,
)
from nnviz_widgets.threads import Listeners, warn_quietly

__all__ = ["Recording"]


def _suggest(name: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    listed = ", ".join(repr(o) for o in options[:20]) + (" ..." if len(options) > 20 else "")
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Known: {listed or 'none'}."


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


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
    source : RecordingSource, optional
        For a recording read from disk, the reader that :meth:`refresh` and :meth:`close` call
        (``Recording.open`` passes it); None for a recording built in memory.

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

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"Recording({len(self._epochs)} snapshots, {len(self._layer_info)} layers, "
                f"{len(self._step_series)} steps, {self._frames.nbytes / 2**20:.1f} MiB of frames)"
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
            return tuple(layer for layer in self._layer_info if layer != INPUT)

    def layer_info(self, layer: str) -> dict:
        """What is known about a layer: ``type`` (class name), ``calls`` per forward, and more."""
        self._check_layer(layer)
        return dict(self._layer_info.get(layer, {}))

    def layer_infos(self) -> dict[str, dict]:
        """Every declared layer (:data:`INPUT` included) and its info, as :meth:`set_layers`
        was given them."""
        with self._lock:
            return {layer: dict(info) for layer, info in self._layer_info.items()}

    def quantities(self, layer: str) -> tuple[str, ...]:
        """The frame quantities recorded for ``layer`` (see the class notes for their names)."""
        self._check_layer(layer)
        with self._lock:
            found = tuple(q for (lay, q) in self._frames if lay == layer)
            return ("probe", *found) if layer == INPUT and "input" in self._probe else found

    def statistics(self, layer: str) -> tuple[str, ...]:
        """The names of the per-snapshot scalar statistics recorded for ``layer``."""
        return self._names(self._statistics, layer)

    def frame(self, layer: str, quantity: str, index: int = -1) -> np.ndarray:
        """One recorded frame, as a float32 array (read-only), at the best size held.

        The tensor itself where the recording has it: in memory for tensors small enough (see
        ``Recorder(memory_per_snapshot=...)``), on disk for a recording made with
        ``Recorder(path=...)`` or opened from a directory. Otherwise, for a large tensor
        recorded in memory only, its block-mean preview (:meth:`preview`): then
        :meth:`frame_shape` is larger than the array's shape, and :func:`block_slices` says
        which block of the tensor each value is the mean of. A tensor past the Recorder's
        ``max_frame_values`` is block-averaged even on disk (:meth:`note` says so).

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
            key, i, entry = self._entry(layer, quantity, index)
            full = self._frames.full(key, i)
        # read outside the lock: disk may be slow
        return entry_values(full if full is not None else entry)

    def preview(self, layer: str, quantity: str, index: int = -1) -> np.ndarray:
        """What the views draw: the frame kept in memory (the tensor itself, or its block-mean
        preview), as float32; a recording opened from disk reads the preview, never the full
        tensor. Same parameters and errors as :meth:`frame`."""
        with self._lock:
            _, _, entry = self._entry(layer, quantity, index)
        return entry_values(entry)

    def frame_shape(self, layer: str, quantity: str, index: int = -1) -> tuple[int, ...]:
        """The shape of the recorded tensor, whatever size is held of it (no frame is read
        where the recording knows the shape). Same parameters and errors as :meth:`frame`."""
        with self._lock:
            key, i, entry = self._entry(layer, quantity, index)
            shape = self._frames.full_shape(key, i)
        if shape is not None:
            return shape
        if isinstance(entry, LazyFrame) and entry.shape is not None:
            return tuple(entry.shape)
        return tuple(entry_values(entry).shape)

    def exact(self, layer: str, quantity: str, index: int, where: tuple) -> np.ndarray | None:
        """The tensor's values in the block ``where`` (slices or integers over
        :meth:`frame_shape`), exactly: from memory where the frame is the tensor itself, from
        disk (reading that block alone) where the tensor is stored there; None where the
        recording holds only a preview of it. Same parameters and errors as :meth:`frame`."""
        with self._lock:
            key, i, entry = self._entry(layer, quantity, index)
            full = self._frames.full(key, i)
            preview_only = full is None and self._frames.full_shape(key, i) is not None
        if preview_only:
            return None
        source = full if full is not None else entry
        if isinstance(source, LazyFrame):
            return source.read(where)
        return np.array(entry_values(source)[where])

    def histogram(self, layer: str, quantity: str, index: int = -1) -> np.ndarray | None:
        """``HISTOGRAM_BINS`` counts of the tensor's finite values in equal bins from its
        ``min_<quantity>`` to its ``max_<quantity>`` statistic (float32), or None where none was
        recorded. Past 262,144 values the Recorder counts an evenly strided sample and scales
        the counts to the tensor's size. A tensor kept whole has its values counted when asked
        (:func:`~nnviz_widgets.recording.histogram.histogram_counts`). Same parameters and
        errors as :meth:`frame`."""
        with self._lock:
            key, i, entry = self._entry(layer, quantity, index)
            counts = self._frames.histogram(key, i)
            whole = self._frames.full_shape(key, i) is None
        if counts is None:
            return histogram_counts(entry_values(entry)) if whole else None
        if isinstance(counts, LazyFrame):
            try:
                counts = counts.load()
            except FrameMissingError:
                return None
        return counts

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

    def missing_reason(self, layer: str, quantity: str, index: int = -1) -> str | None:
        """Why a frame is missing, in words, or None when it is there."""
        with self._lock:
            key = self._check_quantity(layer, quantity)
            i = self._check_index(index)
            if key == (INPUT, "probe"):
                return None
            return None if self._frames.get(key, i) is not None else self._why_missing(key, i)

    def note(self, layer: str, quantity: str) -> str | None:
        """A note on how a quantity's frames were reduced when recorded, if they were."""
        with self._lock:
            return self._notes.get(self._check_quantity(layer, quantity))

    def statistic(self, layer: str, name: str) -> np.ndarray:
        """One scalar statistic per snapshot (float64; NaN where it could not be computed)."""
        return self._column(self._statistics, layer, name, "statistic")

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
            return self._metrics.column(name)

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """Every metric, as ``{name: values per snapshot}``."""
        with self._lock:
            return {name: self._metrics.column(name) for name in self._metrics}

    @property
    def steps(self) -> np.ndarray:
        """The step number of each entry of the per-step series (int64)."""
        with self._lock:
            return self._step_series.labels()

    def step_statistics(self, layer: str) -> tuple[str, ...]:
        """Names of the per-step series recorded for ``layer``."""
        return self._names(self._step_series, layer)

    def step_series(self, layer: str, name: str) -> np.ndarray:
        """A per-step statistic of ``layer``, aligned with :attr:`steps` (float64)."""
        return self._column(self._step_series, layer, name, "per-step series")

    @property
    def probe(self) -> dict[str, np.ndarray]:
        """The probe batch as numpy arrays: ``"input"`` and, where given, ``"target"``."""
        with self._lock:
            return dict(self._probe)

    @property
    def nbytes(self) -> int:
        """Bytes held by frames now."""
        return self._frames.nbytes

    @property
    def max_bytes(self) -> int:
        """The memory budget for frames, in bytes."""
        return self._frames.max_bytes

    @property
    def thinned(self) -> tuple[int, ...]:
        """Snapshot indices whose frames were dropped to stay within :attr:`max_bytes`."""
        with self._lock:
            return self._frames.thinned

    # ------------------------------------------------------------------ reading it whole
    def to_npz(self, path: str | os.PathLike, *, frames: Iterable[tuple[str, str]] = ()) -> None:
        """Write every number to one ``.npz`` file: per snapshot ``snapshots/epoch``,
        ``snapshots/step``, ``snapshots/metric/<name>``, ``snapshots/statistic/<layer>/<name>``;
        per step ``steps/step`` and ``steps/step/<layer>/<name>``; and for each ``(layer,
        quantity)`` in ``frames``, ``frames/<layer>/<quantity>``, its frames with a row per
        snapshot (NaN where missing). Read it with ``numpy.load(path)``; nothing in it needs
        pickle. See :mod:`nnviz_widgets.recording.export`."""
        write_npz(self, path, frames)

    def to_csv(self, path: str | os.PathLike, *, per: str = "snapshot") -> None:
        """Write one table as CSV: a row per snapshot (``per="snapshot"``: epoch, step, every
        metric and statistic) or per step with statistics (``per="step"``: every per-step
        series); columns named as in :meth:`to_npz`, e.g. ``metric/loss``,
        ``statistic/conv1/grad_norm``. ``pandas.read_csv(path)`` reads it."""
        write_csv(self, path, per=per)

    def snapshot_data(self, index: int = -1) -> SnapshotData:
        """One snapshot's whole content, as :meth:`append_snapshot` takes it; what
        ``Recording.save`` writes.

        Returns
        -------
        SnapshotData
            ``frames`` has every quantity of the recording (:data:`INPUT`'s ``"probe"`` aside:
            see :attr:`probe`), in order: a read-only float32 array (a frame kept on disk is
            read), or None where the frame is missing. ``missing`` has the reasons as they were
            given, not the sentences of :meth:`missing_reason`: a frame dropped for memory gives
            ``"dropped to stay within the memory budget"``, one on disk that cannot be read its
            error. ``thinned`` says whether the memory budget took this snapshot's frames;
            ``notes`` has every quantity's note, as notes are per quantity.
        """
        with self._lock:
            i = self._check_index(index)
            frames, missing = self._frames.snapshot(i)
            reduced, full, histograms = self._frames.extras(i)
            data = SnapshotData(
                epoch=self._epochs[i],
                step=self._snapshot_steps[i],
                frames=frames,
                missing=missing,
                statistics=self._statistics.row(i),
                metrics=self._metrics.row(i),
                notes=dict(self._notes),
                thinned=self._frames.is_thinned(i),
                reduced=reduced,
                full=full,
                histograms=histograms,
            )
        # read outside the lock: disk may be slow
        for key, entry in frames.items():
            if entry is None:
                continue
            try:
                frames[key] = entry_values(entry)
            except FrameMissingError as error:
                frames[key] = None
                missing[key] = str(error)
        for table in (full, histograms):
            for key, entry in list(table.items()):
                try:
                    table[key] = entry.load() if isinstance(entry, LazyFrame) else entry
                except FrameMissingError:
                    del table[key]  # the preview still stands for the tensor
        return data

    def step_data(self) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]:
        """Every per-step series, as :meth:`append_steps` takes them: ``(steps, {(layer, name):
        values})``, float64 with NaN where a series has no value."""
        with self._lock:
            series = {key: self._step_series.column(key) for key in self._step_series}
            return self._step_series.labels(), series

    def diagnose(self) -> list:
        """What is wrong with this training: :func:`nnviz_widgets.diagnose` of this recording
        (a list of ``Finding``, errors first; empty for a healthy training)."""
        from nnviz_widgets.diagnosis import diagnose  # recording does not need it to load

        return diagnose(self)

    # ------------------------------------------------------------------ listening
    def add_listener(self, callback: Callable[[Recording], None]) -> None:
        """Call ``callback(recording)`` after each appended snapshot or batch of steps.

        Callbacks run in the thread that appends (often the training thread). An exception in a
        callback is turned into a warning: it never reaches the training loop.
        """
        self._listeners.add(callback)

    def remove_listener(self, callback: Callable[[Recording], None]) -> None:
        """Stop calling ``callback``; removing one that is not there does nothing."""
        self._listeners.remove(callback)

    # ------------------------------------------------------------------ writing
    def set_layers(self, infos: Mapping[str, dict]) -> None:
        """Declare the recorded layers (in order) and what is known about each.

        Called once by the Recorder before the first snapshot; later calls may add layers.
        """
        with self._lock:
            for layer, info in infos.items():
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
        with :meth:`set_layers`. A snapshot marked ``thinned`` (read back from a saved
        recording) explains its missing frames by the memory budget.
        """
        for key in [*data.frames, *data.missing]:
            if key[0] not in self._layer_info:
                raise KeyError(f"layer {key[0]!r} was not declared with set_layers()")
        # converted outside the lock, and before anything is appended: whole or not at all. A
        # missing frame (None) has its reason in data.missing; a LazyFrame lives on disk and
        # costs no memory until read
        frames = {
            key: array if array is None or isinstance(array, LazyFrame) else as_frame(array)
            for key, array in data.frames.items()
        }
        epoch, step = float(data.epoch), int(data.step)
        statistics = {key: float(value) for key, value in data.statistics.items()}
        metrics = {name: float(value) for name, value in data.metrics.items()}
        with self._lock:
            index = self._frames.append(
                frames,
                data.missing,
                thinned=data.thinned,
                reduced=data.reduced,
                full=data.full,
                histograms=data.histograms,
            )
            self._epochs.append(epoch)
            self._snapshot_steps.append(step)
            self._statistics.append(statistics)
            self._metrics.append(metrics)
            self._notes.update(data.notes)
            self._keep_within_budget()
        self._listeners.emit(self)
        return index

    def append_steps(self, steps: np.ndarray, series: Mapping[tuple[str, str], np.ndarray]) -> None:
        """Add per-step statistics: ``steps`` (n,) and ``{(layer, name): values (n,)}``."""
        steps = np.asarray(steps, dtype=np.int64).ravel()
        with self._lock:
            self._step_series.extend(steps.size, series, labels=steps)
        self._listeners.emit(self)

    def append_stored(self, stored: StoredSnapshots) -> int:
        """Add snapshots kept on disk without reading them; returns the index of the first.

        What ``Recording.open`` appends. Their epochs, steps and the names of their statistics,
        metrics and quantities are known at once; the values of a statistic or metric are read
        from disk the first time it is asked for, and a snapshot's frames, missing reasons and
        histograms the first time one of them is (:class:`StoredSnapshots`). Listeners are
        called once.
        """
        for layer, _ in stored.keys:
            if layer not in self._layer_info:
                raise KeyError(f"layer {layer!r} was not declared with set_layers()")
        count = len(stored.epochs)
        with self._lock:
            first = len(self._epochs)
            if count:
                self._frames.append_stored(stored)
                self._epochs.extend(np.asarray(stored.epochs, dtype=np.float64).tolist())
                self._snapshot_steps.extend(np.asarray(stored.steps, dtype=np.int64).tolist())
                end = stored.first + count
                self._statistics.attach(
                    stored.statistics, stored.first, end, stored.statistic_names
                )
                self._metrics.attach(stored.metrics, stored.first, end, stored.metric_names)
                self._notes.update(stored.notes)
        if count:
            self._listeners.emit(self)
        return first

    def append_stored_steps(self, stored: StoredSteps) -> None:
        """Add per-step series kept on disk without reading them (:class:`StoredSteps`): a
        series is read the first time it is asked for. Listeners are called once."""
        if not stored.rows:
            return
        with self._lock:
            end = stored.first + stored.rows
            self._step_series.attach(stored.source, stored.first, end, stored.names)
        self._listeners.emit(self)

    def mark_storing(self, index: int) -> None:
        """Say that snapshot ``index`` is on its way to disk: it is not thinned meanwhile (the
        writer's queue is bounded, so neither is the overrun)."""
        with self._lock:
            self._frames.mark_storing(index)

    def mark_store_failed(self, index: int) -> None:
        """Say that snapshot ``index`` could not be written: it may be thinned again."""
        with self._lock:
            self._frames.mark_store_failed(index)
            self._keep_within_budget()

    def mark_stored(
        self,
        index: int,
        frames: Mapping[tuple[str, str], LazyFrame],
        previews: Mapping[tuple[str, str], LazyFrame] | None = None,
        histograms: Mapping[tuple[str, str], LazyFrame] | None = None,
    ) -> None:
        """Say that snapshot ``index``'s frames are also on disk, as these lazy frames:
        ``frames`` the tensors at full size, ``previews`` the previews of those kept as
        previews, ``histograms`` their histograms.

        Past the memory budget, frames that are on disk leave memory first (they stay readable
        from disk); frames already thinned out come back, read from disk when asked for.
        """
        with self._lock:
            self._frames.mark_stored(self._check_index(index), frames, previews, histograms)
            self._keep_within_budget()

    # ------------------------------------------------------------------ helpers
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
                raise KeyError(f"no {what} {name!r} for layer {layer!r}." + _suggest(name, known))
            return columns.column((layer, name))

    def _check_layer(self, layer: str) -> None:
        if layer not in self._layer_info:
            raise KeyError(
                f"no layer {layer!r} in this recording." + _suggest(layer, self._layer_info)
            )

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

        Opening costs about the same whatever the number of snapshots (``docs/format.md``,
        "Reading and following"): epochs, steps and the names of statistics, metrics and
        quantities are known at once; a statistic's or metric's values are read when first
        asked for, and a snapshot's frame list and missing reasons when the snapshot is first
        asked about (a damaged snapshot file is reported then, by a warning).

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

        return open_recording(path, cls=cls, follow=follow, poll_interval=poll_interval)

    def refresh(self) -> int:
        """Append the snapshots written to disk since the last look; return how many.

        Listeners are called for each new snapshot. Does nothing for a recording in memory.
        """
        return 0 if self._source is None else self._source.refresh()

    def close(self) -> None:
        """Stop following the directory (see :meth:`open`); calling it again does nothing."""
        if self._source is not None:
            self._source.close()
