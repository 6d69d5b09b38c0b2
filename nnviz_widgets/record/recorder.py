"""The Recorder: watches a PyTorch model train and fills a Recording, without changing training.

How it stays invisible and cheap:

- During training it places **no hook on the model**. Per optimizer step it reads the gradients
  and weights from the optimizer's step hooks (or from :meth:`Recorder.step` when there is no
  optimizer), reduces them on their device to a few numbers per layer, and copies those to the
  host only every ``flush_every`` steps.
- At :meth:`Recorder.snapshot` it copies the chosen layers' weights and mean gradients, then runs
  the fixed probe batch through the model once, with forward hooks that exist only during that
  pass. The probe pass runs in eval mode inside a forked RNG, restores every module's mode and
  every buffer afterwards, and takes its gradients with ``torch.autograd.grad``, which never
  touches ``param.grad``.
- Hooks are registered inside ``try`` and removed in ``finally``; the Recorder is a context
  manager and :meth:`Recorder.close` is idempotent.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import math
import os
import queue
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from nnviz_widgets.recording import DEFAULT_MAX_BYTES, INPUT, Recording, SnapshotData

__all__ = ["Recorder"]

#: Leaf modules that pass values through without computing anything worth a picture.
_PASSIVE = (nn.Identity, nn.Flatten, nn.Unflatten, nn.modules.dropout._DropoutNd)

#: Modules whose outputs keep channels in dimension 1, also for 3-D outputs (N, C, L).
_CHANNEL_FIRST = (
    nn.modules.conv._ConvNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.GroupNorm,
)

LayerSpec = str | type | Iterable[str | type]


class Recorder:
    """Record a model's weights, gradients and activations while it trains.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained. A ``torch.compile``d model, ``DistributedDataParallel`` or
        ``DataParallel`` wrapper is unwrapped: layers are named as in the inner module's
        ``named_modules()`` and the probe runs through the inner (eager) module.
    probe : torch.Tensor or (torch.Tensor, torch.Tensor), optional
        A fixed batch, ``x`` or ``(x, y)``, on which activations, output gradients and saliency
        are computed at every snapshot, so that frames compare across snapshots. Without it only
        weights, gradients, updates and their statistics are recorded. It is checked against the
        model at construction.
    optimizer : torch.optim.Optimizer, optional
        When given, per-step statistics are taken from its step hooks. Without it, call
        :meth:`step` after each ``optimizer.step()`` (or after each manual weight update).
    layers : str, type, or iterable of them, optional
        What to record: module names (``"features.0"``), glob patterns (``"encoder.*"``) or
        module classes (``nn.Conv2d``). By default, every module that does work: each module
        with parameters of its own, and each leaf module (no children) except pass-through ones
        (``Identity``, ``Flatten``, ``Unflatten``, dropout). The root module counts only when it
        is a leaf or has parameters of its own; it is then named ``""``.
    loss_fn : callable, optional
        ``loss_fn(output, target)`` (or ``loss_fn(output)`` when the probe has no target)
        returning a scalar: the probe loss whose gradients give ``output_grad`` and
        ``saliency``. By default: the summed cross-entropy for integer targets, the summed squared
        error for float targets, and without targets the sum over samples of each sample's
        largest output (the predicted class's score). Summing keeps each sample's gradient
        independent of the probe size. Tensors in a tuple/dict output are found depth-first; the
        first floating-point one is the output.
    probe_mode : {"eval", "train"}
        The mode the model is put in for the probe pass (then restored). "eval" (default) makes
        the probe deterministic: dropout off, BatchNorm on its running statistics.
    max_bytes : int
        Memory budget of the Recording's frames (see :class:`~nnviz_widgets.Recording`).
    max_frame_values : int
        Frames larger than this many values are block-averaged on the device to fit before
        copying (activations keep every sample); the Recording notes the reduction.
    flush_every : int
        Per-step statistics wait on the device and are copied to the host in one go every this
        many steps (and at each snapshot).
    path : str or os.PathLike, optional
        Also write the recording to this directory as it records (format in
        ``docs/format.md``; open it elsewhere with ``Recording.open(path, follow=True)``).
        Writing happens in a background thread; a failed write (full disk, ...) is reported
        as a warning and never stops training. Frames on disk may leave memory when the memory
        budget is reached, and stay readable. Under ``torch.distributed`` only rank 0 writes.
        An unusable path fails here, at construction.
    overwrite : bool
        Replace a recording already in ``path``.

    Notes
    -----
    Under ``torch.distributed`` (DDP) every rank keeps its step hooks, which read gradients in
    the optimizer's pre-step hook, after DDP has averaged them; every rank counts steps the
    same way, and no statistic needs a collective. Snapshots are taken on rank 0 only (other
    ranks return at once from :meth:`snapshot`), through the inner module, so no rank waits for
    another.

    Examples
    --------
    >>> rec = Recorder(model, probe=(x, y), optimizer=opt)  # doctest: +SKIP
    >>> with rec:
    ...     for epoch in range(3):
    ...         train_one_epoch()
    ...         rec.snapshot(epoch=epoch, loss=0.41)
    >>> rec.recording.frame("fc1", "weight", -1)
    """

    def __init__(
        self,
        model: nn.Module,
        probe: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        layers: LayerSpec | None = None,
        loss_fn: Callable[..., torch.Tensor] | None = None,
        probe_mode: str = "eval",
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_frame_values: int = 1 << 24,
        flush_every: int = 50,
        path: str | os.PathLike | None = None,
        overwrite: bool = False,
    ) -> None:
        self._closed = True  # until construction succeeds, close() has nothing to undo
        self._handles: list[Any] = []
        self._model = unwrap_model(model)
        if probe_mode not in ("eval", "train"):
            raise ValueError(f'probe_mode must be "eval" or "train", got {probe_mode!r}')
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        for name, value in (("max_frame_values", max_frame_values), ("flush_every", flush_every)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self._probe_mode = probe_mode
        self._loss_fn = loss_fn
        self._max_frame_values = max_frame_values
        self._flush_every = flush_every
        self._optimizer = optimizer
        self._lock = threading.RLock()

        self._layers: list[tuple[str, nn.Module]] = _select_layers(self._model, layers)
        # unique parameters of the recorded layers (tied weights appear once)
        self._params: list[nn.Parameter] = []
        self._layer_params: dict[str, list[tuple[str, int]]] = {}
        seen: dict[int, int] = {}
        for name, module in self._layers:
            entries = []
            for pname, param in module.named_parameters(recurse=False):
                if id(param) not in seen:
                    seen[id(param)] = len(self._params)
                    self._params.append(param)
                entries.append((pname, seen[id(param)]))
            self._layer_params[name] = entries
        if optimizer is not None:
            _check_optimizer(optimizer, self._params, self._model)

        device = _device_of(self._model)
        self._probe_x, self._probe_y = _normalize_probe(probe, device)

        # per-step accumulators, on the parameters' devices
        self._step_count = 0
        self._grad_sum = [torch.zeros_like(p, dtype=torch.float32) for p in self._params]
        self._grad_steps = np.zeros(len(self._params), dtype=np.int64)
        self._steps_since_snapshot = 0
        self._previous = [p.detach().to(torch.float32, copy=True) for p in self._params]
        self._all_fp32 = all(p.dtype == torch.float32 for p in self._params)
        self._zeros = [torch.zeros((), device=p.device) for p in self._params]
        self._step_grads: tuple | None = None
        self._pending_present: dict[int, np.ndarray] = {}
        self._pending: list[torch.Tensor] = []  # (3, n_layers) per step, still on the device
        self._pending_steps: list[int] = []
        self._layer_index = {name: i for i, (name, _) in enumerate(self._layers)}
        self._membership_t = _membership(self._layers, self._layer_params, len(self._params))
        self._grad_norm_sum = np.zeros(len(self._layers))
        self._grad_norm_count = np.zeros(len(self._layers))
        self._last_snapshot_weights: dict[int, np.ndarray] = {}

        self.recording = Recording(max_bytes=max_bytes)
        """The :class:`~nnviz_widgets.Recording` this Recorder fills."""

        infos = {name: self._describe(name, module) for name, module in self._layers}
        if self._probe_x is not None:
            self._calls = self._check_probe()
            for name, info in infos.items():
                info["calls"] = len(self._calls.get(name, []))
                info["output_shapes"] = [list(s) for s in self._calls.get(name, [])]
            infos[INPUT] = {"type": "input", "calls": 1, "shape": list(self._probe_x.shape)}
            self.recording.set_probe(
                self._probe_x.detach().float().cpu().numpy()
                if self._probe_x.is_floating_point()
                else self._probe_x.detach().cpu().numpy(),
                None if self._probe_y is None else self._probe_y.detach().cpu().numpy(),
            )
        else:
            self._calls = {}
        self.recording.set_layers(infos)

        self._rank = _rank()
        self._disk: _DiskWriter | None = None
        if path is not None and self._rank == 0:
            from nnviz_widgets.store import RecordingWriter

            writer = RecordingWriter(path, overwrite=overwrite, max_bytes=max_bytes)
            try:
                writer.write_layers(infos)
                probe_arrays = self.recording.probe
                if probe_arrays:
                    writer.write_probe(probe_arrays["input"], probe_arrays.get("target"))
            except BaseException:
                writer.close()
                raise
            self._disk = _DiskWriter(writer, self.recording)

        self._closed = False
        if optimizer is not None:
            try:
                ref = weakref.ref(self)  # the optimizer must not keep the Recorder alive
                self._handles.append(
                    optimizer.register_step_pre_hook(_weak_hook(ref, "_before_optimizer_step"))
                )
                self._handles.append(
                    optimizer.register_step_post_hook(_weak_hook(ref, "_after_optimizer_step"))
                )
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # a backstop only: close() or `with` is the way
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"Recorder({type(self._model).__name__}, {len(self._layers)} layers, "
            f"{self._step_count} steps, {len(self.recording)} snapshots, {state})"
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    @property
    def model(self) -> nn.Module:
        """The module recorded (inside a compile or DDP wrapper, the module it wraps)."""
        return self._model

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer whose steps are recorded, if one was given."""
        return self._optimizer

    @property
    def layers(self) -> tuple[str, ...]:
        """Names of the recorded layers."""
        return tuple(name for name, _ in self._layers)

    @property
    def steps(self) -> int:
        """Training steps seen so far."""
        return self._step_count

    def close(self) -> None:
        """Remove every hook, copy pending statistics into the Recording, free buffers.

        Safe to call more than once; the Recording stays readable.
        """
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._disk is not None:
                self._disk.close()
            self._grad_sum = []
            self._previous = []
            self._last_snapshot_weights = {}

    # ------------------------------------------------------------------ per step
    def step(self) -> None:
        """Record one training step; only for a Recorder made without an optimizer.

        Call it after ``optimizer.step()`` (gradients are still in ``param.grad`` until the next
        ``zero_grad()``): it reads the gradients and the weights' change since the previous call.
        """
        self._check_open()
        if self._optimizer is not None:
            raise RuntimeError(
                "this Recorder counts steps from its optimizer's hooks; calling step() as well "
                "would count every step twice. Build it without optimizer= to call step()."
            )
        self._read_gradients()
        self._read_update()

    def _before_optimizer_step(self, optimizer: object, args: object, kwargs: object) -> None:
        if self._closed:
            return None
        try:
            self._read_gradients()
            with torch.no_grad():
                torch._foreach_copy_(self._previous, self._params)
        except Exception:
            if not self._closed:  # closed from another thread mid-step: nothing to record
                raise
        return None

    def _after_optimizer_step(self, optimizer: object, args: object, kwargs: object) -> None:
        if self._closed:
            return None
        try:
            self._read_update()
        except Exception:
            if not self._closed:
                raise
        return None

    @torch.no_grad()
    def _read_gradients(self) -> None:
        # Runs every training step: a few fused (foreach) kernels and no host sync. The norms
        # stay on the device; per-layer arithmetic waits for flush(), on the host.
        grads = [p.grad for p in self._params]
        if all(g is not None for g in grads):  # the usual case
            present = None
        else:
            present = np.array([g is not None for g in grads])
            grads = [self._zeros[i] if g is None else g for i, g in enumerate(grads)]
        if not self._all_fp32:
            grads = [g.float() for g in grads]
        if present is None:
            torch._foreach_add_(self._grad_sum, grads)
            self._grad_steps += 1
        else:
            kept = np.flatnonzero(present).tolist()
            if kept:
                torch._foreach_add_([self._grad_sum[i] for i in kept], [grads[i] for i in kept])
            self._grad_steps += present
        self._step_grads = (grads, present)

    @torch.no_grad()
    def _read_update(self) -> None:
        params = self._params
        grads, present = self._step_grads or (self._zeros, np.zeros(len(params), dtype=bool))
        self._step_grads = None
        if params:
            weights = params if self._all_fp32 else [p.float() for p in params]
            torch._foreach_sub_(self._previous, weights)  # previous - now = -update
            norms = torch.stack(torch._foreach_norm([*grads, *weights, *self._previous]))
            if self._optimizer is None:  # the next step() compares with these weights
                torch._foreach_copy_(self._previous, params)
        else:
            norms = None
        with self._lock:
            self._step_count += 1
            self._steps_since_snapshot += 1
            if norms is not None:
                self._pending.append(norms)
                self._pending_steps.append(self._step_count)
                if present is not None:
                    self._pending_present[len(self._pending) - 1] = present
            due = len(self._pending) >= self._flush_every
        if due:
            self.flush()

    def flush(self) -> None:
        """Copy the per-step statistics waiting on the device into the Recording."""
        with self._lock:
            pending, steps, present = self._pending, self._pending_steps, self._pending_present
            self._pending, self._pending_steps, self._pending_present = [], [], {}
        if not pending:
            return
        n = len(self._params)
        norms = torch.stack(pending).cpu().numpy().astype(np.float64).reshape(-1, 3, n)
        squares = norms**2 @ self._membership_t  # (steps, 3, layers)
        has_grad = np.ones((len(pending), n))
        for row, mask in present.items():
            has_grad[row] = mask
        has_grad = (has_grad @ self._membership_t) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_norm = np.where(has_grad, np.sqrt(squares[:, 0]), np.nan)
            weight_norm = np.sqrt(squares[:, 1])
            update_ratio = np.sqrt(squares[:, 2]) / weight_norm
        finite = ~np.isnan(grad_norm)
        self._grad_norm_sum += np.where(finite, grad_norm, 0.0).sum(axis=0)
        self._grad_norm_count += finite.sum(axis=0)
        series = {}
        for j, (name, _) in enumerate(self._layers):
            if self._layer_params[name]:
                series[(name, "grad_norm")] = grad_norm[:, j]
                series[(name, "weight_norm")] = weight_norm[:, j]
                series[(name, "update_ratio")] = update_ratio[:, j]
        self.recording.append_steps(np.asarray(steps), series)
        if self._disk is not None:
            self._disk.put("steps", np.asarray(steps), series)

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, epoch: float | None = None, **metrics: float) -> int:
        """Record one frame of every chosen layer; returns the snapshot's index.

        Parameters
        ----------
        epoch : float, optional
            The snapshot's label; by default the number of snapshots taken so far.
        **metrics : float
            Scalars to keep with the snapshot (``loss=0.41, accuracy=0.93``); a 0-d tensor or a
            numpy scalar is accepted.
        """
        self._check_open()
        if epoch is None:
            epoch = len(self.recording)
        epoch = _as_float("epoch", epoch)
        values = {name: _as_float(f"metric {name!r}", value) for name, value in metrics.items()}
        self.flush()
        if self._rank != 0:  # under torch.distributed, rank 0 alone records snapshots
            return -1
        data = SnapshotData(epoch=epoch, step=self._step_count, metrics=values)
        with torch.no_grad():
            self._snapshot_parameters(data)
        if self._probe_x is not None:
            try:
                self._snapshot_probe(data)
            except Exception as error:  # a failed probe pass must not stop training
                self._probe_failed(data, error)
        self._grad_norm_sum[:] = 0.0
        self._grad_norm_count[:] = 0.0
        self._steps_since_snapshot = 0
        if self._disk is not None:  # not thinned while on its way to disk
            self.recording.mark_storing(len(self.recording))
        index = self.recording.append_snapshot(data)
        if self._disk is not None:
            self._disk.put("snapshot", index, data)
        return index

    def _snapshot_parameters(self, data: SnapshotData) -> None:
        steps = self._steps_since_snapshot
        weights: dict[int, torch.Tensor] = {}
        captured: dict[int, tuple[_Captured, _Captured | str]] = {}
        for i, param in enumerate(self._params):
            host = param.detach().to("cpu", torch.float32, copy=True)
            weights[i] = host
            if self._grad_steps[i]:
                grad = self._grad_sum[i].div_(float(self._grad_steps[i]))
                grad_or_reason = self._capture(grad, keep_first=False)
                self._grad_sum[i].zero_()
                self._grad_steps[i] = 0
            elif not param.requires_grad:
                grad_or_reason = "the parameter is frozen (requires_grad=False)"
            elif self._step_count == 0:
                grad_or_reason = "no training step had run yet, so there is no gradient"
            elif steps == 0:
                grad_or_reason = "no training step ran since the previous snapshot"
            else:
                grad_or_reason = f"no gradient reached this parameter in the last {steps} step(s)"
            captured[i] = (self._capture(host, keep_first=False), grad_or_reason)

        updates: dict[int, tuple[_Captured, float, float]] = {}
        for i, host in weights.items():
            previous = self._last_snapshot_weights.get(i)
            if previous is not None:
                update = host - previous
                updates[i] = (
                    self._capture(update, keep_first=False),
                    _squared_norm(update),
                    _squared_norm(previous),
                )

        for j, (name, _) in enumerate(self._layers):
            entries = self._layer_params[name]
            if not entries:
                continue
            weight_sq = update_sq = previous_sq = 0.0
            for pname, i in entries:
                weight, grad = captured[i]
                grad_key = "weight_grad" if pname == "weight" else f"{pname}_grad"
                update_key = "update" if pname == "weight" else f"{pname}_update"
                self._add(data, name, pname, weight)
                if isinstance(grad, str):
                    _miss(data, (name, grad_key), grad)
                else:
                    self._add(data, name, grad_key, grad)
                if i in updates:
                    update, squared, previous_squared = updates[i]
                    self._add(data, name, update_key, update)
                    update_sq += squared
                    previous_sq += previous_squared
                else:
                    _miss(
                        data,
                        (name, update_key),
                        "the first snapshot has no earlier snapshot to compare with",
                    )
                weight_sq += weight.squared_norm
            has_update = all(i in updates for _, i in entries)
            data.statistics[(name, "weight_norm")] = math.sqrt(weight_sq)
            data.statistics[(name, "update_ratio")] = (
                math.sqrt(update_sq / previous_sq) if has_update and previous_sq > 0 else math.nan
            )
            count = self._grad_norm_count[j]
            data.statistics[(name, "grad_norm")] = (
                self._grad_norm_sum[j] / count if count else math.nan
            )
        self._last_snapshot_weights = weights

    def _snapshot_probe(self, data: SnapshotData) -> None:
        activations, grads, saliency, reason = self._probe_pass()
        for name, _ in self._layers:
            calls = activations.get(name, [])
            for k, activation in enumerate(calls):
                suffix = "" if k == 0 else f"[{k}]"
                self._add(data, name, f"activation{suffix}", activation)
                grad = grads.get((name, k))
                if grad is None:
                    _miss(
                        data,
                        (name, f"output_grad{suffix}"),
                        reason or "no gradient of the probe loss reached this output",
                    )
                else:
                    self._add(data, name, f"output_grad{suffix}", grad)
            if calls:
                data.statistics[(name, "dead_fraction")] = calls[0].dead_fraction
        if saliency is not None:
            self._add(data, INPUT, "saliency", saliency)
        elif self._probe_x.is_floating_point():
            _miss(data, (INPUT, "saliency"), reason or "the probe loss does not depend on x")

    def _probe_failed(self, data: SnapshotData, error: Exception) -> None:
        reason = f"the probe pass failed: {type(error).__name__}: {error}"
        for name, _ in self._layers:
            for k in range(len(self._calls.get(name, []))):
                suffix = "" if k == 0 else f"[{k}]"
                for quantity in ("activation", "output_grad"):
                    _miss(data, (name, quantity + suffix), reason)
        if self._probe_x.is_floating_point():
            _miss(data, (INPUT, "saliency"), reason)
        warnings.warn(
            f"snapshot {len(self.recording)}: {reason}; weights and gradients were recorded, "
            "activations were not",
            RuntimeWarning,
            stacklevel=3,
        )

    def _capture(
        self, tensor: torch.Tensor, *, keep_first: bool, unit_dim: int | None = None
    ) -> _Captured:
        return _Captured(tensor, self._max_frame_values, keep_first=keep_first, unit_dim=unit_dim)

    @staticmethod
    def _add(data: SnapshotData, layer: str, quantity: str, captured: _Captured) -> None:
        data.frames[(layer, quantity)] = captured.array
        data.statistics[(layer, f"nonfinite_{quantity}")] = captured.nonfinite
        if captured.note:
            data.notes[(layer, quantity)] = captured.note

    # ------------------------------------------------------------------ the probe pass
    def _probe_pass(
        self, *, trace: bool = False
    ) -> tuple[dict, dict, _Captured | None, str | None]:
        """Run the probe through the model with temporary hooks; leave no trace on the model.

        Returns the captured activations ``{layer: [one per call]}``, output gradients
        ``{(layer, call): captured}``, the saliency (or None) and, when gradients could not be
        taken, why.
        """
        model = self._model
        modes = [(m, m.training) for m in model.modules()]
        buffers = [(b, b.detach().clone()) for b in model.buffers()]
        activations: dict[str, list[_Captured]] = {}
        grads: dict[tuple[str, int], _Captured] = {}
        handles = []
        stack: list[tuple[str, nn.Module, list]] = []
        try:
            for name, module in self._layers:
                handles.append(
                    module.register_forward_hook(_capture_hook(self, name, activations, grads))
                )
            if trace:
                for name, module in model.named_modules():
                    handles.append(module.register_forward_pre_hook(_enter(name, stack)))
                    handles.append(module.register_forward_hook(_leave(stack)))
            cuda = [self._probe_x.device.index or 0] if self._probe_x.is_cuda else []
            with (
                torch.random.fork_rng(devices=cuda),
                torch.inference_mode(False),
                torch.enable_grad(),
            ):
                model.train(self._probe_mode == "train")
                x = self._probe_x.detach().clone()
                floating = x.is_floating_point()
                if floating:
                    x.requires_grad_(True)
                try:
                    output = model(x)
                except Exception as error:
                    if trace:
                        raise _ProbeMismatch(error, list(stack)) from error
                    raise
                objective = self._objective(output)
                reason = None
                saliency = None
                wrt = [x] if floating else [p for p in model.parameters() if p.requires_grad]
                if not objective.requires_grad or not wrt:
                    reason = "the probe loss does not depend on anything that takes a gradient"
                else:
                    result = torch.autograd.grad(objective, wrt, allow_unused=True)
                    if floating and result[0] is not None:
                        saliency = self._capture(result[0], keep_first=True)
        finally:
            for handle in handles:
                handle.remove()
            for module, training in modes:
                module.training = training
            with torch.no_grad():
                for buffer, saved in buffers:
                    if not torch.equal(buffer, saved):
                        buffer.copy_(saved)
        return activations, grads, saliency, reason

    def _objective(self, output: Any) -> torch.Tensor:
        y = self._probe_y
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

    def _check_probe(self) -> dict[str, list[tuple[int, ...]]]:
        """Run the probe once at construction: bad probes and loss functions fail here."""
        try:
            activations, _, _, _ = self._probe_pass(trace=True)
        except _ProbeMismatch as mismatch:
            raise ValueError(_mismatch_message(mismatch, self._probe_x)) from mismatch.error
        except Exception as error:
            raise ValueError(
                f"the probe loss could not be computed on the probe of shape "
                f"{tuple(self._probe_x.shape)}"
                + ("" if self._probe_y is None else f" with target {tuple(self._probe_y.shape)}")
                + f": {type(error).__name__}: {error}"
            ) from error
        return {name: [c.array.shape for c in calls] for name, calls in activations.items()}

    # ------------------------------------------------------------------ helpers
    def _describe(self, name: str, module: nn.Module) -> dict:
        return {
            "type": type(module).__name__,
            "parameters": {
                pname: list(p.shape) for pname, p in module.named_parameters(recurse=False)
            },
            "frozen": [
                pname for pname, p in module.named_parameters(recurse=False) if not p.requires_grad
            ],
            "channel_first": isinstance(module, _CHANNEL_FIRST),
        }

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                "this Recorder is closed; its recording is still readable as .recording. "
                "Make a new Recorder to record more."
            )


