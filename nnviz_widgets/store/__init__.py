"""Recordings on disk: the directory format, its writer and its reader (``docs/format.md``).

A recording directory holds a JSON manifest (what the directory is, its layers, its probe, the
names its index knows), one uncompressed ``.npz`` file per snapshot, one append-only binary file
of per-step series, one of per-snapshot statistics and metrics, an append-only log (JSON lines)
that commits each snapshot and each block of steps once its data is safely on disk, and an index
of the log (fixed-size binary rows) that lets a reader open it without reading the log. Read top
to bottom:

- :mod:`~nnviz_widgets.store.format`: names, versions, errors, JSON encoding, path checks, the
  one way a file of a recording is opened;
- :mod:`~nnviz_widgets.store.files`: atomic and whole-or-nothing file writes;
- :mod:`~nnviz_widgets.store.archive`: arrays read from ``.npz`` files, checked before a byte
  is allocated;
- :mod:`~nnviz_widgets.store.fields`: values read from a recording, checked by type and range;
- :mod:`~nnviz_widgets.store.catalog`: the names the index knows, kept in the manifest;
- :mod:`~nnviz_widgets.store.manifest`: the manifest, made and checked, and its run id;
- :mod:`~nnviz_widgets.store.stored_frame`: a frame on disk, read when asked for;
- :mod:`~nnviz_widgets.store.log`: the log's records, made from snapshots and read back;
- :mod:`~nnviz_widgets.store.index`: the index's rows, made, checked, and planned from;
- :mod:`~nnviz_widgets.store.writer`: :class:`RecordingWriter`;
- :mod:`~nnviz_widgets.store.save`: :func:`save_recording`;
- :mod:`~nnviz_widgets.store.stored_columns`: statistics, metrics and step series read a column
  at a time;
- :mod:`~nnviz_widgets.store.records`: a snapshot's record and file, read when first asked about;
- :mod:`~nnviz_widgets.store.reader`: the reader and :func:`open_recording`.

The store knows the recording layer only by its types (``nnviz_widgets.recording.types``) and
the Recording's public methods; ``Recording.open`` and ``Recording.save`` import it on use.
"""

from nnviz_widgets.store.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    RecordingFormatError,
    RecordingStoreWarning,
    RecordingWriteError,
)
from nnviz_widgets.store.reader import open_recording
from nnviz_widgets.store.save import save_recording
from nnviz_widgets.store.stored_frame import StoredFrame
from nnviz_widgets.store.writer import RecordingWriter

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
