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
:mod:`~nnviz_widgets.recording.columns`.

The class is the reading API; its other parts each have a module: the fields and their checks
(:mod:`~nnviz_widgets.recording.state`), what the Recorder and the store call to fill it
(:mod:`~nnviz_widgets.recording.filling`), and the whole recording to and from files
(:mod:`~nnviz_widgets.recording.transfer`, ``docs/format.md``).
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.recording.filling import RecordingFilling
from nnviz_widgets.recording.frames import entry_values
from nnviz_widgets.recording.histogram import histogram_counts
from nnviz_widgets.recording.state import suggest
from nnviz_widgets.recording.transfer import RecordingTransfer
from nnviz_widgets.recording.types import INPUT, FrameMissingError, LazyFrame

__all__ = ["Recording"]


class Recording(RecordingFilling, RecordingTransfer):
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
                raise KeyError(f"no metric {name!r}." + suggest(name, self._metrics))
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
