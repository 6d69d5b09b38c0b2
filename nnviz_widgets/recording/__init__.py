"""The recording layer: what a Recorder captured, as plain numpy data (no torch, no widgets)."""

from nnviz_widgets.recording.previews import block_slices, preview_note
from nnviz_widgets.recording.recording import Recording
from nnviz_widgets.recording.types import (
    DEFAULT_MAX_BYTES,
    HISTOGRAM_BINS,
    INPUT,
    FrameMissingError,
    LazyFrame,
    RecordingBudgetWarning,
    SnapshotData,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "HISTOGRAM_BINS",
    "INPUT",
    "FrameMissingError",
    "LazyFrame",
    "Recording",
    "RecordingBudgetWarning",
    "SnapshotData",
    "block_slices",
    "preview_note",
]
