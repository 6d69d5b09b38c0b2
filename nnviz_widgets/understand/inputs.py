"""The example inputs an optimization starts from: their shape and value range, taken from a
probe tensor, a recording's probe, or given."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["input_batch", "input_range"]


def input_batch(probe: torch.Tensor | None, recording: object | None) -> torch.Tensor:
    """Sample inputs (float32, on the CPU): ``probe`` if given, else the recording's probe."""
    if probe is None and recording is not None:
        held = recording.probe.get("input")
        probe = None if held is None else torch.from_numpy(np.array(held))
    if probe is None:
        raise ValueError(
            "the input's shape is unknown: pass probe= (a batch of sample inputs) or a "
            "recording= made with a probe"
        )
    if not isinstance(probe, torch.Tensor) or probe.ndim < 2 or probe.shape[0] < 1:
        raise ValueError("probe must be a tensor of sample inputs, shape (N, ...) with N >= 1")
    if not probe.is_floating_point():
        raise ValueError(
            f"the model takes {probe.dtype} inputs (token ids or classes?): an input that a unit "
            "wants is found by following its gradient, which needs continuous inputs such as "
            "images or features; for a token model look at its embeddings' activations instead"
        )
    return probe.detach().to("cpu", torch.float32)


def input_range(examples: torch.Tensor, value_range: object | None) -> tuple[float, float]:
    """``value_range`` checked, or the examples' smallest and largest values."""
    if value_range is None:
        low, high = float(examples.min()), float(examples.max())
    else:
        try:
            low, high = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(
                f"value_range must be two numbers (low, high), got {value_range!r}"
            ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"the value range must be finite with low < high, got ({low}, {high})")
    return low, high
