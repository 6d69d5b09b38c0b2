"""The log and the index of a writer's run: where a record is committed, then indexed.

:class:`CommitFiles` holds the open log and the index (``docs/format.md``, "How writing stays
safe"): a record is committed by its line appended whole to the log, and an index row follows
it. A failed log write becomes a :class:`~nnviz_widgets.store.format.RecordingWriteError`
naming the log; a failed index write costs readers time, never data, and is reported once.
The data files a record points to (a snapshot's ``.npz``, ``scalars.bin``, ``steps.bin``) are
written by :class:`~nnviz_widgets.store.writer.RecordingWriter` before the record is committed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from pathlib import Path

from nnviz_widgets.store.files import (
    Appender,
    append_whole,
    open_for_append,
)
from nnviz_widgets.store.format import (
    INDEX,
    LOG,
    RecordingStoreWarning,
    dumps,
    write_error,
)

__all__ = ["CommitFiles"]


class CommitFiles:
    """The log and the index of one writer's run.

    Parameters
    ----------
    path : pathlib.Path
        The recording directory.
    sync : bool
        Flush each log line to the disk before going on.
    """

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path = path
        self._sync = sync
        # not flushed to disk: after a power cut a reader checks each row of the index and
        # parses the log past the last sound one
        self._rows = Appender(path / INDEX, sync=False)
        self._index_failed = False
        self.log_fd: int | None = None
        """The log's file descriptor, open for appending between :meth:`open_log` and
        :meth:`close_log`."""

    def open_log(self) -> None:
        """Open the log for appending (OSError if it cannot be)."""
        self.log_fd = open_for_append(self.path / LOG)

    def close_log(self) -> None:
        """Close the log; safe to call more than once."""
        if self.log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.log_fd)
            self.log_fd = None

    def append_log(self, record: dict, data_path: Path) -> tuple[int, int]:
        """Commit a record: its line appended to the log; return where it lies (offset, bytes)."""
        log = self.path / LOG
        line = (dumps(record) + "\n").encode("utf-8")
        try:
            if self.log_fd is None:
                raise OSError(errno.EBADF, "the log is not open")
            return append_whole(self.log_fd, line, sync=self._sync), len(line)
        except OSError as error:
            raise write_error(error, log, f"commit {data_path.name} to") from error

    def index(self, row: bytes) -> None:
        """Write an index row after its record is committed. A failure costs readers time, never
        data (they parse the log where the index stops): it is reported once, and the row
        written again with the next (:class:`~nnviz_widgets.store.files.Appender`)."""
        error = self._rows.append(row)
        if error is not None and not self._index_failed:
            self._index_failed = True
            warnings.warn(
                f"could not write the index of {self.path} ({error}); readers will parse the "
                "log instead, which is slower",
                RecordingStoreWarning,
                stacklevel=4,
            )
