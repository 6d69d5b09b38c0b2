"""The Recorder's arguments checked, with messages that say what was wrong and what would be right.

Everything here runs before the Recorder touches the model: a bad argument fails at
construction (or at the ``snapshot()`` call), never later in a hook.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nnviz_widgets.recording import Recording

__all__ = [
    "as_float",
    "check_arguments",
    "check_optimizer",
    "check_recording",
    "check_step_options",
    "rank",
]


def check_arguments(
    probe_mode: str,
    loss_fn: object,
    optimizer: object,
    max_frame_values: object,
    flush_every: object,
    memory_per_snapshot: object,
) -> None:
    if probe_mode not in ("eval", "train"):
        raise ValueError(f'probe_mode must be "eval" or "train", got {probe_mode!r}')
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    for name, value in (
        ("max_frame_values", max_frame_values),
        ("flush_every", flush_every),
        ("memory_per_snapshot", memory_per_snapshot),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_step_options(stats_every: object, mean_gradient: object) -> None:
    if stats_every != "auto" and (
        isinstance(stats_every, bool) or not isinstance(stats_every, int) or stats_every < 1
    ):
        raise ValueError(f'stats_every must be a positive integer or "auto", got {stats_every!r}')
    if not isinstance(mean_gradient, bool):
        raise TypeError(f"mean_gradient must be True or False, got {mean_gradient!r}")


def check_recording(recording: object) -> None:
    if recording is None:
        return
    if not isinstance(recording, Recording):
        raise TypeError(f"recording must be a Recording, got {type(recording).__name__}")
    if len(recording) or recording.layers:
        raise ValueError(
            "recording must be an empty Recording (nv.Recording()); this one already holds "
            f"{len(recording)} snapshot(s) of layers {list(recording.layers)[:5]}"
        )


def check_optimizer(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if not optimized & {id(p) for p in model.parameters()}:
        raise ValueError(
            "the optimizer updates none of the model's parameters; pass the optimizer that "
            "trains this model (built from model.parameters())"
        )


def rank() -> int:
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank()
    return 0


def as_float(what: str, value: object) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{what} must be a single number, got a tensor of shape {value.shape}")
        return float(value.detach().cpu())
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}: {value!r}")
    return float(value)