# ---------------------------------------------------------------------- module-level helpers
class _DiskWriter:
    """Writes snapshots and step series to a recording directory from a background thread.

    The training thread only puts work in a bounded queue (it waits only when the disk is eight
    snapshots behind). Failures become warnings, each distinct one once: training goes on and
    the recording stays complete in memory.
    """

    def __init__(self, writer: Any, recording: Recording) -> None:
        self._writer = writer
        self._recording = recording
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._reported: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="nnviz-writer", daemon=True)
        self._thread.start()

    def put(self, kind: str, *args: object) -> None:
        if self._thread.is_alive():
            self._queue.put((kind, args))
        elif kind == "snapshot":
            self._recording.mark_store_failed(args[0])

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        try:
            self._writer.close()
        except OSError as error:
            self._report(error)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, args = item
            try:
                if kind == "snapshot":
                    index, data = args
                    stored = self._writer.write_snapshot(index, data)
                    self._recording.mark_stored(index, stored)
                else:
                    self._writer.write_steps(*args)
            except Exception as error:  # the disk must never stop training
                if kind == "snapshot":
                    self._recording.mark_store_failed(args[0])
                self._report(error)

    def _report(self, error: Exception) -> None:
        message = (
            f"writing the recording failed: {error}. Training goes on; the recording stays "
            "in memory"
        )
        kind = f"{type(error).__name__}:{getattr(error, 'errno', None)}"
        if kind in self._reported:  # the same failure for every snapshot: say it once
            return
        self._reported.add(kind)
        with contextlib.suppress(Exception):  # even where warnings are made errors
            warnings.warn(message, RuntimeWarning, stacklevel=2)


