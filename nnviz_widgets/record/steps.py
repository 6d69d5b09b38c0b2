"""Per-step statistics: what the Recorder reads at every optimizer step, kept on the device.

Every training step costs a few fused (foreach) kernels and no host-device synchronisation:
:meth:`StepStatistics.read_gradients` adds each recorded parameter's gradient to a float32 sum
(for the mean gradient at the next snapshot) and :meth:`StepStatistics.read_update` stacks the
norms of the gradients, the weights and the update into one small tensor that stays on the
device. :meth:`StepStatistics.flush` copies the waiting norms to the host in one go (every
``flush_every`` steps and at each snapshot) and turns them into per-layer series: gradient norm,
weight norm, update/weight ratio.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from nnviz_widgets.record.layers import RecordedLayers

__all__ = ["StepStatistics"]


class StepStatistics:
    """The device accumulators of the recorded parameters between two snapshots.

    Parameters
    ----------
    layers : RecordedLayers
        The recorded layers and their parameters.
    flush_every : int
        How many steps' norms wait on the device before :meth:`read_update` says a flush is due.
    manual : bool
        True when there is no optimizer pre-step hook to call :meth:`keep_weights`: then
        :meth:`read_update` keeps the weights itself, for the next step to compare with.

    Notes
    -----
    The step hooks run in the training thread; :meth:`flush` may also run in the thread that
    takes a snapshot or closes the Recorder. The lock guards the step counts and the norms
    waiting for a flush. The device sums are not locked: a snapshot reads them between two
    steps (the widgets take their snapshots in the training thread, after an epoch).
    """

    def __init__(self, layers: RecordedLayers, flush_every: int, *, manual: bool) -> None:
        params = layers.parameters
        self._layers = layers
        self._flush_every = flush_every
        self._manual = manual
        self._all_fp32 = all(p.dtype == torch.float32 for p in params)
        self._zeros = [torch.zeros((), device=p.device) for p in params]
        # the gradient sum since the last snapshot, and on how many steps each parameter had one
        self._grad_sum = [torch.zeros_like(p, dtype=torch.float32) for p in params]
        self._grad_steps = np.zeros(len(params), dtype=np.int64)
        # the weights before the current step (then, after read_update, minus the update)
        self._previous = [p.detach().to(torch.float32, copy=True) for p in params]
        # this step's gradients and which parameters had one (None: all), for read_update
        self._step_grads: tuple | None = None
        # per-layer sums of the flushed gradient norms since the last snapshot
        self._grad_norm_sum = np.zeros(len(layers.modules))
        self._grad_norm_count = np.zeros(len(layers.modules))
        # guards the counts and the pending norms below: flush() may run in another thread
        self._lock = threading.Lock()
        self._step_count = 0
        self._steps_since_snapshot = 0
        self._pending: list[torch.Tensor] = []  # (3, n_params) norms per step, on the device
        self._pending_steps: list[int] = []
        self._pending_present: dict[int, np.ndarray] = {}  # row -> which params had a gradient

    @property
    def step_count(self) -> int:
        """Training steps seen so far."""
        return self._step_count

    @property
    def steps_since_snapshot(self) -> int:
        """Training steps seen since :meth:`start_snapshot_period` was last called."""
        return self._steps_since_snapshot

    # ------------------------------------------------------------------ every step
    @torch.no_grad()
    def read_gradients(self) -> None:
        """Add this step's gradients to the sums (before the optimizer changes the weights)."""
        # The norms stay on the device; per-layer arithmetic waits for flush(), on the host.
        grads = [p.grad for p in self._layers.parameters]
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
    def keep_weights(self) -> None:
        """Copy the weights before the optimizer changes them, for :meth:`read_update`."""
        torch._foreach_copy_(self._previous, self._layers.parameters)

    @torch.no_grad()
    def read_update(self) -> bool:
        """Take this step's norms (after the weights changed) and count the step.

        Returns whether enough steps wait on the device that :meth:`flush` is due.
        """
        params = self._layers.parameters
        grads, present = self._step_grads or (self._zeros, np.zeros(len(params), dtype=bool))
        self._step_grads = None
        if params:
            weights = params if self._all_fp32 else [p.float() for p in params]
            torch._foreach_sub_(self._previous, weights)  # previous - now = -update
            norms = torch.stack(torch._foreach_norm([*grads, *weights, *self._previous]))
            if self._manual:  # the next step() compares with these weights
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
            return len(self._pending) >= self._flush_every

    # ------------------------------------------------------------------ to the host
    def flush(self) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]] | None:
        """Copy the norms waiting on the device to the host; None when none wait.

        Returns the step numbers and ``{(layer, name): values}`` for ``grad_norm``,
        ``weight_norm`` and ``update_ratio`` of every layer with parameters.
        """
        with self._lock:
            pending, steps, present = self._pending, self._pending_steps, self._pending_present
            self._pending, self._pending_steps, self._pending_present = [], [], {}
        if not pending:
            return None
        membership = self._layers.membership
        n = len(self._layers.parameters)
        norms = torch.stack(pending).cpu().numpy().astype(np.float64).reshape(-1, 3, n)
        squares = norms**2 @ membership  # (steps, 3, layers)
        has_grad = np.ones((len(pending), n))
        for row, mask in present.items():
            has_grad[row] = mask
        has_grad = (has_grad @ membership) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_norm = np.where(has_grad, np.sqrt(squares[:, 0]), np.nan)
            weight_norm = np.sqrt(squares[:, 1])
            update_ratio = np.sqrt(squares[:, 2]) / weight_norm
        finite = ~np.isnan(grad_norm)
        self._grad_norm_sum += np.where(finite, grad_norm, 0.0).sum(axis=0)
        self._grad_norm_count += finite.sum(axis=0)
        series = {}
        for j, (name, _) in enumerate(self._layers.modules):
            if self._layers.entries[name]:
                series[(name, "grad_norm")] = grad_norm[:, j]
                series[(name, "weight_norm")] = weight_norm[:, j]
                series[(name, "update_ratio")] = update_ratio[:, j]
        return np.asarray(steps), series

    # ------------------------------------------------------------------ at a snapshot
    def mean_gradient(self, index: int) -> torch.Tensor | None:
        """Parameter ``index``'s mean gradient over the steps since the last snapshot.

        None when no gradient reached it. The mean is computed in place, in the sum's own
        storage: read it before :meth:`clear_gradient`.
        """
        count = self._grad_steps[index]
        if not count:
            return None
        return self._grad_sum[index].div_(float(count))

    def clear_gradient(self, index: int) -> None:
        """Start parameter ``index``'s gradient sum again from zero."""
        if self._grad_steps[index]:
            self._grad_sum[index].zero_()
            self._grad_steps[index] = 0

    def mean_grad_norm(self, layer: int) -> float:
        """The mean over the flushed steps since the last snapshot of layer ``layer``'s
        gradient norm (NaN without one)."""
        count = self._grad_norm_count[layer]
        return self._grad_norm_sum[layer] / count if count else math.nan

    def start_snapshot_period(self) -> None:
        """A snapshot was taken: the mean gradient norms and step counts start again."""
        self._grad_norm_sum[:] = 0.0
        self._grad_norm_count[:] = 0.0
        self._steps_since_snapshot = 0

    def free(self) -> None:
        """Let go of the device buffers (the Recorder is closed)."""
        self._grad_sum = []
        self._previous = []
