"""Per-step statistics: what the Recorder reads at the optimizer steps, kept on the device.

On the steps that :class:`~nnviz_widgets.record.schedule.StatsSchedule` picks (``stats_every``),
the step hooks cost a few fused (foreach) kernels, one pass over the gradients and one over the
weights, and no host-device synchronisation: :meth:`StepStatistics.before_step` takes the
gradient norms and gathers a fixed sample of the weights
(:class:`~nnviz_widgets.record.update_sample.UpdateSample`); :meth:`StepStatistics.after_step`
takes the weight norms and the norms of the sampled update, and stacks them all into one small
tensor that stays on the device. Other steps only count. :meth:`StepStatistics.flush` copies
the waiting norms to the host in one go (every ``flush_every`` steps with statistics and at each
snapshot) and turns them into per-layer series: gradient norm, weight norm, update/weight ratio.

With ``mean_gradient=True`` every step also adds each gradient to a float32 sum (a full copy of
the parameters on their device), for the mean gradient at the next snapshot.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from nnviz_widgets.record.layers import RecordedLayers
from nnviz_widgets.record.schedule import StatsSchedule
from nnviz_widgets.record.update_sample import UpdateSample

__all__ = ["StepStatistics"]


class StepStatistics:
    """The device side of the per-step statistics between two snapshots.

    Parameters
    ----------
    layers : RecordedLayers
        The recorded layers and their parameters.
    flush_every : int
        How many steps' norms wait on the device before :meth:`after_step` says a flush is due.
    manual : bool
        True when there is no optimizer pre-step hook: :meth:`before_step` and
        :meth:`after_step` then run together after the step, and the weights' sample is kept
        at the end of the step before one with statistics.
    stats_every : int or "auto"
        Which steps get statistics (:class:`~nnviz_widgets.record.schedule.StatsSchedule`).
    mean_gradient : bool
        Also sum every step's gradients, for :meth:`mean_gradient`.

    Notes
    -----
    The step hooks run in the training thread; :meth:`flush` may also run in the thread that
    takes a snapshot or closes the Recorder. The lock guards the step count and the norms
    waiting for a flush. The device buffers are not locked: a snapshot reads them between two
    steps (the widgets take their snapshots in the training thread, after an epoch).
    """

    def __init__(
        self,
        layers: RecordedLayers,
        flush_every: int,
        *,
        manual: bool,
        stats_every: int | str = "auto",
        mean_gradient: bool = False,
    ) -> None:
        params = layers.parameters
        self._layers = layers
        self._flush_every = flush_every
        self._manual = manual
        self.schedule = StatsSchedule(stats_every)
        self._sample = UpdateSample(params) if params else None
        self._zeros: dict[torch.device, torch.Tensor] = {}  # stand-ins for missing gradients
        # norms in float32 (a bf16 norm keeps 3 digits), asked for only where it is not already
        all_float32 = all(p.dtype == torch.float32 for p in params)
        self._norm_dtype = None if all_float32 else torch.float32
        # the gradient sum since the last snapshot and on how many steps each parameter had one
        self._grad_sum: list[torch.Tensor] | None = None
        if mean_gradient:
            self._grad_sum = [torch.zeros_like(p, dtype=torch.float32) for p in params]
        self._grad_steps = np.zeros(len(params), dtype=np.int64)
        # this step: whether it has statistics, its gradient norms, the hooks' seconds so far
        self._stats_now = False
        self._grad_norms: tuple[list[torch.Tensor], np.ndarray | None] | None = None
        self._cost = 0.0
        # per-layer sums of the flushed gradient norms since the last snapshot
        self._grad_norm_sum = np.zeros(len(layers.modules))
        self._grad_norm_count = np.zeros(len(layers.modules))
        # guards the count and the pending norms below: flush() may run in another thread
        self._lock = threading.Lock()
        self._step_count = 0
        self._steps_since_snapshot = 0
        self._pending: list[torch.Tensor] = []  # (2 params + pieces,) norms per step, on device
        self._pending_steps: list[int] = []
        self._pending_present: dict[int, np.ndarray] = {}  # row -> which params had a gradient
        if manual and self._sample is not None and self.schedule.due(1):
            self._sample.gather()  # the first step's update is measured from here

    @property
    def step_count(self) -> int:
        """Training steps seen so far."""
        return self._step_count

    @property
    def steps_since_snapshot(self) -> int:
        """Training steps seen since :meth:`start_snapshot_period` was last called."""
        return self._steps_since_snapshot

    @property
    def keeps_gradient_sum(self) -> bool:
        """Whether every step's gradients are summed (``mean_gradient=True``)."""
        return self._grad_sum is not None

    def device_bytes(self) -> dict[str, int]:
        """Bytes held on the parameters' devices, by what they are for."""
        with self._lock:
            pending = sum(t.nbytes for t in self._pending)
        return {
            "update sample": 0 if self._sample is None else self._sample.nbytes,
            "gradient sum": sum(t.nbytes for t in self._grad_sum or ()),
            "norms waiting for the host": pending,
        }

    # ------------------------------------------------------------------ every step
    def before_step(self) -> None:
        """Read this step's gradients, and keep the weights' sample (the weights unchanged)."""
        if self._grad_sum is not None:
            self._add_gradients()
        self._stats_now = self._sample is not None and self.schedule.due(self._step_count + 1)
        if self._stats_now:
            with torch.no_grad():
                self._read_gradients()

    def _read_gradients(self) -> None:
        """The gradient norms and the weights' sample of a step with statistics."""
        start = self.schedule.now()
        params = self._layers.parameters
        grads = [p.grad for p in params]
        present = None
        if not all(g is not None for g in grads):
            present = np.array([g is not None for g in grads])
            grads = [self._zero(p) if g is None else g for p, g in zip(params, grads)]
        self._grad_norms = (torch._foreach_norm(grads, 2, dtype=self._norm_dtype), present)
        if not self._manual:
            self._sample.gather()
        self._cost = self.schedule.now() - start

    def after_step(self) -> bool:
        """Take this step's weight and update norms (the weights changed) and count the step.

        Returns whether enough steps' norms wait on the device that :meth:`flush` is due.
        """
        now = self.schedule.now()
        step = self._step_count + 1
        norms, present, cost = None, None, None
        if self._stats_now and self._grad_norms is not None:
            grad_norms, present = self._grad_norms
            with torch.no_grad():
                after = torch._foreach_norm(
                    [*self._layers.parameters, *self._sample.differences()],
                    2,
                    dtype=self._norm_dtype,
                )
                norms = torch.stack([*grad_norms, *after])
            cost = self._cost + self.schedule.now() - now
        self._stats_now, self._grad_norms = False, None
        self.schedule.step_ended(step, now, cost)
        if self._manual and self._sample is not None and self.schedule.due(step + 1):
            self._sample.gather()  # the next step's update is measured from here
        with self._lock:
            self._step_count = step
            self._steps_since_snapshot += 1
            if norms is not None:
                self._pending.append(norms)
                self._pending_steps.append(step)
                if present is not None:
                    self._pending_present[len(self._pending) - 1] = present
            return len(self._pending) >= self._flush_every

    def _zero(self, param: torch.Tensor) -> torch.Tensor:
        """A zero on the parameter's device: the norm of a gradient that is None."""
        zero = self._zeros.get(param.device)
        if zero is None:
            zero = self._zeros[param.device] = torch.zeros((), device=param.device)
        return zero

    def _add_gradients(self) -> None:
        """Add this step's gradients to the sums (``mean_gradient=True``)."""
        grads = [p.grad for p in self._layers.parameters]
        kept = [i for i, g in enumerate(grads) if g is not None]
        if kept:
            torch._foreach_add_(
                [self._grad_sum[i] for i in kept],
                [grads[i] if grads[i].dtype == torch.float32 else grads[i].float() for i in kept],
            )
            self._grad_steps[kept] += 1

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
        norms = torch.stack(pending).cpu().numpy().astype(np.float64)
        # einsum, not @: no BLAS call in the training thread (docs/architecture.md, "Facts")
        grad_sq = np.einsum("sp,pl->sl", norms[:, :n] ** 2, membership)  # (steps, layers)
        weight_sq = np.einsum("sp,pl->sl", norms[:, n : 2 * n] ** 2, membership)
        update_sq = np.einsum(
            "sp,pl->sl", self._sample.squared_updates(norms[:, 2 * n :]), membership
        )
        has_grad = np.ones((len(pending), n))
        for row, mask in present.items():
            has_grad[row] = mask
        has_grad = np.einsum("sp,pl->sl", has_grad, membership) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_norm = np.where(has_grad, np.sqrt(grad_sq), np.nan)
            weight_norm = np.sqrt(weight_sq)
            update_ratio = np.sqrt(update_sq) / weight_norm
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

        None when no gradient reached it, or without ``mean_gradient=True``. The mean is
        computed in place, in the sum's own storage: read it before :meth:`clear_gradient`.
        """
        count = self._grad_steps[index]
        if self._grad_sum is None or not count:
            return None
        return self._grad_sum[index].div_(float(count))

    def clear_gradient(self, index: int) -> None:
        """Start parameter ``index``'s gradient sum again from zero."""
        if self._grad_sum is not None and self._grad_steps[index]:
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
        self.schedule.snapshot_taken(self._step_count)
        if self._manual and self._sample is not None and self.schedule.due(self._step_count + 1):
            self._sample.gather()

    def free(self) -> None:
        """Let go of the device buffers (the Recorder is closed)."""
        self._grad_sum = None if self._grad_sum is None else []
        self._sample = None