def _rank() -> int:
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank()
    return 0


class _ProbeMismatch(Exception):
    def __init__(self, error: Exception, stack: list) -> None:
        super().__init__(str(error))
        self.error = error
        self.stack = stack


def _miss(data: SnapshotData, key: tuple[str, str], reason: str) -> None:
    data.frames[key] = None  # keeps the quantity's place in the order
    data.missing[key] = reason


def _weak_hook(ref: weakref.ReferenceType, method: str) -> Callable:
    def hook(*args: object) -> None:
        recorder = ref()
        if recorder is not None:
            getattr(recorder, method)(*args)
        return None  # a hook's return value would replace the optimizer's arguments

    return hook


def _capture_hook(recorder: Recorder, name: str, activations: dict, grads: dict) -> Callable:
    def hook(module: nn.Module, args: object, output: object) -> None:
        tensor = _first_float_tensor(output)
        if tensor is None:
            return None
        calls = activations.setdefault(name, [])
        key = (name, len(calls))
        # copied to the host now: an in-place op after this module (ReLU(inplace=True)) would
        # change the values later
        unit_dim = _unit_dim(module, tensor.ndim)
        calls.append(recorder._capture(tensor, keep_first=True, unit_dim=unit_dim))
        if tensor.requires_grad:
            # a tensor hook gets the gradient of the output as this module returned it, even
            # when a later in-place op modifies it (pytorch #61519 is why not a module hook)
            def keep(grad: torch.Tensor) -> None:
                grads[key] = recorder._capture(grad, keep_first=True)
                return None

            tensor.register_hook(keep)
        return None

    return hook


