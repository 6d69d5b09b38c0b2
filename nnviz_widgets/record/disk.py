"""Writing a recording to disk as it records, from a background thread.

The training thread only queues work (it waits only when the disk is eight jobs behind); a
:class:`~nnviz_widgets.threads.Worker` writes snapshots and step series through a
:class:`~nnviz_widgets.store.RecordingWriter` (format in ``docs/format.md``). A failed write
never stops training: it becomes a warning, each distinct failure once, and the recording stays
complete in memory.
"""

from __future__ import annotations

import os

import numpy as np

from nnviz_widgets.recording import Recording, SnapshotData
from nnviz_widgets.store import RecordingWriter
from nnviz_widgets.threads import Worker, warn_quietly

__all__ = ["DiskWriter"]

#: Jobs queued before the training thread waits for the disk.
_MAX_PENDING = 8
#: Most bytes of snapshots queued for disk: with whole tensors going to disk a snapshot may be
#: hundreds of MiB, and the host memory the queue holds must stay bounded too.
_MAX_PENDING_BYTES = 512 << 20


class DiskWriter:
    """Writes what a Recorder records to a recording directory, in the background.

    Parameters
    ----------
    path : str or os.PathLike
        The recording directory. An unusable path fails here, in the calling thread.
    recording : Recording
        The Recording being filled: told when a snapshot is stored or could not be.
    layers : dict
        ``{layer: info}`` as given to :meth:`Recording.set_layers`, written at once.
    overwrite : bool
        Replace a recording already in ``path``.
    max_bytes : int
        The Recording's memory budget, kept in the directory.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        recording: Recording,
        layers: dict[str, dict],
        *,
        overwrite: bool,
        max_bytes: int,
    ) -> None:
        writer = RecordingWriter(path, overwrite=overwrite, max_bytes=max_bytes)
        try:
            writer.write_layers(layers)
            probe = recording.probe
            if probe:
                writer.write_probe(probe["input"], probe.get("target"))
        except BaseException:
            writer.close()
            raise
        self._writer = writer
        self._recording = recording
        self._reported: set[str] = set()  # failures already warned of (touched by the worker)
        self._worker = Worker("writer", max_pending=_MAX_PENDING, max_bytes=_MAX_PENDING_BYTES)

    def write_layers(self, layers: dict[str, dict]) -> None:
        """Queue new or changed layer descriptions (the model changed): written before any
        snapshot queued after them."""
        if layers:
            self._worker.submit(lambda: self._write_layers(layers))

    def _write_layers(self, layers: dict[str, dict]) -> None:
        try:
            self._writer.write_layers(layers)
        except Exception as error:  # the disk must never stop training
            self._report(error)

    def write_snapshot(self, index: int, data: SnapshotData) -> None:
        """Queue snapshot ``index``; the Recording was told it is on its way (mark_storing)."""
        held = sum(
            array.nbytes
            for table in (data.frames, data.full)
            for array in table.values()
            if isinstance(array, np.ndarray)
        )
        if not self._worker.submit(lambda: self._write_snapshot(index, data), nbytes=held):
            self._recording.mark_store_failed(index)

    def write_steps(self, steps: np.ndarray, series: dict[tuple[str, str], np.ndarray]) -> None:
        """Queue a block of per-step series."""
        self._worker.submit(lambda: self._write_steps(steps, series))

    def close(self) -> None:
        """Write what is queued, then close the directory; calling it again does nothing."""
        self._worker.close()
        try:
            self._writer.close()
        except OSError as error:
            self._report(error)

    def _write_snapshot(self, index: int, data: SnapshotData) -> None:
        try:
            stored = self._writer.write_snapshot(index, data)
            self._recording.mark_stored(index, stored.frames, stored.previews, stored.histograms)
        except Exception as error:  # the disk must never stop training
            self._recording.mark_store_failed(index)
            self._report(error)

    def _write_steps(self, steps: np.ndarray, series: dict[tuple[str, str], np.ndarray]) -> None:
        try:
            self._writer.write_steps(steps, series)
        except Exception as error:  # the disk must never stop training
            self._report(error)

    def _report(self, error: Exception) -> None:
        kind = f"{type(error).__name__}:{getattr(error, 'errno', None)}"
        if kind in self._reported:  # the same failure for every snapshot: say it once
            return
        self._reported.add(kind)
        warn_quietly(
            f"writing the recording failed: {error}. Training goes on; the recording stays "
            "in memory"
        )
