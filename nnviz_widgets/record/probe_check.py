"""The probe batch checked, and what the check pass learns of the model.

:func:`normalize_probe` checks ``x``, ``(x, y)`` or a dict of keyword inputs (a Hugging Face
batch) as ``Recorder(probe=...)`` takes it and copies it to the model's device, as a
:class:`ProbeBatch`. In the check pass (:meth:`Probe.check
<nnviz_widgets.record.probe.Probe.check>`), :func:`trace_hooks` note which module the forward
pass is in, so that :func:`mismatch_message` can name the layer that failed, the shape it got and
the one it expects; :class:`ChannelOrder` learns which layers' 3-D outputs are channels-first
(``(samples, channels, positions)``, as after a Conv1d) rather than ``(samples, tokens,
features)``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from nnviz_widgets.record.layers import CHANNEL_FIRST, expected_input

__all__ = [
    "MAIN_INPUTS",
    "ChannelOrder",
    "ProbeBatch",
    "ProbeMismatch",
    "device_of",
    "first_float_tensor",
    "mismatch_message",
    "normalize_probe",
    "trace_hooks",
]


class ChannelOrder:
    """Which recorded layers' outputs keep channels in dimension 1, learnt in one pass.

    A Conv, BatchNorm, pooling (:data:`~nnviz_widgets.record.layers.CHANNEL_FIRST`) layer's
    outputs do. A layer with no parameters of its own that returns its input's shape (ReLU,
    GELU, ...) keeps the order of the layer whose output it was given: a ReLU after a Conv1d is
    channels-first, a GELU after a Linear is not.

    Parameters
    ----------
    layers : list of (str, torch.nn.Module)
        The recorded layers.

    Attributes
    ----------
    channel_first : set of str
        The channels-first layers found so far.
    """

    def __init__(self, layers: list[tuple[str, nn.Module]]) -> None:
        self._layers = layers
        self.channel_first = {name for name, m in layers if isinstance(m, CHANNEL_FIRST)}
        self._produced: dict[int, tuple[weakref.ref, bool]] = {}  # by id() of an output

    def hooks(self) -> list:
        """A forward hook on every recorded layer, for one pass; returns the handles."""
        handles = []
        try:
            for name, module in self._layers:
                handles.append(module.register_forward_hook(self._hook(name)))
        except BaseException:
            for handle in handles:
                handle.remove()
            raise
        return handles

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            out = first_float_tensor(output)
            if out is None:
                return None
            first = name in self.channel_first
            given = args[0] if args and isinstance(args[0], torch.Tensor) else None
            passing = next(module.parameters(recurse=False), None) is None
            if not first and passing and given is not None and given.shape == out.shape:
                known = self._produced.get(id(given))
                if known is not None and known[0]() is given and known[1]:
                    first = True
                    self.channel_first.add(name)
            self._produced[id(out)] = (weakref.ref(out), first)
            return None

        return hook


def first_float_tensor(value: object) -> torch.Tensor | None:
    """The first floating-point tensor in a tensor, tuple, list or dict output, depth-first."""
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, tuple | list):
        for item in value:
            found = first_float_tensor(item)
            if found is not None:
                return found
    return None


def trace_hooks(model: nn.Module, stack: list) -> list:
    """A pre-hook and a forward hook on every module of ``model`` that keep ``stack`` holding
    the modules the forward pass is inside, with their input shapes; returns the handles."""
    handles = []
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(_enter(name, stack)))
            handles.append(module.register_forward_hook(_leave(stack)))
    except BaseException:
        for handle in handles:
            handle.remove()
        raise
    return handles


def _enter(name: str, stack: list) -> Callable:
    """A pre-hook that notes which module the forward pass is in, and its input shapes."""

    def hook(module: nn.Module, args: tuple) -> None:
        shapes = [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]
        stack.append((name, module, shapes))
        return None

    return hook


def _leave(stack: list) -> Callable:
    def hook(module: nn.Module, args: object, output: object) -> None:
        if stack and stack[-1][1] is module:
            stack.pop()
        return None

    return hook


class ProbeMismatch(Exception):
    """The forward pass failed on the probe; ``stack`` holds the modules it was inside."""

    def __init__(self, error: Exception, stack: list) -> None:
        super().__init__(str(error))
        self.error = error
        self.stack = stack


def mismatch_message(mismatch: ProbeMismatch, x: torch.Tensor) -> str:
    """What a person reads when the probe ``x`` does not fit: the innermost layer that failed."""
    text = f"the probe does not fit the model: the probe input has shape {tuple(x.shape)}"
    innermost = [entry for entry in mismatch.stack if entry[0] != ""]
    if innermost:
        name, module, shapes = innermost[-1]
        got = shapes[0] if len(shapes) == 1 else shapes
        text += (
            f", layer {name!r} ({type(module).__name__}) received input of shape {got}"
            f" but expects {expected_input(module)}"
        )
    error = mismatch.error
    return f"{text}. The model raised {type(error).__name__}: {error}"


def device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


#: The keyword of a mapping probe's main input, in order of preference (Hugging Face names):
#: the input shown as the probe, whose gradient is the saliency when it is floating-point.
MAIN_INPUTS = ("input_ids", "pixel_values", "input_values", "inputs_embeds", "input", "x")


@dataclass(frozen=True)
class ProbeBatch:
    """A checked probe on the model's device: ``x`` (the main input), ``y`` (the target, or
    None) and, for a mapping probe such as a Hugging Face batch, the other keyword inputs and
    the keyword ``x`` goes by."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    others: dict[str, object] = field(default_factory=dict)
    key: str | None = None

    def call(self, model: nn.Module, x: torch.Tensor) -> object:
        """The model's output on the probe, with ``x`` as the main input."""
        if self.key is None:
            return model(x)
        return model(**{**self.others, self.key: x})

    @property
    def nbytes(self) -> int:
        tensors = [self.x, self.y, *self.others.values()]
        return sum(t.nbytes for t in tensors if isinstance(t, torch.Tensor))


