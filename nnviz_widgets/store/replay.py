"""Reading part of the log the first way: each record parsed, decoded and appended whole.

How a recording without an index is read (one written before the index existed), and the
records of one with an index that its index does not cover: rows not written yet, or damaged
(``docs/format.md``, "Reading and following"). A damaged line, a malformed record or an
unreadable block of steps is reported and skipped; a record naming a file outside the directory
refuses the whole recording when opening, and is skipped while following.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store.format import (
    LOG,
    RecordingFormatError,
    RecordingStoreWarning,
    inside_directory,
)
from nnviz_widgets.store.log import (
    decode_snapshot,
    decode_steps,
    merge_step_blocks,
    parse_lines,
    step_span,
)
from nnviz_widgets.store.records import SnapshotFiles

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
        Its manifest (checked): where the step file lies.
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
        start: int,
        end: int,
        initial: bool,
        committed: Callable[[dict, int], None],
    ) -> tuple[int, int]:
        """Append what the complete lines of the log from ``start`` to ``end`` commit; return
        how many snapshots, and where the complete lines end. ``committed(record, position)`` is
        called after each snapshot appended; when opening (``initial``), steps make one append.
        """
        try:
            with open(log, "rb") as file:
                file.seek(start)
                data = file.read(end - start)
        except FileNotFoundError:
            data = b""
        complete = data.rfind(b"\n") + 1  # a line without its newline is still being written
        records, damaged = parse_lines(data[:complete])
        for number, error in damaged:
            _warn(f"line {number} of the new part of {log} is damaged ({error}); it was skipped")
        added = self._replay(recording, records, committed, initial=initial)
        return added, start + complete

    def _replay(
        self,
        recording: Appended,
        records: list[dict],
        committed: Callable[[dict, int], None],
        *,
        initial: bool,
    ) -> int:
        """Append what the records commit; when opening (``initial``), a record naming a path
        outside the directory refuses the whole recording, and steps make one append."""
        step_bytes = self._read_steps(records)
        step_blocks = []
        added = 0
        for record in records:
            if record.get("kind") == "snapshot":
                data = self._snapshot(record, len(recording), refuse=initial)
                if data is not None:
                    recording.append_snapshot(data)
                    committed(record, len(recording) - 1)
                    added += 1
            elif record.get("kind") == "steps":
                block = self._steps(record, *step_bytes)
                if block is not None and initial:
                    step_blocks.append(block)  # one call, whatever the number of blocks
                elif block is not None:
                    recording.append_steps(*block)
        if step_blocks:
            recording.append_steps(*merge_step_blocks(step_blocks))
        return added

    def _snapshot(self, record: dict, position: int, *, refuse: bool) -> SnapshotData | None:
        """The snapshot a record commits; None (and a warning) if it cannot be read.

        A path outside the directory raises :class:`RecordingFormatError` when ``refuse``;
        otherwise (while following) it is reported and the records after it still count.
        """
        try:
            target, damage = self._files.check(record)
            if damage:
                _warn(
                    f"the snapshot file {target} is {damage}; its frames are reported missing, "
                    "the other snapshots are intact"
                )
            return decode_snapshot(record, target, damage, position, self._check_layer)
        except RecordingFormatError as error:
            if refuse:
                raise
            _warn(f"{error}; the snapshot was skipped")
            return None
        except (KeyError, TypeError, ValueError) as error:
            _warn(f"a snapshot record in {self.path / LOG} is malformed ({error!r}); skipped")
            return None

    def _read_steps(self, records: list[dict]) -> tuple[int, bytes]:
        """Read, in one go, the part of the step file these records commit: (offset, bytes)."""
        span = step_span(records)
        if span is None:
            return 0, b""
        start, end = span
        target = inside_directory(self.path, self.manifest["steps"], "the step series file")
        try:
            with open(target, "rb") as file:
                file.seek(start)
                return start, file.read(end - start)
        except OSError as error:
            _warn(f"the step series file {target} could not be read ({error})")
            return start, b""

    def _steps(self, record: dict, base: int, buffer: bytes) -> Steps | None:
        try:
            return decode_steps(record, base, buffer, self.path / self.manifest["steps"])
        except (KeyError, TypeError, ValueError) as error:
            _warn(f"a block of step series could not be read ({error}); it was skipped")
            return None


def _warn(message: str) -> None:
    warnings.warn(message, RecordingStoreWarning, stacklevel=4)
