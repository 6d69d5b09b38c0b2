"""The recording layer: what a Recorder captured, as plain numpy data (no torch, no widgets)."""

from nnviz_widgets.recording.recording import Recording
from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    INPUT,
    FrameMissingError,
    LazyFrame,
    RecordingBudgetWarning,
    SnapshotData,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "INPUT",
    "FrameMissingError",
    "LazyFrame",
    "Recording",
    "RecordingBudgetWarning",
    "SnapshotData",
]
