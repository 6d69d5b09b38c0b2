"""The probe: a fixed batch run through the model at each snapshot, leaving no trace on it.

:class:`Probe` holds the batch (checked and copied to the model's device), runs it through the
model with forward hooks that exist only for that pass, and records the activations, output
gradients and saliency into a snapshot. The pass runs inside a forked RNG, in the chosen mode,
restores every module's train/eval mode and every buffer (BatchNorm statistics) afterwards, and
takes its gradients with ``torch.autograd.grad``, which never touches ``param.grad``. At
construction the Recorder runs it once (:meth:`Probe.check`), so that a probe that does not fit
the model fails there, with a message naming the layer, the shape it got and the one it expects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from nnviz_widgets.record.capture import Captured, FrameCapture, add_frame, add_missing
from nnviz_widgets.record.layers import RecordedLayers, expected_input, unit_dim
from nnviz_widgets.recording import INPUT, SnapshotData

__all__ = ["Probe", "ProbeFrames"]


@dataclass
class ProbeFrames:
    """What one probe pass captured.

    Attributes
    ----------
    activations : dict
        ``{layer: [captured output, one per call]}``.
    grads : dict
        ``{(layer, call): captured gradient of the probe loss with respect to that output}``.
    saliency : Captured or None
        The gradient of the probe loss with respect to the probe input.
    reason : str or None
        Why no gradient could be taken, if none could.
    """

    activations: dict[str, list[Captured]] = field(default_factory=dict)
    grads: dict[tuple[str, int], Captured] = field(default_factory=dict)
    saliency: Captured | None = None
    reason: str | None = None


class Probe:
    """A fixed batch ``x`` or ``(x, y)`` and the pass that records a model's response to it.

    Parameters
    ----------
    probe : torch.Tensor or (torch.Tensor, torch.Tensor)
        ``Recorder(probe=...)``; checked, then copied (detached) to the model's device.
    model : torch.nn.Module
        The (unwrapped) model.
    layers : RecordedLayers
        The layers whose outputs are recorded.
    capture : FrameCapture
        How a tensor becomes a frame; the probe hooks capture with it.
    loss_fn : callable or None
        ``Recorder(loss_fn=...)``; None for the default objective (see :meth:`objective`).
    mode : {"eval", "train"}
        The mode the model is put in for the pass.
    """

    def __init__(
        self,
        probe: object,
        model: nn.Module,
        layers: RecordedLayers,
        capture: FrameCapture,
        *,
        loss_fn: Callable[..., torch.Tensor] | None,
        mode: str,
    ) -> None:
        self.x, self.y = _normalize_probe(probe, _device_of(model))
        self._model = model
        self._layers = layers
        self._capture = capture
        self._loss_fn = loss_fn
        self._mode = mode
        self._calls: dict[str, list[tuple[int, ...]]] = {}  # output shapes, set by check()

    # ------------------------------------------------------------------ at construction
    def check(self) -> dict[str, list[tuple[int, ...]]]:
        """Run the probe once: bad probes and loss functions fail here, with a ValueError.

        Returns each layer's output shapes, one per call in a forward pass.
        """
        try:
            frames = self.run(trace=True)
        except _ProbeMismatch as mismatch:
            raise ValueError(_mismatch_message(mismatch, self.x)) from mismatch.error
        except Exception as error:
            raise ValueError(
                f"the probe loss could not be computed on the probe of shape "
                f"{tuple(self.x.shape)}"
                + ("" if self.y is None else f" with target {tuple(self.y.shape)}")
                + f": {type(error).__name__}: {error}"
            ) from error
        self._calls = {
            name: [c.array.shape for c in calls] for name, calls in frames.activations.items()
        }
        return self._calls

    def describe(self) -> dict:
        """What the Recording is told of the input pseudo-layer."""
        return {"type": "input", "calls": 1, "shape": list(self.x.shape)}

    def arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The probe input (float32 when floating-point) and target, on the host."""
        x = self.x.detach()
        return (
            x.float().cpu().numpy() if x.is_floating_point() else x.cpu().numpy(),
            None if self.y is None else self.y.detach().cpu().numpy(),
        )

    # ------------------------------------------------------------------ at a snapshot
    def record(self, data: SnapshotData) -> None:
        """Run the probe and add activations, output gradients and saliency to ``data``."""
        frames = self.run()
        reason = frames.reason
        for name, _ in self._layers.modules:
            calls = frames.activations.get(name, [])
            for k, activation in enumerate(calls):
                suffix = "" if k == 0 else f"[{k}]"
                add_frame(data, name, f"activation{suffix}", activation)
                grad = frames.grads.get((name, k))
                if grad is None:
                    add_missing(
                        data,
                        (name, f"output_grad{suffix}"),
                        reason or "no gradient of the probe loss reached this output",
                    )
                else:
                    add_frame(data, name, f"output_grad{suffix}", grad)
            if calls:
                data.statistics[(name, "dead_fraction")] = calls[0].dead_fraction
        if frames.saliency is not None:
            add_frame(data, INPUT, "saliency", frames.saliency)
        elif self.x.is_floating_point():
            add_missing(data, (INPUT, "saliency"), reason or "the probe loss does not depend on x")

    def record_failure(self, data: SnapshotData, error: Exception) -> str:
        """Mark every probe frame of ``data`` missing because the pass failed; returns why."""
        reason = f"the probe pass failed: {type(error).__name__}: {error}"
        for name, _ in self._layers.modules:
            for k in range(len(self._calls.get(name, []))):
                suffix = "" if k == 0 else f"[{k}]"
                for quantity in ("activation", "output_grad"):
                    add_missing(data, (name, quantity + suffix), reason)
        if self.x.is_floating_point():
            add_missing(data, (INPUT, "saliency"), reason)
        return reason

    # ------------------------------------------------------------------ the pass
    def run(self, *, trace: bool = False) -> ProbeFrames:
        """Run the probe through the model with temporary hooks; leave no trace on the model.

        With ``trace``, a failing forward pass raises a mismatch that knows which layer failed.
        """
        model = self._model
        frames = ProbeFrames()
        stack: list[tuple[str, nn.Module, list]] = []
        with _restored(model), self._hooks(frames, stack if trace else None):
            cuda = [self.x.device.index or 0] if self.x.is_cuda else []
            with (
                torch.random.fork_rng(devices=cuda),
                torch.inference_mode(False),
                torch.enable_grad(),
            ):
                model.train(self._mode == "train")
                x = self.x.detach().clone()
                if x.is_floating_point():
                    x.requires_grad_(True)
                try:
                    output = model(x)
                except Exception as error:
                    if trace:
                        raise _ProbeMismatch(error, list(stack)) from error
                    raise
                self._gradients(output, x, frames)
        return frames

    def _gradients(self, output: Any, x: torch.Tensor, frames: ProbeFrames) -> None:
        """Take the probe loss's gradients: the tensor hooks capture the output gradients, and
        the gradient with respect to a floating-point input is the saliency."""
        objective = self.objective(output)
        floating = x.is_floating_point()
        wrt = [x] if floating else [p for p in self._model.parameters() if p.requires_grad]
        if not objective.requires_grad or not wrt:
            frames.reason = "the probe loss does not depend on anything that takes a gradient"
            return
        result = torch.autograd.grad(objective, wrt, allow_unused=True)
        if floating and result[0] is not None:
            frames.saliency = self._capture(result[0], keep_first=True)

    @contextlib.contextmanager
    def _hooks(self, frames: ProbeFrames, stack: list | None) -> Iterator[None]:
        """Forward hooks on the recorded layers (and, to trace, on every module) for the
        duration of the ``with`` only."""
        handles = []
        try:
            for name, module in self._layers.modules:
                hook = _capture_hook(self._capture, name, frames.activations, frames.grads)
                handles.append(module.register_forward_hook(hook))
            if stack is not None:
                for name, module in self._model.named_modules():
                    handles.append(module.register_forward_pre_hook(_enter(name, stack)))
                    handles.append(module.register_forward_hook(_leave(stack)))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def objective(self, output: Any) -> torch.Tensor:
        """The scalar probe loss of the model's ``output``.

        ``loss_fn(output, y)`` (or ``loss_fn(output)``) when given; otherwise the summed
        cross-entropy for integer targets, the summed squared error for float targets, and
        without targets the sum of each sample's largest output.
        """
        y = self.y
        if self._loss_fn is not None:
            value = self._loss_fn(output, y) if y is not None else self._loss_fn(output)
        else:
            tensor = _first_float_tensor(output)
            if tensor is None:
                raise TypeError(
                    f"the model's output ({type(output).__name__}) holds no floating-point "
                    "tensor to take a probe loss of; pass loss_fn= to say how to score it"
                )
            tensor = tensor.float()
            if y is None:
                value = tensor.max(dim=1).values.sum() if tensor.ndim >= 2 else tensor.sum()
            elif not y.is_floating_point():
                value = nn.functional.cross_entropy(tensor, y, reduction="sum")
            else:
                value = nn.functional.mse_loss(tensor, y.float(), reduction="sum")
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise TypeError(
                "the probe loss must be a scalar tensor, got "
                + (
                    f"a tensor of shape {tuple(value.shape)}"
                    if isinstance(value, torch.Tensor)
                    else type(value).__name__
                )
            )
        return value.reshape(())


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[None]:
    """On leaving, put back every module's train/eval mode and every buffer's values."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        with torch.no_grad():
            for buffer, saved in buffers:
                if not torch.equal(buffer, saved):
                    buffer.copy_(saved)


def _capture_hook(capture: FrameCapture, name: str, activations: dict, grads: dict) -> Callable:
    def hook(module: nn.Module, args: object, output: object) -> None:
        tensor = _first_float_tensor(output)
        if tensor is None:
            return None
        calls = activations.setdefault(name, [])
        key = (name, len(calls))
        # copied to the host now: an in-place op after this module (ReLU(inplace=True)) would
        # change the values later
        calls.append(capture(tensor, keep_first=True, unit_dim=unit_dim(module, tensor.ndim)))
        if tensor.requires_grad:
            # a tensor hook gets the gradient of the output as this module returned it, even
            # when a later in-place op modifies it (pytorch #61519 is why not a module hook)
            def keep(grad: torch.Tensor) -> None:
                grads[key] = capture(grad, keep_first=True)
                return None

            tensor.register_hook(keep)
        return None

    return hook


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


class _ProbeMismatch(Exception):
    """The forward pass failed on the probe; ``stack`` holds the modules it was inside."""

    def __init__(self, error: Exception, stack: list) -> None:
        super().__init__(str(error))
        self.error = error
        self.stack = stack


def _mismatch_message(mismatch: _ProbeMismatch, x: torch.Tensor) -> str:
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


def _first_float_tensor(value: object) -> torch.Tensor | None:
    """The first floating-point tensor in a tensor, tuple, list or dict output, depth-first."""
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, tuple | list):
        for item in value:
            found = _first_float_tensor(item)
            if found is not None:
                return found
    return None


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _normalize_probe(
    probe: object, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check ``x`` or ``(x, y)`` and copy them, detached, to ``device``."""
    if isinstance(probe, torch.Tensor):
        x, y = probe, None
    elif isinstance(probe, tuple | list) and len(probe) == 2:
        x, y = probe
    else:
        raise TypeError(
            "probe must be a tensor x or a pair (x, y) of tensors, got "
            + (f"a sequence of {len(probe)}" if isinstance(probe, tuple | list) else "")
            + type(probe).__name__
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
    return x, y
