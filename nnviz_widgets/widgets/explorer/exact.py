"""Exact values under the pointer where the picture is drawn from a preview.

A large tensor is drawn from its block-mean preview (``docs/architecture.md``, "Where time
goes"); a cell of the picture then stands for a block of the tensor. The readout says which
block, and reads its values exactly where the recording has the tensor (in memory, or on disk,
reading only that block); where it holds the preview alone it says so and gives the mean.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.recording import FrameMissingError, Recording, block_slices
from nnviz_widgets.render.picture import Picture
from nnviz_widgets.widgets.explorer.selection import Selection

__all__ = ["preview_nonfinite", "preview_readout"]


def preview_readout(
    recording: Recording,
    selection: Selection,
    picture: Picture,
    full_shape: tuple[int, ...],
    preview_shape: tuple[int, ...],
    row: int,
    column: int,
) -> str | None:
    """The readout of picture cell ``(row, column)`` of a preview: the tensor's block it stands
    for, and its exact values where they can be read; None for a gap between tiles."""
    where = picture.locate(row, column)
    if where is None:
        return None
    block = block_slices(full_shape, preview_shape, where)
    name = f"{selection.quantity}[{_index_text(block)}]"
    head = f"row {row}, column {column} &rarr; {name}"
    try:
        values = recording.exact(selection.layer, selection.quantity, selection.index, block)
    except FrameMissingError as error:
        values, why = None, f" (the tensor could not be read: {error})"
    else:
        why = " (only a preview is kept: record with path= for exact values)"
    if values is None:
        mean = float(picture.values[row, column])
        return f"{head}: block mean <b>{mean:.4g}</b>{why}"
    if values.size == 1:
        return f"{head} = <b>{float(values.reshape(-1)[0]):.6g}</b>"
    finite = values[np.isfinite(values)]
    text = f"{head} ({values.size} values)"
    if finite.size:
        text += f": mean <b>{finite.mean():.4g}</b>, min {finite.min():.4g}, max {finite.max():.4g}"
    if finite.size < values.size:
        text += f", {values.size - finite.size} NaN/Inf"
    return text


def _index_text(block: tuple[slice, ...]) -> str:
    """``3, 8:16`` for the block ``(slice(3, 4), slice(8, 16))``."""
    return ", ".join(
        str(part.start) if part.stop - part.start == 1 else f"{part.start}:{part.stop}"
        for part in block
    )


def preview_nonfinite(
    quantity: str, preview: np.ndarray, full_shape: tuple[int, ...], counted: float, limit: int = 3
) -> str:
    """In words: how many NaN and Inf values the tensor has (the Recorder counted them) and
    which blocks of it they are in (a block with one is non-finite in the preview)."""
    where = np.argwhere(~np.isfinite(preview))
    blocks = ", ".join(
        f"{quantity}[{_index_text(block_slices(full_shape, preview.shape, tuple(w)))}]"
        for w in where[:limit]
    )
    more = " ..." if len(where) > limit else ""
    return f"{int(counted)} NaN/Inf in the {full_shape} tensor, in the blocks {blocks}{more}"
