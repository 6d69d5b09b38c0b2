"""Block means of large tensors, and how many values a frame may keep in memory.

- :func:`block_mean`: a tensor block-averaged to at most so many values, each dimension pooled
  once from its size ``n`` to its target ``m`` (the blocks of an adaptive average pool, which
  :func:`nnviz_widgets.recording.block_slices` maps back). It pools on views of the tensor in
  memory order, a matrix's two dimensions at once: no copy to move dimensions, no intermediate
  larger than the result's first pooling (an 8192 x 8192 float32 weight took 8 s and 2.2 GiB
  with one-dimensional pools on moved copies; ``docs/recorder.md``, "Memory and disk").
- :func:`plan_memory_values`: the water-fill of ``memory_per_snapshot`` over a snapshot's
  frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["MIN_PREVIEW_VALUES", "block_mean", "plan_memory_values"]

#: The fewest values a preview keeps, however small the memory per snapshot.
MIN_PREVIEW_VALUES = 256


def plan_memory_values(sizes: Sequence[int], budget: int) -> int:
    """The most values a frame may keep in memory so that a snapshot fits ``budget`` bytes.

    Frames of at most that many values are kept exactly (float32, 4 bytes a value); larger ones
    as previews of at most that many values (float16, 2 bytes a value). The level is the largest
    one whose total fits (water-filling: small frames lose nothing, large ones share the rest
    equally), and at least :data:`MIN_PREVIEW_VALUES`.

    Parameters
    ----------
    sizes : sequence of int
        The number of values of each frame a snapshot holds.
    budget : int
        Bytes of memory a snapshot may take.
    """
    sizes = np.asarray(sorted(int(s) for s in sizes), dtype=np.int64)
    if not sizes.size:
        return MIN_PREVIEW_VALUES

    def cost(level: int) -> int:
        return int(np.where(sizes <= level, 4 * sizes, 2 * level).sum())

    if cost(int(sizes[-1])) <= budget:
        return max(int(sizes[-1]), MIN_PREVIEW_VALUES)  # everything fits exactly
    low, high = MIN_PREVIEW_VALUES, int(sizes[-1])
    while low < high:
        middle = (low + high + 1) // 2
        if cost(middle) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def block_mean(tensor: torch.Tensor, max_values: int, *, keep_first: bool) -> torch.Tensor:
    """``tensor`` block-averaged to at most ``max_values`` values (itself when it fits).

    The target size of each dimension comes from halving the largest one until the tensor fits
    (dimension 0 never, with ``keep_first``); each dimension is then pooled once, from its size
    ``n`` to its target ``m``, so that element ``i`` of the result is the mean of elements
    ``floor(i * n / m)`` to ``ceil((i + 1) * n / m) - 1``
    (:func:`nnviz_widgets.recording.block_slices` maps them back). A NaN or Inf in a block makes
    the block non-finite.

    The dimensions are pooled one at a time, the most reduced first, each on a view of the
    tensor in memory order (a channels-last or transposed tensor is not copied to move its
    dimensions): a sum over a reshaped view where the blocks are whole, else an adaptive
    average pool; the result is the size of the output, never of the input.
    """
    sizes = list(tensor.shape)
    if tensor.numel() <= max_values:
        return tensor
    first = 1 if keep_first and tensor.ndim > 1 else 0
    target = list(sizes)
    while math.prod(target) > max_values:
        dim = max(range(first, len(target)), key=lambda d: target[d], default=None)
        if dim is None or target[dim] <= 1:
            break
        target[dim] = (target[dim] + 1) // 2
    order = sorted(range(tensor.ndim), key=lambda d: -tensor.stride(d))  # outermost first
    moved = tensor.permute(order)
    if not moved.is_contiguous():  # overlapping or gapped strides (rare): one copy
        moved = moved.contiguous()
    goal = [target[d] for d in order]
    if moved.ndim >= 2 and moved.shape[-2] != goal[-2] and moved.shape[-1] != goal[-1]:
        moved = _pool_last_two(moved, goal[-2], goal[-1])  # a matrix: no intermediate
    for dim in sorted(range(moved.ndim), key=lambda d: goal[d] / moved.shape[d]):
        if moved.shape[dim] != goal[dim]:
            moved = _pool(moved, dim, goal[dim])
    inverse = sorted(range(len(order)), key=lambda d: order[d])
    return moved.permute(inverse).contiguous()


def _pool_last_two(tensor: torch.Tensor, rows: int, columns: int) -> torch.Tensor:
    """A contiguous ``tensor``'s last two dimensions pooled at once (adaptive-pool blocks)."""
    *outer, n, m = tensor.shape
    grid = tensor.view(1, math.prod(outer), n, m)
    if n % rows == 0 and m % columns == 0:
        pooled = nn.functional.avg_pool2d(grid, (n // rows, m // columns))
    else:
        pooled = nn.functional.adaptive_avg_pool2d(grid, (rows, columns))
    return pooled.view(*outer, rows, columns)


def _pool(tensor: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """A contiguous ``tensor`` with dimension ``dim`` pooled to ``size`` (adaptive-pool
    blocks); contiguous too."""
    n = tensor.shape[dim]
    before = math.prod(tensor.shape[:dim])
    after = math.prod(tensor.shape[dim + 1 :])
    shape = (*tensor.shape[:dim], size, *tensor.shape[dim + 1 :])
    if n % size == 0:  # whole blocks: a sum over a view
        blocks = n // size
        return tensor.view(before, size, blocks, after).sum(dim=2).div_(blocks).view(shape)
    if after == 1:
        pooled = nn.functional.adaptive_avg_pool1d(tensor.view(1, before, n), size)
    else:
        pooled = nn.functional.adaptive_avg_pool2d(tensor.view(1, before, n, after), (size, after))
    return pooled.view(shape)