def _enter(name: str, stack: list) -> Callable:
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


def _mismatch_message(mismatch: _ProbeMismatch, x: torch.Tensor) -> str:
    text = f"the probe does not fit the model: the probe input has shape {tuple(x.shape)}"
    innermost = [entry for entry in mismatch.stack if entry[0] != ""]
    if innermost:
        name, module, shapes = innermost[-1]
        got = shapes[0] if len(shapes) == 1 else shapes
        text += (
            f", layer {name!r} ({type(module).__name__}) received input of shape {got}"
            f" but expects {_expected_input(module)}"
        )
    error = mismatch.error
    return f"{text}. The model raised {type(error).__name__}: {error}"


def _expected_input(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"(*, {module.in_features})"
    if isinstance(module, nn.modules.conv._ConvNd):
        spatial = ", ".join(["L", "H", "W"][-len(module.kernel_size) :]) or "..."
        if len(module.kernel_size) == 3:
            spatial = "D, H, W"
        return f"(N, {module.in_channels}, {spatial})"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return f"(N, {module.num_features}, ...)"
    if isinstance(module, nn.RNNBase):
        order = "(N, T, {})" if module.batch_first else "(T, N, {})"
        return order.format(module.input_size)
    if isinstance(module, nn.Embedding):
        return f"integer indices below {module.num_embeddings}"
    if isinstance(module, nn.LayerNorm):
        return f"(*, {', '.join(str(s) for s in module.normalized_shape)})"
    return "a different shape (see the error below)"


def unwrap_model(model: object) -> nn.Module:
    """The module inside a ``torch.compile``, DDP or DataParallel wrapper (TypeError if not a
    module)."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"Recorder needs a torch.nn.Module as its model, got {type(model).__name__}; "
            "pass the model itself (e.g. Recorder(model, ...)), not its outputs or parameters"
        )
    seen = 0
    while seen < 4:  # compiled DDP of a compiled module, and so on
        seen += 1
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if isinstance(inner, nn.Module):
            model = inner
            continue
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
            continue
        break
    return model


def _select_layers(model: nn.Module, spec: LayerSpec | None) -> list[tuple[str, nn.Module]]:
    named = list(model.named_modules())
    if spec is None:
        chosen = []
        for name, module in named:
            own = next(module.parameters(recurse=False), None) is not None
            leaf = next(module.children(), None) is None
            if name == "" and not (own or leaf):
                continue
            if own or (leaf and not isinstance(module, _PASSIVE)):
                chosen.append((name, module))
        if not chosen:
            raise ValueError("the model has no module that computes anything to record")
        return chosen
    items = [spec] if isinstance(spec, str | type) else list(spec)
    if not items:
        raise ValueError("layers= is empty; leave it out to record every layer that does work")
    names = [name for name, _ in named if name]
    wanted: set[int] = set()
    for item in items:
        if isinstance(item, type):
            if not issubclass(item, nn.Module):
                raise TypeError(f"layers= may hold module classes, got {item!r}")
            hits = {i for i, (_, m) in enumerate(named) if isinstance(m, item)}
            if not hits:
                present = sorted({type(m).__name__ for _, m in named})
                raise ValueError(
                    f"no module of type {item.__name__} in the model; its types are "
                    + ", ".join(present)
                )
        elif isinstance(item, str):
            if any(c in item for c in "*?["):
                hits = {i for i, (n, _) in enumerate(named) if n and fnmatch.fnmatchcase(n, item)}
                if not hits:
                    raise ValueError(
                        f"the pattern {item!r} matches no layer; layers are named "
                        + ", ".join(repr(n) for n in names[:15])
                        + (" ..." if len(names) > 15 else "")
                    )
            else:
                hits = {i for i, (n, _) in enumerate(named) if n == item}
                if not hits:
                    close = difflib.get_close_matches(item, names, n=3, cutoff=0.4)
                    raise ValueError(
                        f"no layer named {item!r} in the model"
                        + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
                        + " Layers: "
                        + ", ".join(repr(n) for n in names[:15])
                        + (" ..." if len(names) > 15 else "")
                    )
        else:
            raise TypeError(
                f"layers= takes names, glob patterns or module classes, got {item!r} "
                f"({type(item).__name__})"
            )
        wanted |= hits
    return [named[i] for i in sorted(wanted)]


def _check_optimizer(optimizer: torch.optim.Optimizer, params: Sequence, model: nn.Module) -> None:
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if not optimized & {id(p) for p in model.parameters()}:
        raise ValueError(
            "the optimizer updates none of the model's parameters; pass the optimizer that "
            "trains this model (built from model.parameters())"
        )


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _normalize_probe(
    probe: object, device: torch.device
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if probe is None:
        return None, None
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


def _membership(layers: list, layer_params: dict, n_params: int) -> np.ndarray:
    """A (parameters, layers) 0/1 matrix: which parameters make up each layer."""
    member = np.zeros((n_params, len(layers)))
    for j, (name, _) in enumerate(layers):
        for _, i in layer_params[name]:
            member[i, j] = 1.0
    return member


def _first_float_tensor(value: object) -> torch.Tensor | None:
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


def _unit_dim(module: nn.Module, ndim: int) -> int:
    """Which dimension of an output holds its units: channels for images, features otherwise."""
    if ndim <= 2 or ndim >= 4:
        return 1 if ndim >= 2 else 0
    return 1 if isinstance(module, _CHANNEL_FIRST) else 2


class _Captured:
    """One frame taken from a tensor: a numpy copy (reduced to fit) and its counts.

    The counts are taken on the tensor's device before copying, in float32: a bf16 reduction
    cannot count past 256 exactly.
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
        self.squared_norm = _squared_norm(tensor) if not keep_first else math.nan
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
        # an array numpy owns, so a Recording holds no torch object
        self.array = np.empty(tuple(fitted.shape), dtype=np.float32)
        torch.from_numpy(self.array).copy_(fitted)


def _squared_norm(tensor: torch.Tensor) -> float:
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


def _as_float(what: str, value: object) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{what} must be a single number, got a tensor of shape {value.shape}")
        return float(value.detach().cpu())
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}: {value!r}")
    return float(value)
