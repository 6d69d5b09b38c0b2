"""Reading part of the log the first way: each record parsed, decoded and appended whole.

How a recording without an index is read (one written before the index existed), and the
records of one with an index that its index does not cover: rows not written yet, or damaged
(``docs/format.md``, "Reading and following"). A damaged line, a malformed record or an
unreadable block of steps is reported (naming its line) and skipped, never more; a record naming
a file outside the directory refuses the whole recording when opening, and is skipped while
following.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store.format import (
    RecordingFormatError,
    RecordingStoreWarning,
    inside_directory,
    open_regular,
)
from nnviz_widgets.store.log import (
    decode_snapshot,
    decode_steps,
    merge_step_blocks,
    parse_lines,
    step_span,
)
from nnviz_widgets.store.records import SnapshotFiles, check_run, line_of

__all__ = ["LogReplay"]

Steps = tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]


class Appended(Protocol):
    """What :class:`LogReplay` needs of a Recording: its public writing methods."""

    def __len__(self) -> int: ...
    def append_snapshot(self, data: SnapshotData) -> int: ...
    def append_steps(self, steps: np.ndarray, series: Mapping) -> None: ...


class LogReplay:
    """Parses a part of the log and appends what its records commit.

    Parameters
    ----------
    root : pathlib.Path
        The recording directory.
    manifest : dict
        Its manifest (checked): where the step file lies, and its run id.
    files : SnapshotFiles
        Checks the snapshot files records name.
    check_layer : callable
        ``check_layer(layer)`` raises ValueError for a layer the manifest does not declare (after
        reading it again).
    """

    def __init__(
        self,
        root: Path,
        manifest: dict,
        files: SnapshotFiles,
        check_layer: Callable[[str], None],
    ) -> None:
        self.path = root
        self.manifest = manifest
        self._files = files
        self._check_layer = check_layer

    def read(
        self,
        recording: Appended,
        log: Path,
        span: tuple[int, int],
        initial: bool,
        place: Callable[[dict, int], str | None],
        verify: Callable[[], None],
    ) -> tuple[int, int]:
        """Append what the complete lines of the log from ``span[0]`` to ``span[1]`` commit;
        return how many snapshots, and where the complete lines end.

        ``place(record, position)`` is asked before a snapshot is appended at ``position``: why
        it does not belong there (its place in the run is not after the last one's, say), or
        None. ``verify()`` is called once the lines are read, before anything is appended: it
        raises if they may not be the recording's own (the directory replaced). When opening
        (``initial``), steps make one append.
        """
        start, end = span
        data = _read_part(log, "the log", start, end, missing_ok=True)
        complete = data.rfind(b"\n") + 1  # a line without its newline is still being written
        records, numbers, damaged = parse_lines(data[:complete])
        where = _Lines(log, start)
        for number, error in damaged:
            _warn(f"{where(number)} is damaged ({error}); it was skipped")
        verify()
        step_bytes = self._read_steps(records)
        blocks = []
        added = 0
        for record, number in zip(records, numbers):
            if record.get("kind") == "snapshot":
                data = self._snapshot(record, len(recording), where(number), refuse=initial)
                wrong = None if data is None else place(record, len(recording))
                if wrong is not None:
                    _warn(f"the snapshot on {where(number)} was skipped: {wrong}")
                elif data is not None:
                    recording.append_snapshot(data)
                    added += 1
            elif record.get("kind") == "steps":
                block = self._steps(record, *step_bytes, where(number))
                if block is not None and initial:
                    blocks.append(block)  # one call, whatever the number of blocks
                elif block is not None:
                    recording.append_steps(*block)
        if blocks:
            recording.append_steps(*merge_step_blocks(blocks))
        return added, start + complete

    def _snapshot(
        self, record: dict, position: int, where: str, *, refuse: bool
    ) -> SnapshotData | None:
        """The snapshot a record commits; None (and a warning naming its line) if it cannot be
        read.

        A path outside the directory raises :class:`RecordingFormatError` when ``refuse``;
        otherwise (while following) it is reported and the records after it still count.
        """
        try:
            check_run(record, self.manifest.get("run"))
            target, damage, stamp = self._files.check(record)
            if damage:
                _warn(
                    f"the snapshot file {target} is {damage}; its frames are reported missing, "
                    "the other snapshots are intact"
                )
            return decode_snapshot(record, target, damage, position, self._check_layer, stamp=stamp)
        except RecordingFormatError as error:
            if refuse:
                raise
            _warn(f"{error}; the snapshot on {where} was skipped")
            return None
        except ValueError as error:
            _warn(f"the snapshot record on {where} is malformed ({error}); it was skipped")
            return None

    def _read_steps(self, records: list[dict]) -> tuple[int, bytes]:
        """Read, in one go, the part of the step file these records commit: (offset, bytes)."""
        span = step_span(records)
        if span is None:
            return 0, b""
        start, end = span
        target = inside_directory(self.path, self.manifest["steps"], "the step series file")
        try:
            return start, _read_part(target, "the step series file", start, end)
        except (OSError, ValueError) as error:
            _warn(f"the step series file {target} could not be read ({error})")
            return start, b""

    def _steps(self, record: dict, base: int, buffer: bytes, where: str) -> Steps | None:
        try:
            return decode_steps(record, base, buffer, self.path / self.manifest["steps"])
        except ValueError as error:
            _warn(f"the block of step series on {where} could not be read ({error}); skipped")
            return None


class _Lines:
    """Says where a line of a part of the log lies: ``line N of <log>``, N counted from the
    log's start (the lines before the part are counted the first time one is asked for)."""

    def __init__(self, log: Path, start: int) -> None:
        self._log, self._start = log, start
        self._before: int | str | None = None

    def __call__(self, number: int) -> str:
        if self._before is None:
            self._before = line_of(self._log, self._start) if self._start else 1
        line = self._before + number - 1 if isinstance(self._before, int) else "?"
        return f"line {line} of {self._log}"


def _read_part(path: Path, what: str, start: int, end: int, *, missing_ok: bool = False) -> bytes:
    """Bytes ``start`` to ``end`` of a file of the recording, as far as it holds them (a read
    allocates all it is asked for: never past the file's size)."""
    try:
        with open_regular(path, what) as file:
            file.seek(start)
            return file.read(max(0, min(end, os.fstat(file.fileno()).st_size) - start))
    except FileNotFoundError:
        if missing_ok:
            return b""
        raise


def _warn(message: str) -> None:
    warnings.warn(message, RecordingStoreWarning, stacklevel=4)
