"""What is maximized: a layer's output for one unit, read with a temporary forward hook.

A unit is an index along the layer output's dimension 1: a Linear layer's output feature, a
convolution's channel (its mean over positions, or its value at the central position: one
neuron, whose picture stays within its receptive field), a sequence model's feature. The hook
copies the output before any in-place activation that follows (``ReLU(inplace=True)``) changes
it, and stops the forward there: nothing after the layer runs. The hook is removed before
:func:`layer_output` returns, also after an exception.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["WHERE", "check_layer", "check_units", "layer_output", "unit_activations"]

#: Where a unit of a layer with positions (a convolution's channel) is read.
WHERE = ("mean", "center")


class _Reached(Exception):
    """Raised by the hook to stop the forward once the layer's output is known."""


def check_layer(model: nn.Module, layer: str) -> nn.Module:
    """The module named ``layer``, or a ValueError listing the model's layer names."""
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer not in modules or layer == "":
        names = [name for name in modules if name]
        raise ValueError(f"no layer {layer!r} in the model; its layers are: {', '.join(names)}")
    return modules[layer]


def layer_output(model: nn.Module, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The output of ``module`` (a floating-point tensor) when ``model`` runs on ``inputs``."""
    found: list[torch.Tensor] = []

    def hook(_module: nn.Module, _args: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            raise TypeError(
                f"the layer's output is a {type(output).__name__}, not a floating-point tensor"
            )
        found.append(output.clone())  # before an in-place activation changes it
        raise _Reached

    handle = module.register_forward_hook(hook)
    try:
        model(inputs)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not found:
        raise RuntimeError("the layer was not called in the model's forward")
    return found[0]


def check_units(units: int | Sequence[int] | None, count: int, layer: str) -> tuple[int, ...]:
    """``units`` as a tuple of indices in ``range(count)`` (all of them for None)."""
    if units is None:
        return tuple(range(count))
    chosen = (units,) if isinstance(units, int) else tuple(units)
    if not chosen:
        raise ValueError("units is empty: give at least one unit index")
    for unit in chosen:
        if not isinstance(unit, int) or isinstance(unit, bool) or not 0 <= unit < count:
            raise ValueError(
                f"unit {unit!r} is not a unit of {layer!r}: it has {count} units, 0 to {count - 1}"
            )
    return chosen


def unit_activations(
    output: torch.Tensor, units: Sequence[int] | None = None, where: str = "mean"
) -> torch.Tensor:
    """Each unit's activation: ``output[i, units[i]]`` averaged over positions (``where``
    "mean") or at the central position ("center"), one per sample (``units`` None: every unit
    of every sample, shape ``(N, units)``)."""
    if output.ndim < 2:
        raise ValueError(f"the layer's output has shape {tuple(output.shape)}: no unit dimension")
    if where not in WHERE:
        raise ValueError(f"where must be one of {', '.join(WHERE)}, got {where!r}")
    if output.ndim == 2:
        per_unit = output
    elif where == "mean":
        per_unit = output.flatten(2).mean(dim=2)
    else:
        per_unit = output[(slice(None), slice(None), *(size // 2 for size in output.shape[2:]))]
    if units is None:
        return per_unit
    index = torch.as_tensor(list(units), device=output.device)
    return per_unit[torch.arange(len(index), device=output.device), index]