def normalize_probe(probe: object, device: torch.device) -> ProbeBatch:
    """Check ``x``, ``(x, y)`` or a mapping of keyword inputs, and copy the tensors, detached,
    to ``device``."""
    if isinstance(probe, Mapping):
        return _mapping_probe(probe, device)
    if isinstance(probe, torch.Tensor):
        x, y = probe, None
    elif isinstance(probe, tuple | list) and len(probe) == 2:
        x, y = probe
    else:
        raise TypeError(
            "probe must be a tensor x, a pair (x, y) of tensors or a dict of the model's keyword "
            "inputs, got "
            + (
                f"a {type(probe).__name__} of {len(probe)}"
                if isinstance(probe, tuple | list)
                else type(probe).__name__
            )
        )
    for what, value in (("probe input x", x), ("probe target y", y)):
        if value is not None and not isinstance(value, torch.Tensor):
            raise TypeError(f"the {what} must be a torch.Tensor, got {type(value).__name__}")
    if x.ndim == 0:
        raise ValueError("the probe input must have a batch dimension, got a 0-d tensor")
    if y is not None and (y.ndim == 0 or y.shape[0] != x.shape[0]):
        raise ValueError(
            f"the probe target has shape {tuple(y.shape)} but the input has {x.shape[0]} "
            "samples: give one target per sample"
        )
    x = x.detach().to(device, copy=True)
    y = None if y is None else y.detach().to(device, copy=True)
    return ProbeBatch(x, y)


def _mapping_probe(probe: Mapping, device: torch.device) -> ProbeBatch:
    """A dict of keyword inputs (``input_ids``, ``attention_mask``, ``labels``, ...), called as
    ``model(**probe)``; its tensors must share the batch dimension."""
    if not probe or not all(isinstance(k, str) for k in probe):
        raise TypeError("a dict probe must map keyword names (str) to the model's inputs")
    tensors = {k: v for k, v in probe.items() if isinstance(v, torch.Tensor)}
    key = next((k for k in MAIN_INPUTS if k in tensors), next(iter(tensors), None))
    if key is None:
        raise TypeError(f"a dict probe must hold at least one tensor, got keys {list(probe)}")
    batch = {k: v.shape[0] for k, v in tensors.items() if v.ndim}
    if len(set(batch.values())) > 1 or tensors[key].ndim == 0:
        raise ValueError(
            f"the probe's tensors must share their first (batch) dimension, got {batch}"
        )
    others = {
        k: v.detach().to(device, copy=True) if isinstance(v, torch.Tensor) else v
        for k, v in probe.items()
        if k != key
    }
    return ProbeBatch(tensors[key].detach().to(device, copy=True), None, others, key)
