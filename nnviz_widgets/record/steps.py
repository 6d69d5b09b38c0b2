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

Gradients in other layouts (sparse, complex, another dtype than float32) are reduced through
:func:`~nnviz_widgets.record.layouts.norm_operand`. Each waiting row keeps the layout it was
taken with (:class:`RowLayout`), so a parameter replaced or widened between two flushes (the
sample is then made again) never mixes rows of different shapes.

With ``mean_gradient=True`` every step also adds each gradient to a float32 sum (a full copy of
the parameters on their device), for the mean gradient at the next snapshot.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from nnviz_widgets.record.gradient_sum import GradientSum
from nnviz_widgets.record.layers import RecordedLayers
from nnviz_widgets.record.layouts import norm_operand
from nnviz_widgets.record.schedule import StatsSchedule
from nnviz_widgets.record.update_sample import UpdateSample

__all__ = ["RowLayout", "StepStatistics"]

_STRIDED = torch.strided


class RowLayout:
    """What one step's row of norms holds: gradient norms of ``count`` parameters, their weight
    norms, then the sample's pieces (``weights``), and which layers they make up.

    A new one is made when the sample is made again or the layers are planned again; rows
    keep the one they were taken with.
    """

    __slots__ = ("count", "layers", "membership", "weights")

    def __init__(self, layers: RecordedLayers, weights: np.ndarray) -> None:
        self.count = len(layers.parameters)
        self.membership = layers.membership
        self.layers = [
            (j, name) for j, (name, _) in enumerate(layers.modules) if layers.entries[name]
        ]
        self.weights = weights


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
    steps (the Recorder's lock sees to that, ``docs/recorder.md``, "Threads").
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
        self._layers = layers
        self._flush_every = flush_every
        self._manual = manual
        self.schedule = StatsSchedule(stats_every)
        self._mean_gradient = mean_gradient
        self._zeros: dict[torch.device, torch.Tensor] = {}  # stand-ins for missing gradients
        # this step: whether it has statistics, its gradient norms, the hooks' seconds so far
        self._stats_now = False
        self._grad_norms: tuple[list[torch.Tensor], np.ndarray | None] | None = None
        self._cost = 0.0
        # per-layer sums and counts of the flushed gradient norms since the last snapshot
        self._grad_norm_sums: dict[str, list[float]] = {}
        # guards the count and the pending rows below: flush() may run in another thread
        self._lock = threading.Lock()
        self._step_count = 0
        self._steps_since_snapshot = 0
        # per step with statistics: (norms on the device, step, which params had a gradient
        # (None: all), the RowLayout)
        self._pending: list[tuple[torch.Tensor, int, np.ndarray | None, RowLayout]] = []
        self._plan({})
        if manual and self._sample is not None and self.schedule.due(1):
            self._sample.gather()  # the first step's update is measured from here

    def _plan(self, sums: dict[int, tuple[torch.Tensor, int]]) -> None:
        """Make the sample, the gradient sums and the row layout for the layers' parameters;
        ``sums`` are kept sums by ``id()`` of a parameter still there."""
        params = self._layers.parameters
        # as planned: what the sample, the sums and the rows are of (the step hooks read these,
        # never the layers while a snapshot plans them again)
        self._params = list(params)
        self._sample = UpdateSample(params) if params else None
        self._layout = RowLayout(self._layers, self._sample.weights if self._sample else None)
        self._device = params[0].device if params else None
        self._one_device = all(p.device == self._device for p in params)
        # the gradient sum since the last snapshot (mean_gradient=True)
        self._grad_sum = GradientSum(self._params, sums) if self._mean_gradient else None

    def replan(self) -> None:
        """The recorded layers were planned again (:meth:`RecordedLayers.refresh`): make the
        sample and the sums again; the sums of parameters still recorded are kept. Call it
        after :meth:`flush`: rows waiting keep their own layout anyway."""
        kept = self._grad_sum.kept() if self._grad_sum is not None else {}
        self._plan(kept)
        if self._manual and self._sample is not None and self.schedule.due(self._step_count + 1):
            self._sample.gather()

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
            pending = sum(row[0].nbytes for row in self._pending)
        return {
            "update sample": 0 if self._sample is None else self._sample.nbytes,
            "gradient sum": 0 if self._grad_sum is None else self._grad_sum.nbytes,
            "norms waiting for the host": pending,
        }

    # ------------------------------------------------------------------ every step
    def before_step(self) -> None:
        """Read this step's gradients, and keep the weights' sample (the weights unchanged)."""
        if self._grad_sum is not None:
            self._grad_sum.add()
        self._stats_now = self._sample is not None and self.schedule.due(self._step_count + 1)
        if self._stats_now:
            with torch.no_grad():
                self._read_gradients()

    def abandon_step(self) -> None:
        """Forget this step's statistics (reading them failed); the step is still counted."""
        self._stats_now, self._grad_norms = False, None

    def _read_gradients(self) -> None:
        """The gradient norms and the weights' sample of a step with statistics."""
        start = self.schedule.now()
        params = self._params
        operands = [_operand(p.grad) for p in params]
        present = None
        if not all(g is not None for g in operands):
            present = np.array([g is not None for g in operands])
            operands = [self._zero(p) if g is None else g for p, g in zip(params, operands)]
        self._grad_norms = (_norms(operands), present)
        if not self._manual:
            self._sample.gather()
        self._cost = self.schedule.now() - start

    def after_step(self) -> bool:
        """Take this step's weight and update norms (the weights changed) and count the step.

        Returns whether enough steps' norms wait on the device that :meth:`flush` is due.
        """
        now = self.schedule.now()
        step = self._step_count + 1
        row, present, cost = None, None, None
        if self._stats_now and self._grad_norms is not None:
            grad_norms, present = self._grad_norms
            with torch.no_grad():
                params = [_operand(p) for p in self._params]
                after = _norms([*params, *self._sample.differences()])
                row = self._stack([*grad_norms, *after])
            cost = self._cost + self.schedule.now() - now
        self._stats_now, self._grad_norms = False, None
        self.schedule.step_ended(step, now, cost)
        if self._manual and self._sample is not None and self.schedule.due(step + 1):
            self._sample.gather()  # the next step's update is measured from here
        layout = self._current_layout()
        with self._lock:
            self._step_count = step
            self._steps_since_snapshot += 1
            if row is not None:
                self._pending.append((row, step, present, layout))
            return len(self._pending) >= self._flush_every

    def _stack(self, norms: list[torch.Tensor]) -> torch.Tensor:
        """One float32 row on one device."""
        if not self._one_device:  # a model split over devices: its norms meet on the first
            norms = [t.to(self._device, non_blocking=True) for t in norms]
        row = torch.stack(norms)
        return row if row.dtype == torch.float32 else row.float()

    def _current_layout(self) -> RowLayout:
        """The layout of a row taken now: a new one when the sample was made again."""
        if self._sample is not None and self._layout.weights is not self._sample.weights:
            self._layout = RowLayout(self._layers, self._sample.weights)
        return self._layout

    def _zero(self, param: torch.Tensor) -> torch.Tensor:
        """A zero on the parameter's device: the norm of a gradient that is None."""
        zero = self._zeros.get(param.device)
        if zero is None:
            zero = self._zeros[param.device] = torch.zeros((), device=param.device)
        return zero

    # ------------------------------------------------------------------ to the host
    def flush(self) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]] | None:
        """Copy the norms waiting on the device to the host; None when none wait.

        Returns the step numbers and ``{(layer, name): values}`` for ``grad_norm``,
        ``weight_norm`` and ``update_ratio`` of every layer with parameters (NaN on steps
        where the layer was not recorded).
        """
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return None
        rows = _to_host([row[0] for row in pending])
        series: dict[tuple[str, str], np.ndarray] = {}
        start = 0
        while start < len(pending):
            layout = pending[start][3]
            end = start + 1
            while end < len(pending) and pending[end][3] is layout:
                end += 1
            norms = np.stack(rows[start:end]).astype(np.float64)
            present = [row[2] for row in pending[start:end]]
            for key, values in self._run_series(layout, norms, present).items():
                series.setdefault(key, np.full(len(pending), np.nan))[start:end] = values
            start = end
        return np.array([row[1] for row in pending]), series

    def _run_series(
        self, layout: RowLayout, norms: np.ndarray, present: list[np.ndarray | None]
    ) -> dict[tuple[str, str], np.ndarray]:
        """The per-layer series of rows that share one layout."""
        n, membership = layout.count, layout.membership
        # einsum, not @: no BLAS call in the training thread (docs/architecture.md, "Facts")
        grad_sq = np.einsum("sp,pl->sl", norms[:, :n] ** 2, membership)  # (steps, layers)
        weight_sq = np.einsum("sp,pl->sl", norms[:, n : 2 * n] ** 2, membership)
        # the sample's estimate: each piece's squared norm, weighted, summed per parameter
        pieces_sq = np.einsum("sq,qp->sp", norms[:, 2 * n :] ** 2, layout.weights)
        update_sq = np.einsum("sp,pl->sl", pieces_sq, membership)
        has_grad = np.ones((len(present), n))
        for row, mask in enumerate(present):
            if mask is not None:
                has_grad[row] = mask
        has_grad = np.einsum("sp,pl->sl", has_grad, membership) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_norm = np.where(has_grad, np.sqrt(grad_sq), np.nan)
            weight_norm = np.sqrt(weight_sq)
            update_ratio = np.sqrt(update_sq) / weight_norm
        series = {}
        for j, name in layout.layers:
            finite = grad_norm[:, j][~np.isnan(grad_norm[:, j])]
            sums = self._grad_norm_sums.setdefault(name, [0.0, 0])
            sums[0] += float(finite.sum())
            sums[1] += finite.size
            series[(name, "grad_norm")] = grad_norm[:, j]
            series[(name, "weight_norm")] = weight_norm[:, j]
            series[(name, "update_ratio")] = update_ratio[:, j]
        return series

    # ------------------------------------------------------------------ at a snapshot
    def mean_gradient(self, index: int) -> torch.Tensor | None:
        """Parameter ``index``'s mean gradient over the steps since the last snapshot.

        None when no gradient reached it, or without ``mean_gradient=True``. The mean is
        computed in place, in the sum's own storage: read it before :meth:`clear_gradient`.
        """
        return None if self._grad_sum is None else self._grad_sum.mean(index)

    def clear_gradient(self, index: int) -> None:
        """Start parameter ``index``'s gradient sum again from zero."""
        if self._grad_sum is not None:
            self._grad_sum.clear(index)

    def mean_grad_norm(self, layer: str) -> float:
        """The mean over the flushed steps since the last snapshot of layer ``layer``'s
        gradient norm (NaN without one)."""
        total, count = self._grad_norm_sums.get(layer, (0.0, 0))
        return total / count if count else math.nan

    def start_snapshot_period(self) -> None:
        """A snapshot was taken: the mean gradient norms and step counts start again."""
        self._grad_norm_sums = {}
        self._steps_since_snapshot = 0
        self.schedule.snapshot_taken(self._step_count)
        if self._manual and self._sample is not None and self.schedule.due(self._step_count + 1):
            self._sample.gather()

    def free(self) -> None:
        """Let go of the device buffers (the Recorder is closed)."""
        if self._grad_sum is not None:
            self._grad_sum = GradientSum([], {})
        self._sample = None


def _operand(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """What the fused norm reads of a gradient or weight: itself when dense and real (the
    usual case, checked first), else :func:`norm_operand`."""
    if tensor is None or (tensor.layout is _STRIDED and not tensor.is_complex()):
        return tensor
    return norm_operand(tensor)


def _norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """One fused L2 norm per tensor, in float32 where the tensors are not (a bf16 norm keeps 3
    digits), in float64 when one is (the norm's dtype may not narrow a tensor's)."""
    dtype = None
    if not all(t.dtype == torch.float32 for t in tensors):
        wide = any(t.dtype == torch.float64 for t in tensors)
        dtype = torch.float64 if wide else torch.float32
    return torch._foreach_norm(tensors, 2, dtype=dtype)


def _to_host(rows: list[torch.Tensor]) -> list[np.ndarray]:
    """The rows on the host: one copy when they share a device (the usual case)."""
    device = rows[0].device
    if all(row.device == device for row in rows):
        flat = torch.cat(rows).cpu().numpy()
        return np.split(flat, np.cumsum([row.numel() for row in rows])[:-1])
    return [row.cpu().numpy() for row in rows]
