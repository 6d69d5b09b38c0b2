"""File operations that leave a recording directory readable whatever happens half-way.

- :func:`replace_atomically`: a whole file written under a temporary name, flushed, renamed into
  place (the snapshot files and the manifest): a reader sees the old file or the new, never half.
- :func:`append_whole`: a line appended to the log whole, or cut back off (a torn line would hide
  every later record from readers).
- :func:`write_at`: bytes written at an offset (the step series, written at the end of their
  committed part so that bytes a failed write left behind are overwritten);
  :class:`Appender`: records appended that way to a file readers can do without (the index),
  those a failed write left written again with the next.
- :func:`prepare_directory`: a directory made ready for a new recording, removing an old one only
  when asked and only the files the format names.

These raise :class:`OSError`; the writer turns it into a ``RecordingWriteError`` naming the path.
``sync=False`` skips the flushes to disk: a crash of the process still loses nothing committed,
a power cut may.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nnviz_widgets.store.format import (
    MANIFEST,
    OWN_FILES,
    SNAPSHOT_DIR,
    SNAPSHOT_NAME,
    RecordingWriteError,
    write_error,
)

__all__ = [
    "Appender",
    "append_whole",
    "fsync_directory",
    "open_for_append",
    "prepare_directory",
    "replace_atomically",
    "write_at",
]

_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate line ends


def fsync_directory(path: Path) -> None:
    """Flush a directory, so that a rename in it survives a power cut (where possible)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not possible on every platform
    finally:
        os.close(fd)


def replace_atomically(
    target: Path, write: Callable[[BinaryIO], None], *, sync: bool
) -> os.stat_result:
    """Write ``target`` whole through ``write(file)``, or leave it as it was; return its status
    (its size, and what tells it from any other file: see ``format.file_stamp``).

    The data goes to ``<target>.tmp``, is flushed, and is renamed over ``target``; the directory
    is flushed too. On failure the temporary file is removed and the error raised.
    """
    temporary = target.with_name(target.name + ".tmp")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            if sync:
                os.fsync(file.fileno())
        os.replace(temporary, target)
        if sync:
            fsync_directory(target.parent)
        status = os.stat(target)  # once closed: a network file system may set its time then
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return status


def open_for_append(path: Path) -> int:
    """Open (or create) ``path`` for appending; returns the file descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _BINARY, 0o644)


def append_whole(fd: int, data: bytes, *, sync: bool) -> int:
    """Append ``data`` to the file open as ``fd`` in one write; on failure cut the file back.

    Returns the offset it was written at.
    """
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.ENOSPC, "short write (is the disk full?)")
        if sync:
            os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise
    return start


def write_at(path: Path, data: bytes, offset: int, *, sync: bool) -> None:
    """Write ``data`` at byte ``offset`` of ``path`` (created if needed), then flush it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | _BINARY, 0o644)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        view = memoryview(data)
        while view:  # os.write may write less than asked
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, "nothing could be written (is the disk full?)")
            view = view[written:]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


class Appender:
    """Appends records to a file at the end of those written, keeping those a failed write
    left to write again with the next.

    Parameters
    ----------
    path : pathlib.Path
        The file (created when first written).
    sync : bool
        Flush each write to disk.
    """

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path, self._sync = path, sync
        self.end = 0  # bytes written
        self._waiting: list[bytes] = []

    def append(self, record: bytes) -> OSError | None:
        """Write ``record`` (and any waiting); return the error of a failed write (it waits)."""
        self._waiting.append(record)
        data = b"".join(self._waiting)
        try:
            write_at(self.path, data, self.end, sync=self._sync)
        except OSError as error:
            return error
        self.end += len(data)
        self._waiting.clear()
        return None


def prepare_directory(path: Path, *, overwrite: bool) -> None:
    """Make ``path`` ready for a new recording: created, empty or (``overwrite``) emptied of an
    old recording, writable.

    Raises
    ------
    RecordingWriteError
        ``path`` cannot be created or written, holds other files, or holds a recording and
        ``overwrite`` is false.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        entries = sorted(os.listdir(path))
    except OSError as error:
        raise write_error(error, path, "create the recording directory", starting=True) from error
    if entries:
        others = [e for e in entries if e not in (*OWN_FILES, SNAPSHOT_DIR)]
        if MANIFEST not in entries or others:
            listed = ", ".join((others or entries)[:5])
            raise RecordingWriteError(
                errno.EEXIST,
                f"the recording directory {path} is not empty: it holds other files "
                f"({listed}{' ...' if len(others or entries) > 5 else ''}); choose a new or "
                "empty directory",
                str(path),
            )
        if not overwrite:
            raise RecordingWriteError(
                errno.EEXIST,
                f"{path} already holds a recording; choose a new directory, or pass "
                "overwrite=True to replace it",
                str(path),
            )
        try:
            _remove_recording(path)
        except OSError as error:
            raise write_error(error, path, "remove the old recording in", starting=True) from error
    try:
        (path / SNAPSHOT_DIR).mkdir(exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise write_error(error, path, "write in", starting=True) from error


def _remove_recording(path: Path) -> None:
    # the manifest goes first, so a reader never sees a manifest over a half-removed recording
    for name in OWN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()
    snapshots = path / SNAPSHOT_DIR
    if snapshots.is_dir() and not snapshots.is_symlink():
        for entry in os.listdir(snapshots):
            if SNAPSHOT_NAME.match(entry) or entry.endswith(".tmp"):
                (snapshots / entry).unlink()
