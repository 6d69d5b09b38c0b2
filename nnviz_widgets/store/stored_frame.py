"""A frame that lies in a snapshot file on disk, read (and checked) only when asked for.

The writer returns these for the frames it has just written, so that the Recording can let the
in-memory copies go; the reader makes them for every frame of a recording it opens, so that
opening costs nothing per byte of frames. :func:`snapshot_arrays` says what a snapshot's file
holds and where each of its arrays will lie.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import FrameMissingError, LazyFrame, SnapshotData

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
    """

    __slots__ = ("label", "name", "path", "shape")

    def __init__(self, path: Path, name: str, shape: tuple[int, ...], label: str) -> None:
        self.path = path
        self.name = name
        self.shape = tuple(shape)
        self.label = label

    def __repr__(self) -> str:
        return f"StoredFrame({str(self.path)!r}, {self.name!r}, shape={self.shape})"

    def load(self) -> np.ndarray:
        """Read the frame from its file.

        Raises
        ------
        FrameMissingError
            The file is missing, truncated or damaged (its CRC-32 does not match); the message
            names the file.
        """
        try:
            # zipfile checks each member's CRC-32 as it reads it, so damage is noticed here
            with np.load(self.path, allow_pickle=False) as archive:
                array = archive[self.name]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise FrameMissingError(
                f"{self.label} could not be read from {self.path}: {type(error).__name__}: {error}"
            ) from error
        self._check(array.shape, array.dtype)
        return array

    def read(self, where: tuple) -> np.ndarray:
        """Read only the block ``where`` (a tuple of slices or integers) of the frame.

        The writer stores frames uncompressed, so the block is read straight from the file
        (memory-mapped) without reading the rest: what the explorer's readout needs, exact, from
        a tensor of any size. The CRC-32 covers the whole array and is not checked here; a
        member that is not stored uncompressed is read whole (and checked).

        Raises
        ------
        FrameMissingError
            The file is missing, damaged, or not what the log says.
        """
        try:
            with zipfile.ZipFile(self.path) as archive:
                member = archive.getinfo(f"{self.name}.npy")
            if member.compress_type != zipfile.ZIP_STORED:
                return np.array(self.load()[where])
            with open(self.path, "rb") as file:
                file.seek(member.header_offset)
                local = file.read(30)  # the member's local header: its name and extra follow
                if len(local) != 30 or local[:4] != b"PK\x03\x04":
                    raise ValueError("no local file header where the zip directory points")
                name_length, extra_length = struct.unpack("<HH", local[26:30])
                file.seek(member.header_offset + 30 + name_length + extra_length)
                version = np.lib.format.read_magic(file)
                shape, fortran, dtype = _array_header(file, version)
                offset = file.tell()
            self._check(shape, dtype)
            mapped = np.memmap(
                self.path, dtype=dtype, mode="r", offset=offset, shape=shape,
                order="F" if fortran else "C",
            )  # fmt: skip
            return np.array(mapped[where])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise FrameMissingError(
                f"{self.label} could not be read from {self.path}: {type(error).__name__}: {error}"
            ) from error

    def _check(self, shape: tuple, dtype: np.dtype) -> None:
        if tuple(shape) != self.shape or np.dtype(dtype).kind != "f":
            raise FrameMissingError(
                f"{self.label} in {self.path} has shape {tuple(shape)} and dtype {dtype}; "
                f"the recording's log says shape {self.shape}, float32: the file is damaged"
            )


def _array_header(file: object, version: tuple[int, int]) -> tuple:
    """``(shape, fortran order, dtype)`` from a ``.npy`` header of the given version."""
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(file)
    return np.lib.format.read_array_header_2_0(file)


@dataclass
class StoredSnapshot:
    """Where a written snapshot's arrays lie, by ``(layer, quantity)``: the tensors at full
    size (or the frames kept whole), the previews, and the histograms."""

    frames: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
    previews: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
    histograms: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)


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
