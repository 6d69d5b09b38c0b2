"""How a Recording is filled: the methods the Recorder, the store and ``Recording.open`` call
to declare layers, keep the probe, append snapshots and step series (in memory or kept on disk),
and say where the writer has put a snapshot's frames; and the listeners they wake.

Readers never call these; a snapshot becomes visible whole or not at all (the state's lock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Self

import numpy as np

from nnviz_widgets.recording.frames import as_frame
from nnviz_widgets.recording.state import RecordingState, readonly
from nnviz_widgets.recording.types import LazyFrame, SnapshotData, StoredSnapshots, StoredSteps

__all__ = ["RecordingFilling"]


class RecordingFilling(RecordingState):
    """Appending to a Recording, and listening to it; see ``Recording``."""

    def add_listener(self, callback: Callable[[Self], None]) -> None:
        """Call ``callback(recording)`` after each appended snapshot or batch of steps.

        Callbacks run in the thread that appends (often the training thread). An exception in a
        callback is turned into a warning: it never reaches the training loop.
        """
        self._listeners.add(callback)

    def remove_listener(self, callback: Callable[[Self], None]) -> None:
        """Stop calling ``callback``; removing one that is not there does nothing."""
        self._listeners.remove(callback)

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
            self._probe = {"input": readonly(np.asarray(input))}
            if target is not None:
                self._probe["target"] = readonly(np.asarray(target))

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
