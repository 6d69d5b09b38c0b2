"""A tensor becomes a frame: a float32 numpy copy, reduced on its device to fit, and its counts.

Every frame a Recorder keeps passes through :class:`FrameCapture`: weights, mean gradients and
updates at a snapshot, and activations, output gradients and saliency in the probe pass. The
counts (NaN/Inf, squared norm, dead fraction) are taken on the tensor's device in float32 before
copying: a bf16 reduction cannot count past 256 exactly. :func:`add_frame` and
:func:`add_missing` put a frame, or the reason for its absence, into a
:class:`~nnviz_widgets.recording.SnapshotData`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from nnviz_widgets.recording import SnapshotData

__all__ = ["Captured", "FrameCapture", "add_frame", "add_missing", "squared_norm"]


class Captured:
    """One frame taken from a tensor: a numpy copy (reduced to fit) and its counts.

    Attributes
    ----------
    array : numpy.ndarray
        The frame, float32, owned by numpy (a Recording holds no torch object).
    nonfinite : float
        How many NaN and Inf values the tensor held.
    squared_norm : float
        The squared L2 norm of the whole tensor (NaN when ``keep_first``: not needed there).
    dead_fraction : float
        The share of units (along ``unit_dim``) that are <= 0 everywhere; NaN without a unit
        dimension.
    note : str or None
        How the frame was reduced to fit, if it was.
    """

    __slots__ = ("array", "dead_fraction", "nonfinite", "note", "squared_norm")

    def __init__(
        self, tensor: torch.Tensor, max_values: int, *, keep_first: bool, unit_dim: int | None
    ) -> None:
        tensor = tensor.detach()
        if tensor.dtype != torch.float32:
            tensor = tensor.float()
        total = float(tensor.sum())  # one pass; a finite sum means no NaN or Inf inside
        self.nonfinite = 0.0 if math.isfinite(total) else float((~torch.isfinite(tensor)).sum())
        self.squared_norm = squared_norm(tensor) if not keep_first else math.nan
        self.dead_fraction = math.nan
        if unit_dim is not None and tensor.ndim >= 2:
            others = [d for d in range(tensor.ndim) if d != unit_dim]
            self.dead_fraction = float((tensor.amax(dim=others) <= 0).float().mean())
        original = tuple(tensor.shape)
        fitted = _fit(tensor, max_values, keep_first=keep_first)
        self.note = None
        if tuple(fitted.shape) != original:
            self.note = (
                f"block-averaged from {original} to {tuple(fitted.shape)} to stay under "
                f"{max_values:,} values per frame"
            )
        self.array = np.empty(tuple(fitted.shape), dtype=np.float32)
        torch.from_numpy(self.array).copy_(fitted)


class FrameCapture:
    """Turns tensors into :class:`Captured` frames of at most ``max_values`` values.

    What the parameter snapshot and the probe hooks are given to take their frames with.
    """

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values

    def __call__(
        self, tensor: torch.Tensor, *, keep_first: bool, unit_dim: int | None = None
    ) -> Captured:
        """Capture ``tensor``; ``keep_first`` keeps dimension 0 (samples) whole when reducing.

        ``unit_dim`` is the dimension that holds the units, for the dead fraction.
        """
        return Captured(tensor, self.max_values, keep_first=keep_first, unit_dim=unit_dim)


def add_frame(data: SnapshotData, layer: str, quantity: str, captured: Captured) -> None:
    """Put a captured frame, its NaN/Inf count and its note into a snapshot."""
    data.frames[(layer, quantity)] = captured.array
    data.statistics[(layer, f"nonfinite_{quantity}")] = captured.nonfinite
    if captured.note:
        data.notes[(layer, quantity)] = captured.note


def add_missing(data: SnapshotData, key: tuple[str, str], reason: str) -> None:
    """Say in a snapshot that a frame could not be recorded, and why."""
    data.frames[key] = None  # keeps the quantity's place in the order
    data.missing[key] = reason


def squared_norm(tensor: torch.Tensor) -> float:
    """The squared L2 norm, summed in float64."""
    return float(torch.linalg.vector_norm(tensor, dtype=torch.float64)) ** 2


def _fit(tensor: torch.Tensor, max_values: int, *, keep_first: bool) -> torch.Tensor:
    """Block-average the largest dimensions until the tensor has at most max_values values."""
    tensor = tensor.float()
    first = 1 if keep_first and tensor.ndim > 1 else 0
    while tensor.numel() > max_values:
        sizes = list(tensor.shape)
        dim = max(range(first, tensor.ndim), key=lambda d: sizes[d], default=None)
        if dim is None or sizes[dim] <= 1:
            break
        moved = tensor.movedim(dim, -1)
        shape = moved.shape
        pooled = nn.functional.adaptive_avg_pool1d(
            moved.reshape(-1, 1, shape[-1]), (shape[-1] + 1) // 2
        )
        tensor = pooled.reshape(*shape[:-1], -1).movedim(-1, dim)
    return tensor
