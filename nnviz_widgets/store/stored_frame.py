"""A frame that lies in a snapshot file on disk, read (and checked) only when asked for.

The writer returns these for the frames it has just written, so that the Recording can let the
in-memory copies go; the reader makes them for every frame of a recording it opens, so that
opening costs nothing per byte of frames.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import FrameMissingError, LazyFrame

__all__ = ["StoredFrame", "StoredSnapshot"]


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
        if array.shape != self.shape or array.dtype.kind != "f":
            raise FrameMissingError(
                f"{self.label} in {self.path} has shape {array.shape} and dtype {array.dtype}; "
                f"the recording's log says shape {self.shape}, float32: the file is damaged"
            )
        return array


@dataclass
class StoredSnapshot:
    """Where a written snapshot's arrays lie, by ``(layer, quantity)``: the tensors at full
    size (or the frames kept whole), the previews, and the histograms."""

    frames: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
    previews: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
    histograms: dict[tuple[str, str], StoredFrame] = field(default_factory=dict)
