"""The mean gradient between two snapshots (``Recorder(mean_gradient=True)``): every step's
gradients added, on their device, to a float32 (or wider) sum per parameter, and how many
steps each parameter had a gradient on.

It costs a copy of the recorded parameters on their device and one fused add per step, which
is why it is an option (``docs/recorder.md``); by default a snapshot records ``param.grad``.
"""

from __future__ import annotations

import numpy as np
import torch

from nnviz_widgets.record.layouts import sum_dtype

__all__ = ["GradientSum"]

_STRIDED = torch.strided


class GradientSum:
    """Per-parameter gradient sums since the last snapshot.

    Parameters
    ----------
    params : list of torch.Tensor
        The recorded parameters, in the order the step statistics planned them.
    kept : dict
        Sums to carry over from a previous plan: ``{id(param): (sum, steps)}``; a sum whose
        parameter changed shape or device starts again.
    """

    def __init__(
        self, params: list[torch.Tensor], kept: dict[int, tuple[torch.Tensor, int]]
    ) -> None:
        self._params = params
        self._sums: list[torch.Tensor] = []
        self._steps = np.zeros(len(params), dtype=np.int64)
        for i, param in enumerate(params):
            total, count = kept.get(id(param), (None, 0))
            if total is None or total.shape != param.shape or total.device != param.device:
                total, count = torch.zeros_like(param, dtype=sum_dtype(param)), 0
            self._sums.append(total)
            self._steps[i] = count

    def kept(self) -> dict[int, tuple[torch.Tensor, int]]:
        """What a new plan carries over (see the class parameters)."""
        return {
            id(param): (total, int(count))
            for param, total, count in zip(self._params, self._sums, self._steps)
        }

    @property
    def nbytes(self) -> int:
        """Bytes the sums hold on their devices."""
        return sum(t.nbytes for t in self._sums)

    def add(self) -> None:
        """Add this step's gradients to the sums (one fused add for the usual ones)."""
        params, sums = self._params, self._sums
        fast, careful = [], []
        for i, param in enumerate(params):
            grad = param.grad
            if grad is None:
                continue
            total = sums[i]
            if (
                grad.layout is _STRIDED
                and not grad.is_complex()
                and grad.shape == total.shape
                and grad.device == total.device
            ):
                fast.append(i)
            else:  # sparse, complex, or a parameter that changed under the Recorder
                careful.append(i)
        if fast:
            torch._foreach_add_(
                [sums[i] for i in fast],
                [
                    params[i].grad
                    if params[i].grad.dtype == sums[i].dtype
                    else params[i].grad.float()
                    for i in fast
                ],
            )
            self._steps[fast] += 1
        for i in careful:
            self._add_one(i, params[i])

    def _add_one(self, i: int, param: torch.Tensor) -> None:
        """Add one gradient the fused add cannot take: sparse, complex, or of a parameter whose
        shape, device or dtype changed (its mean then starts again from this step)."""
        total = self._sums[i]
        dtype = sum_dtype(param)
        if total.shape != param.shape or total.device != param.device or total.dtype != dtype:
            total = self._sums[i] = torch.zeros_like(param, dtype=dtype)
            self._steps[i] = 0
        grad = param.grad
        if grad.shape != total.shape:  # a gradient from before the parameter changed shape
            return
        total.add_(grad)
        self._steps[i] += 1

    def mean(self, index: int) -> torch.Tensor | None:
        """Parameter ``index``'s mean gradient; None when no gradient reached it. Computed in
        place, in the sum's own storage: read it before :meth:`clear`."""
        count = self._steps[index]
        if not count:
            return None
        return self._sums[index].div_(float(count))

    def clear(self, index: int) -> None:
        """Start parameter ``index``'s sum again from zero."""
        if self._steps[index]:
            self._sums[index].zero_()
            self._steps[index] = 0
