"""The probe: a fixed batch run through the model at each snapshot, leaving no trace on it.

:class:`Probe` holds the batch (checked and copied to the model's device), runs it through the
model with forward hooks that exist only for that pass, and records the activations, output
gradients and saliency into a snapshot; of sequence models also the attention maps of each
``nn.MultiheadAttention`` and the row norms of each ``nn.Embedding``
(:mod:`~nnviz_widgets.record.sequence`), with ``(tokens, samples, ...)`` outputs turned
samples-first. The pass runs inside a forked RNG, in the chosen mode, restores every module's
train/eval mode, every parameter's ``requires_grad`` and every buffer (BatchNorm statistics)
afterwards, whatever happens in it (an exception included), and takes its gradients with
``torch.autograd.grad``, which never touches ``param.grad``. Its hooks record only the calls
made by the thread that runs the pass (a forward pass in another thread is not the probe's).
At construction the Recorder runs it once (:meth:`Probe.check`), so that a probe that does not
fit the model fails there, with a message naming the layer, the shape it got and the one it
expects (:mod:`~nnviz_widgets.record.probe_check`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from nnviz_widgets.record.capture import Captured, FrameCapture, add_frame, add_missing
from nnviz_widgets.record.layers import CHANNEL_FIRST, RecordedLayers, unit_dim
from nnviz_widgets.record.probe_check import (
    ChannelOrder,
    ProbeMismatch,
    device_of,
    first_float_tensor,
    mismatch_message,
    normalize_probe,
    trace_hooks,
)
from nnviz_widgets.record.sequence import SequenceFrames, SequenceProbe, samples_first
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
    sequence : SequenceFrames
        Attention maps, and what the check pass learns of sequence models.
    """

    activations: dict[str, list[Captured]] = field(default_factory=dict)
    sequence: SequenceFrames = field(default_factory=SequenceFrames)
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
        self.batch = normalize_probe(probe, device_of(model))
        self.x, self.y = self.batch.x, self.batch.y
        self._model = model
        self._layers = layers
        self._capture = capture
        self._loss_fn = loss_fn
        self._mode = mode
        self._calls: dict[str, list[tuple[int, ...]]] = {}  # output shapes, set by check()
        self.replan()

    def replan(self) -> None:
        """Forget what was learnt of the layers' modules (they changed): call :meth:`check`
        next. The output shapes stay until it succeeds (a failed pass marks those missing)."""
        self._order = ChannelOrder(self._layers.modules)  # learns more in check()
        self._sequence = SequenceProbe(
            self._model, self._layers, self._capture, int(self.x.shape[0])
        )

    # ------------------------------------------------------------------ at construction
    def check(self) -> dict[str, list[tuple[int, ...]]]:
        """Run the probe once: bad probes and loss functions fail here, with a ValueError.

        Returns each layer's output shapes, one per call in a forward pass.
        """
        try:
            frames = self.run(trace=True)
        except ProbeMismatch as mismatch:
            raise ValueError(mismatch_message(mismatch, self.x)) from mismatch.error
        except Exception as error:
            raise ValueError(
                f"the probe loss could not be computed on the probe of shape "
                f"{tuple(self.x.shape)}"
                + ("" if self.y is None else f" with target {tuple(self.y.shape)}")
                + f": {type(error).__name__}: {error}"
            ) from error
        if self._sequence.learn(self.x, frames.sequence):
            frames = self.run()  # the probe is (tokens, samples, ...): taken samples-first now
        self._calls = {
            name: [c.array.shape for c in calls] for name, calls in frames.activations.items()
        }
        for name, module in self._layers.modules:
            if name in self._order.channel_first and not isinstance(module, CHANNEL_FIRST):
                self._layers.note(name, channel_first=True)  # a ReLU after a Conv1d, ...
        return self._calls

    def describe(self) -> dict:
        """What the Recording is told of the input pseudo-layer."""
        x = self._turned(self.x)
        turned = {"sequence_first": True} if self._sequence.probe_turned else {}
        return {"type": "input", "calls": 1, "shape": list(x.shape), **turned}

    def arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The probe input (float32 when floating-point) and target, on the host, samples
        first."""
        x = self._turned(self.x.detach())
        y = None if self.y is None else self._turned(self.y.detach())
        return (
            x.float().cpu().numpy() if x.is_floating_point() else x.cpu().numpy(),
            None if y is None else y.cpu().numpy(),
        )

    def _turned(self, tensor: torch.Tensor) -> torch.Tensor:
        """A probe tensor (or its saliency) samples-first when the probe is sequences-first."""
        if self._sequence.probe_turned and tensor.dim() >= 2:
            return tensor.transpose(0, 1)
        return tensor

    # ------------------------------------------------------------------ at a snapshot
    def record(self, data: SnapshotData) -> None:
        """Run the probe and add activations, output gradients and saliency to ``data``."""
        self._sequence.record_row_norms(data)  # first: kept if the pass fails
        frames = self.run()
        reason = frames.reason
        self._sequence.record(data, frames.sequence)
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
        self._sequence.record_failure(data, reason)
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
                    output = self.batch.call(model, x)
                except Exception as error:
                    if trace:
                        raise ProbeMismatch(error, list(stack)) from error
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
            frames.saliency = self._capture(self._turned(result[0]), keep_first=True)

    @contextlib.contextmanager
    def _hooks(self, frames: ProbeFrames, stack: list | None) -> Iterator[None]:
        """Forward hooks on the recorded layers (and, to trace, on every module) for the
        duration of the ``with`` only."""
        handles = []
        try:
            handles.extend(self._sequence.hooks(frames.sequence, trace=stack is not None))
            channel_first = self._order.channel_first
            thread = threading.get_ident()
            for name, module in self._layers.modules:
                turn = self._sequence.turned(name)
                hook = _capture_hook(self._capture, name, frames, turn, name in channel_first)
                handles.append(module.register_forward_hook(_in_thread(thread, hook)))
            if stack is not None:
                handles.extend(self._order.hooks())
                handles.extend(trace_hooks(self._model, stack))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def objective(self, output: Any) -> torch.Tensor:
        """The scalar probe loss of the model's ``output``.

        ``loss_fn(output, y)`` (or ``loss_fn(output)``) when given; otherwise the summed
        cross-entropy for integer targets, the summed squared error for float targets; without
        targets, the loss the model returned (a Hugging Face output's ``loss``, given ``labels``
        in a dict probe), else the sum of each sample's largest output.
        """
        y = self.y
        returned = _returned_loss(output) if y is None else None
        if self._loss_fn is not None:
            value = self._loss_fn(output, y) if y is not None else self._loss_fn(output)
        elif returned is not None:
            value = returned
        else:
            tensor = first_float_tensor(output)
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


def _returned_loss(output: Any) -> torch.Tensor | None:
    """The scalar ``loss`` a model returned with its output (a mapping's ``"loss"`` or a
    ``.loss`` attribute, as Hugging Face models give when called with ``labels``), else None."""
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if isinstance(loss, torch.Tensor) and loss.numel() == 1:
        return loss
    return None


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[None]:
    """On leaving, however, put back every module's train/eval mode, every parameter's
    ``requires_grad``, and every buffer: its values, or the tensor itself where the pass set
    another in its place. One that cannot be put back does not stop the others."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    buffers = [
        (module, name, buffer, buffer.detach().clone())
        for module in model.modules()
        for name, buffer in module.named_buffers(recurse=False)
    ]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        for param, flag in flags:
            if param.requires_grad != flag:
                param.requires_grad_(flag)
        with torch.no_grad():
            for module, name, buffer, saved in buffers:
                _restore_buffer(module, name, buffer, saved)


