"""A snapshot's record and file: checked, and for a recording opened from its index, read from the
log only when the snapshot is first asked about.

:class:`SnapshotFiles` checks that the file a record names stays inside the recording directory
and has the size the record says (``docs/format.md``, "Reading and following").
:class:`SnapshotRecords` holds where the record of each snapshot an index names lies in the log,
and gives the snapshot's details (frames, missing reasons, previews, histograms) the first time
a Recording asks: one line read and parsed. Damage found then (a missing or truncated file, a
record that is not where the index says) costs that snapshot's frames and gives a warning, never
more.
"""

from __future__ import annotations

import os
import stat
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store import fields
from nnviz_widgets.store.format import (
    LOG,
    RecordingFormatError,
    RecordingStoreWarning,
    Stamp,
    file_stamp,
    inside_directory,
    loads,
    open_regular,
    relative_path,
)
from nnviz_widgets.store.log import decode_snapshot

__all__ = ["SnapshotFiles", "SnapshotRecords", "check_run", "line_of"]

Key = tuple[str, str]


class SnapshotFiles:
    """Checks of the snapshot files records name, each directory resolved once.

    Parameters
    ----------
    root : pathlib.Path
        The recording directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._checked_directories: set[str] = set()  # resolved once: symbolic links

    def check(self, record: dict) -> tuple[Path, str | None, Stamp | None]:
        """The snapshot's file, checked to stay inside the recording, what is wrong with it,
        and its stamp (which its frames check when they read it).

        The cheap checks come first: the text of the path, each directory resolved once, and
        one ``lstat`` for the file. A path outside raises :class:`RecordingFormatError`, a
        record without a path or size ValueError; a path that is not a regular file (a FIFO, a
        directory) is damage, found without opening it.
        """
        what = "a snapshot file in the log"
        relative = fields.text(record.get("file"), "'file'")  # ValueError: a malformed record
        expected = record.get("bytes")
        if expected is not None:
            fields.integer(expected, "'bytes'")
        target = relative_path(self.root, relative, what)
        parent = os.path.dirname(relative) or "."
        if parent not in self._checked_directories:
            inside_directory(self.root, parent, what)
            self._checked_directories.add(parent)
        try:
            status = os.lstat(target)
            if stat.S_ISLNK(status.st_mode):
                inside_directory(self.root, relative, what)  # a link may stay inside
                status = os.stat(target)
        except FileNotFoundError:
            return target, "missing", None
        except OSError as error:
            return target, f"unreadable ({error.strerror})", None
        if not stat.S_ISREG(status.st_mode):
            return target, "not a regular file (a directory, FIFO or device)", None
        if expected is not None and status.st_size != expected:
            return (
                target,
                (f"truncated or damaged ({status.st_size} bytes; {expected!r} were written)"),
                None,
            )
        return target, None, file_stamp(status)


class SnapshotRecords:
    """Where the records of the snapshots an index names lie in the log; their details read the
    first time they are asked for.

    Parameters
    ----------
    log : pathlib.Path
        The log, already checked to stay inside the directory.
    files : SnapshotFiles
        Checks the file a record names.
    known : callable
        ``known()``: the layers and the frame keys the manifest declares now (the reader's).
    run : str, optional
        The run id of the manifest the recording was opened with: a record of another run is
        not this recording's (the directory was replaced).

    Notes
    -----
    Thread-safe: the reader adds rows while Recordings read details (its lock is a leaf, never
    held while a record is read).
    """

    def __init__(
        self,
        log: Path,
        files: SnapshotFiles,
        known: Callable[[], tuple[set, list[Key]]],
        run: str | None = None,
    ) -> None:
        self.log = log
        self._files = files
        self._known = known
        self._run = run
        self._lock = threading.Lock()
        self._rows: list[np.ndarray] = []  # chunks of index rows
        self._starts: list[int] = []
        self._found: tuple[int, dict[int, tuple[int, int]]] | None = None  # see _locate
        self.count = 0

    def add(self, rows: np.ndarray) -> int:
        """Add the snapshots of index rows; return the number of the first."""
        with self._lock:
            first = self.count
            self._rows.append(rows)
            self._starts.append(first)
            self.count += len(rows)
            return first

    def details(self, row: int, position: int) -> SnapshotData:
        """The frames, missing reasons, previews and histograms of snapshot row ``row``, which
        is snapshot ``position`` of the Recording (for messages)."""
        with self._lock:
            chunk = np.searchsorted(self._starts, row, side="right") - 1
            found = self._rows[chunk][row - self._starts[chunk]]
        start, length = int(found["log_offset"]), int(found["log_length"])
        try:
            try:
                record = self._record(start, length, int(found["count"]))
            except ValueError:  # the log changed length before it: the record may lie further
                start, length = self._locate(int(found["count"])) or (start, length)
                record = self._record(start, length, int(found["count"]))
            target, damage, stamp = self._files.check(record)
            if damage:
                self._warn(
                    f"the snapshot file {target} is {damage}; its frames are reported missing, "
                    "the other snapshots are intact"
                )
            layers, _ = self._known()
            return decode_snapshot(
                record, target, damage, position, _checker(layers), scalars=False, stamp=stamp
            )
        except RecordingFormatError as error:
            reason = f"it cannot be read safely ({error})"
        except (OSError, ValueError) as error:
            where = f"{self.log}, line {line_of(self.log, start)} (byte {start})"
            reason = f"its record in {where}, is unreadable ({error})"
        self._warn(f"snapshot {position}: {reason}; its frames are reported missing")
        keys = self._known()[1][: int(found["names"])]  # every key it may have
        return SnapshotData(
            epoch=float(found["epoch"]),
            step=int(found["step"]),
            frames=dict.fromkeys(keys),
            missing=dict.fromkeys(keys, reason),
        )

    def _locate(self, index: int) -> tuple[int, int] | None:
        """Where the log holds the record of the run's snapshot ``index`` (its first), found by
        reading the log (again only once it grew): when a row points elsewhere, as all rows
        after a line that changed length do."""
        with self._lock:
            size = os.stat(self.log).st_size
            if self._found is None or self._found[0] != size:
                self._found = (size, _snapshot_lines(self.log))
            return self._found[1].get(index)

    def _record(self, start: int, length: int, index: int) -> dict:
        """The snapshot record at byte ``start`` of the log; ValueError if there is none."""
        with open_regular(self.log, "the log") as file:
            file.seek(start)
            line = file.read(max(0, min(length, os.fstat(file.fileno()).st_size - start)))
        if len(line) != length or not line.endswith(b"\n"):
            raise ValueError(f"the {LOG} is shorter than its index says")
        record = loads(line)
        if not isinstance(record, dict) or record.get("kind") != "snapshot":
            raise ValueError("the index points at something other than a snapshot record")
        if record.get("index") != index:
            raise ValueError(
                f"the index points at the record of the run's snapshot {record.get('index')!r}, "
                f"not {index}"
            )
        check_run(record, self._run)
        return record

    @staticmethod
    def _warn(message: str) -> None:
        warnings.warn(message, RecordingStoreWarning, stacklevel=3)


def check_run(record: dict, run: str | None) -> None:
    """ValueError if a log record names a run other than ``run`` (records and manifests
    written before run ids existed name none)."""
    found = record.get("run")
    if found is not None and run is not None and found != run:
        raise ValueError(
            f"it is a record of another run ({found!r}, not {run!r}): the directory was "
            "replaced since the recording was opened"
        )


def _snapshot_lines(log: Path) -> dict[int, tuple[int, int]]:
    """``{run's index: (start, length)}`` of the snapshot records in the log's lines."""
    with open_regular(log, "the log") as file:
        data = file.read(os.fstat(file.fileno()).st_size)
    found: dict[int, tuple[int, int]] = {}
    start = 0
    for line in data.split(b"\n")[:-1]:
        if b'"snapshot"' in line:  # parse only what may be a snapshot's record
            try:
                record = loads(line)
                index = record.get("index") if isinstance(record, dict) else None
            except ValueError:
                index = None
            if isinstance(index, int) and record.get("kind") == "snapshot":
                found.setdefault(index, (start, len(line) + 1))
        start += len(line) + 1
    return found


def line_of(log: Path, offset: int) -> int | str:
    """The number (from 1) of the log's line that starts at byte ``offset``, for messages;
    ``"?"`` if the log cannot be read. Reads the log up to there, a MiB at a time."""
    try:
        with open_regular(log, "the log") as file:
            count, left = 1, offset
            while left > 0:
                chunk = file.read(min(left, 1 << 20))
                if not chunk:
                    break
                count += chunk.count(b"\n")
                left -= len(chunk)
            return count
    except (OSError, ValueError):
        return "?"


def _checker(layers: set) -> Callable[[str], None]:
    def check_layer(layer: str) -> None:
        if layer not in layers:
            raise ValueError(f"layer {layer!r} is not declared in the manifest")

    return check_layer
