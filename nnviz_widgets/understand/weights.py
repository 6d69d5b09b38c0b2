"""A working copy of the user's model, at its own weights or at a recorded snapshot's.

Feature visualization and adversarial examples run on this copy, never on the caller's model:
its parameters, ``.grad``, ``requires_grad`` flags, train/eval mode and buffers stay as they
were, and a training loop running in another thread is not disturbed. Loading a snapshot needs
the whole weight tensors in the recording (``docs/understanding.md``, "Which weights").
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

__all__ = ["SnapshotWeightsError", "working_copy"]


class SnapshotWeightsError(ValueError):
    """A recording cannot give the weights of a snapshot (not recorded, or only previews)."""


def working_copy(
    model: nn.Module, recording: object | None = None, snapshot: int = -1
) -> nn.Module:
    """A copy of ``model`` in eval mode, with no gradients, optionally at a snapshot's weights.

    Parameters
    ----------
    model : nn.Module
        The architecture (and, without ``recording``, the weights) to copy.
    recording : Recording, optional
        Where the snapshot's weights are read: every parameter of the model must have been
        recorded there whole (in memory, or on disk with ``Recorder(path=...)``).
    snapshot : int
        Position in ``recording.snapshots``; negative counts from the end.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``.
    SnapshotWeightsError
        A parameter is missing from the recording at that snapshot, or only a preview of it is
        held.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    copied = copy.deepcopy(model)
    copied.eval()
    for parameter in copied.parameters():
        parameter.requires_grad_(False)
        parameter.grad = None
    if recording is not None:
        _load_snapshot(copied, recording, snapshot)
    return copied


def _load_snapshot(model: nn.Module, recording: object, snapshot: int) -> None:
    count = len(recording.snapshots)
    if not -count <= snapshot < count:
        raise IndexError(f"snapshot {snapshot} out of range: the recording has {count} snapshots")
    index = snapshot % count
    recorded = set(recording.layers)
    with torch.no_grad():
        for module_name, module in model.named_modules():
            for name, parameter in module.named_parameters(recurse=False):
                values = _recorded_weights(recording, recorded, module_name, name, index)
                if tuple(values.shape) != tuple(parameter.shape):
                    raise SnapshotWeightsError(
                        f"{_label(module_name, name)} has shape {tuple(parameter.shape)} in the "
                        f"model but {tuple(values.shape)} in the recording: is this the model "
                        "that was recorded?"
                    )
                parameter.copy_(torch.from_numpy(np.array(values, dtype=np.float32)))


def _recorded_weights(
    recording: object, recorded: set, module_name: str, name: str, index: int
) -> np.ndarray:
    label = _label(module_name, name)
    if module_name not in recorded or name not in recording.quantities(module_name):
        raise SnapshotWeightsError(
            f"the recording has no weights for {label}: record every layer with parameters "
            "(the Recorder's default layers) to compute from a snapshot"
        )
    reason = recording.missing_reason(module_name, name, index)
    if reason is not None:
        raise SnapshotWeightsError(f"{label} at snapshot {index} is missing: {reason}")
    values = recording.frame(module_name, name, index)
    if tuple(values.shape) != tuple(recording.frame_shape(module_name, name, index)):
        raise SnapshotWeightsError(
            f"the recording holds only a preview of {label} at snapshot {index}, not the whole "
            "tensor: record with Recorder(path=...) so whole weights go to disk, or raise "
            "Recorder(memory_per_snapshot=...) so they are kept whole in memory"
        )
    return values


def _label(module_name: str, name: str) -> str:
    return f"{module_name}.{name}" if module_name else name
