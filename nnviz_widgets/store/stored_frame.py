"""A frame that lies in a snapshot file on disk, read (and checked) only when asked for.

The writer returns these for the frames it has just written, so that the Recording can let the
in-memory copies go; the reader makes them for every frame of a recording it opens, so that
opening costs nothing per byte of frames; each is read through the checks of
:mod:`~nnviz_widgets.store.archive`. :func:`snapshot_arrays` says what a snapshot's file holds
and where each of its arrays will lie.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnviz_widgets.recording.types import FrameMissingError, LazyFrame, SnapshotData
from nnviz_widgets.store.archive import Member, find_member, map_member, read_member
from nnviz_widgets.store.format import Stamp, file_stamp, open_regular

__all__ = ["StoredFrame", "StoredSnapshot", "snapshot_arrays"]


class StoredFrame(LazyFrame):
    """A frame in a snapshot file, read (and its checksum checked) when asked for.

    Parameters
    ----------
    path : pathlib.Path
        The snapshot's ``.npz`` file.
    name : str
        The array's name inside it.
    shape : tuple of int
        The shape the log recorded for it; a frame that reads back otherwise is reported.
    label : str
        What the frame is, in words, for error messages.
    stamp : tuple, optional
        The file's :data:`~nnviz_widgets.store.format.Stamp` when it was written or checked: a
        file with another is not the one the frame was in (the directory was replaced by
        another run, say) and is not read.
    """

    __slots__ = ("label", "name", "path", "shape", "stamp")

    def __init__(
        self,
        path: Path,
        name: str,
        shape: tuple[int, ...],
        label: str,
        stamp: Stamp | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.shape = tuple(shape)
        self.label = label
        self.stamp = stamp

    def __repr__(self) -> str:
        return f"StoredFrame({str(self.path)!r}, {self.name!r}, shape={self.shape})"

    def load(self) -> np.ndarray:
        """Read the frame from its file.

        Raises
        ------
        FrameMissingError
            The file is missing, not a regular file, truncated or damaged (its CRC-32 does not
            match), not the file the frame was in, or its array is not what the log says; the
            message names the file.
        """
        with self._member() as (file, member):
            return read_member(file, self.path, member)

    def read(self, where: tuple) -> np.ndarray:
        """Read only the block ``where`` (a tuple of slices or integers) of the frame.

        The writer stores frames uncompressed, so the block is read straight from the file
        (memory-mapped) without reading the rest: what the explorer's readout needs, exact, from
        a tensor of any size. The CRC-32 covers the whole array and is not checked here.

        Raises
        ------
        FrameMissingError
            As :meth:`load`.
        """
        with self._member() as (file, member):
            return np.array(map_member(file, member)[where])

    @contextlib.contextmanager
    def _member(self) -> Iterator[tuple[BinaryIO, Member]]:
        """The open file and the frame's member in it, checked; every failure reading it
        (while in the block too) becomes FrameMissingError naming the file."""
        try:
            with open_regular(self.path, "the snapshot file") as file:
                if self.stamp is not None and file_stamp(os.fstat(file.fileno())) != self.stamp:
                    raise ValueError(
                        "the file changed since the recording was written or opened (another "
                        "run replaced the directory?); open the recording again"
                    )
                member = find_member(file, self.path, self.name)
                self._check(member.shape, member.dtype)
                yield file, member
        except FrameMissingError:
            raise
        except (OSError, ValueError, IndexError, TypeError) as error:
            raise FrameMissingError(
                f"{self.label} could not be read from {self.path}: {type(error).__name__}: {error}"
            ) from error

    def _check(self, shape: tuple, dtype: np.dtype) -> None:
        if tuple(shape) != self.shape or np.dtype(dtype).kind != "f":
            raise FrameMissingError(
                f"{self.label} in {self.path} has shape {tuple(shape)} and dtype {dtype}; "
                f"the recording's log says shape {self.shape}, float32: the file is damaged"
            )


@dataclass
class StoredSnapshot:
    """Where a written snapshot's arrays lie, by ``(layer, quantity)``: the tensors at full
    size (or the frames kept whole), the previews, and the histograms."""

    frames: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
    previews: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
    histograms: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)

    def stamp(self, stamp: Stamp) -> None:
        """Give every frame the stamp of the file once written: they read no other file."""
        for table in (self.frames, self.previews, self.histograms):
            for frame in table.values():
                frame.stamp = stamp


def snapshot_arrays(
    index: int, data: SnapshotData, target: Path, check_layer: Callable[[str], None]
) -> tuple[dict[str, np.ndarray], dict[str, list], StoredSnapshot]:
    """What snapshot ``index``'s file ``target`` holds: its arrays by name, the lists of them for
    its log record (see :func:`~nnviz_widgets.store.log.snapshot_record`), and where each will
    lie once written. ``check_layer(layer)`` raises for a layer that was not declared."""
    arrays: dict[str, np.ndarray] = {}
    listed: dict[str, list] = {"frames": [], "previews": [], "histograms": []}
    stored = StoredSnapshot()
    where = f" at snapshot {index} (epoch {data.epoch:g})"  # as frame_label words it
    for number, (key, value) in enumerate(data.frames.items()):
        check_layer(key[0])
        if value is None:  # a missing frame: its reason is in data.missing
            continue
        label = f"{key[1]!r} of layer {key[0]!r}{where}"
        if key in data.reduced:  # the frame is a preview: the tensor goes beside it
            array = _loaded(value)
            name = f"p{number}"
            arrays[name] = array
            full_shape = [int(n) for n in data.reduced[key]]
            listed["previews"].append([*key, name, list(array.shape), full_shape])
            stored.previews[key] = StoredFrame(target, name, array.shape, label)
            value = data.full.get(key)
        if value is not None:
            array = _loaded(value)
            name = f"f{number}"
            arrays[name] = array
            listed["frames"].append([*key, name, list(array.shape)])
            stored.frames[key] = StoredFrame(target, name, array.shape, label)
        counts = data.histograms.get(key)
        if counts is not None:
            name = f"h{number}"
            arrays[name] = np.asarray(_loaded(counts), dtype=np.float64)
            listed["histograms"].append([*key, name])
            stored.histograms[key] = StoredFrame(target, name, arrays[name].shape, label)
    for layer, _ in data.missing:
        check_layer(layer)
    return arrays, listed, stored


def _loaded(value: np.ndarray | LazyFrame) -> np.ndarray:
    """An array to write: float32 (a lazy frame read first; FrameMissingError if it cannot be)."""
    if isinstance(value, LazyFrame):
        value = value.load()
    return np.ascontiguousarray(value, dtype=np.float32)
