"""Recordings on disk: the directory format, its writer and its reader (``docs/format.md``)."""

from nnviz_widgets.store.store import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    RecordingFormatError,
    RecordingStoreWarning,
    RecordingWriteError,
    RecordingWriter,
    StoredFrame,
    open_recording,
    save_recording,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "RecordingFormatError",
    "RecordingStoreWarning",
    "RecordingWriteError",
    "RecordingWriter",
    "StoredFrame",
    "open_recording",
    "save_recording",
]