def _restore_buffer(
    module: nn.Module, name: str, buffer: torch.Tensor, saved: torch.Tensor
) -> None:
    """Put ``module``'s buffer ``name`` back: the same tensor, with the saved values."""
    if getattr(module, name, None) is not buffer:
        setattr(module, name, buffer)  # the pass registered another tensor under the name
    if buffer.shape != saved.shape:  # resized in place: its values cannot be put back
        with contextlib.suppress(RuntimeError):
            buffer.resize_(saved.shape)
    if buffer.shape == saved.shape and not torch.equal(buffer, saved):
        buffer.copy_(saved)


def _in_thread(thread: int, hook: Callable) -> Callable:
    """``hook``, for calls made by thread ``thread`` only (the probe pass's)."""

    def filtered(module: nn.Module, args: object, output: object) -> None:
        if threading.get_ident() == thread:
            hook(module, args, output)
        return None

    return filtered


def _capture_hook(
    capture: FrameCapture, name: str, frames: ProbeFrames, samples: int | None, first: bool
) -> Callable:
    """The forward hook that captures a layer's output and, later, its gradient; with
    ``samples``, a ``(tokens, samples, ...)`` output is captured samples-first. ``first``: the
    output keeps channels in dimension 1 (for the dead fraction's units)."""

    def turned(tensor: torch.Tensor) -> torch.Tensor:
        return tensor if samples is None else samples_first(tensor, samples)

    def hook(module: nn.Module, args: object, output: object) -> None:
        tensor = first_float_tensor(output)
        if tensor is None:
            return None
        calls = frames.activations.setdefault(name, [])
        key = (name, len(calls))
        # copied to the host now: an in-place op after this module (ReLU(inplace=True)) would
        # change the values later
        shown = turned(tensor)
        units = unit_dim(module, shown.ndim, channel_first=first)
        calls.append(capture(shown, keep_first=True, unit_dim=units))
        if tensor.requires_grad:
            # a tensor hook gets the gradient of the output as this module returned it, even
            # when a later in-place op modifies it (pytorch #61519 is why not a module hook)
            def keep(grad: torch.Tensor) -> None:
                frames.grads[key] = capture(turned(grad), keep_first=True)
                return None

            tensor.register_hook(keep)
        return None

    return hook
