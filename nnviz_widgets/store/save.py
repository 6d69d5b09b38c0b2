"""Writing a whole Recording to a new directory: what ``Recording.save`` does.

:func:`save_recording` reads the Recording through its public API only and writes it through a
:class:`~nnviz_widgets.store.writer.RecordingWriter`, as a Recorder would have.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store.writer import RecordingWriter

__all__ = ["save_recording"]


class SavedRecording(Protocol):
    """What :func:`save_recording` reads of a Recording: its public reading API."""

    max_bytes: int
    probe: dict[str, np.ndarray]

    def __len__(self) -> int: ...
    def layer_infos(self) -> dict[str, dict]: ...
    def snapshot_data(self, index: int) -> SnapshotData: ...
    def step_data(self) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]: ...


def save_recording(
    recording: SavedRecording, path: str | os.PathLike, *, overwrite: bool = False
) -> None:
    """Write a whole Recording to a new directory; what ``Recording.save`` does.

    Frames kept on disk (a recording opened from elsewhere) are read and written again; one
    that cannot be read is saved as missing, with the reason. A recording still growing is
    saved as far as it had got when this began (its step series as far as they got by the end).

    Raises
    ------
    RecordingWriteError
        ``path`` is not empty or not writable, or a write failed.
    """
    count = len(recording)
    layers = recording.layer_infos()  # declared before any snapshot that uses them
    probe = recording.probe
    with RecordingWriter(path, overwrite=overwrite, max_bytes=recording.max_bytes) as writer:
        writer.write_layers(layers)
        if probe:
            writer.write_probe(probe["input"], probe.get("target"))
        for index in range(count):
            data = recording.snapshot_data(index)
            if index:
                data.notes = {}  # notes are per quantity, not per snapshot: written once
            writer.write_snapshot(index, data)
        steps, series = recording.step_data()
        if steps.size:
            writer.write_steps(steps, series)
