"""The parameter half of a snapshot: weights, gradients, updates and their statistics.

At each snapshot every recorded parameter is copied to the host (float32); its gradient is the
one ``param.grad`` holds then (the last step's, in the usual loop), or with
``Recorder(mean_gradient=True)`` the mean since the previous snapshot, taken from the
:class:`~nnviz_widgets.record.steps.StepStatistics` sums; its update is the difference with the
host copy kept from the previous snapshot. Per layer it adds the frames ``weight``,
``weight_grad``, ``update`` (``bias``, ``bias_grad``, ``bias_update``, ...) and the statistics
``weight_norm``, ``update_ratio`` and ``grad_norm`` (the mean of the per-step gradient norms
since the previous snapshot).
"""

from __future__ import annotations

import math

import torch

from nnviz_widgets.record.capture import (
    Captured,
    FrameCapture,
    add_frame,
    add_missing,
    squared_norm,
)
from nnviz_widgets.record.layers import RecordedLayers
from nnviz_widgets.record.steps import StepStatistics
from nnviz_widgets.recording import SnapshotData

__all__ = ["ParameterSnapshots"]


class ParameterSnapshots:
    """Records the recorded layers' parameters into each snapshot.

    Parameters
    ----------
    layers : RecordedLayers
        The recorded layers and their parameters.
    steps : StepStatistics
        Where the gradient norms (and, with ``mean_gradient=True``, sums) since the previous
        snapshot are.
    capture : FrameCapture
        How a tensor becomes a frame.
    """

    def __init__(
        self, layers: RecordedLayers, steps: StepStatistics, capture: FrameCapture
    ) -> None:
        self._layers = layers
        self._steps = steps
        self._capture = capture
        # host float32 copies of the weights at the previous snapshot, for `update`
        self._previous: dict[int, torch.Tensor] = {}
        self._noted: set[tuple[str, str]] = set()  # gradient quantities whose note was given

    @property
    def host_bytes(self) -> int:
        """Bytes held on the host: the weights kept from the previous snapshot."""
        return sum(t.nbytes for t in self._previous.values())

    @torch.no_grad()
    def record(self, data: SnapshotData) -> None:
        """Add every recorded parameter's frames and every layer's statistics to ``data``."""
        weights, captured = self._capture_parameters()
        updates = self._capture_updates(weights)
        for j, (name, _) in enumerate(self._layers.modules):
            if self._layers.entries[name]:
                self._add_layer(data, j, name, captured, updates)
        self._previous = weights

    def free(self) -> None:
        """Let go of the weights kept from the previous snapshot (the Recorder is closed)."""
        self._previous = {}

    def _capture_parameters(self) -> tuple[dict, dict]:
        """Each parameter's host copy, and its captured weight and gradient (or the reason
        there is none)."""
        weights: dict[int, torch.Tensor] = {}
        captured: dict[int, tuple[Captured, Captured | str]] = {}
        mean = self._steps.keeps_gradient_sum
        for i, param in enumerate(self._layers.parameters):
            host = param.detach().to("cpu", torch.float32, copy=True)
            weights[i] = host
            grad = self._steps.mean_gradient(i) if mean else param.grad
            if grad is not None:
                grad_or_reason = self._capture(grad, keep_first=False)
                self._steps.clear_gradient(i)
            else:
                grad_or_reason = self._no_gradient(param, mean=mean)
            captured[i] = (self._capture(host, keep_first=False), grad_or_reason)
        return weights, captured

    def _no_gradient(self, param: torch.nn.Parameter, *, mean: bool) -> str:
        """Why a parameter has no gradient at this snapshot."""
        steps = self._steps.steps_since_snapshot
        if not param.requires_grad:
            return "the parameter is frozen (requires_grad=False)"
        if self._steps.step_count == 0:
            return "no training step had run yet, so there is no gradient"
        if not mean:
            return (
                "param.grad was None when the snapshot was taken: the training loop set it to "
                "None after the step (optimizer.zero_grad() before snapshot()), or no gradient "
                "reached this parameter. Take the snapshot before zero_grad(), or pass "
                "Recorder(mean_gradient=True) to record the mean gradient over the steps since "
                "the previous snapshot"
            )
        if steps == 0:
            return "no training step ran since the previous snapshot"
        return f"no gradient reached this parameter in the last {steps} step(s)"

    def _note_gradient(self, data: SnapshotData, key: tuple[str, str]) -> None:
        """Say once which gradient ``weight_grad`` (``bias_grad``, ...) is; again when the
        frame's reduction note would otherwise stand alone."""
        reduction = data.notes.get(key)
        if key in self._noted and reduction is None:
            return
        self._noted.add(key)
        which = (
            "the mean of the gradients over the optimizer steps since the previous snapshot"
            if self._steps.keeps_gradient_sum
            else "the gradient in param.grad when the snapshot was taken (in the usual loop, "
            "the last step's); Recorder(mean_gradient=True) records the mean over the steps "
            "since the previous snapshot instead"
        )
        data.notes[key] = which if reduction is None else f"{which}; {reduction}"

    def _capture_updates(self, weights: dict[int, torch.Tensor]) -> dict:
        """``{index: (captured update, its squared norm, the previous weights' squared norm)}``
        for each parameter seen at the previous snapshot."""
        updates: dict[int, tuple[Captured, float, float]] = {}
        for i, host in weights.items():
            previous = self._previous.get(i)
            if previous is not None:
                update = host - previous
                updates[i] = (
                    self._capture(update, keep_first=False),
                    squared_norm(update),
                    squared_norm(previous),
                )
        return updates

    def _add_layer(
        self, data: SnapshotData, j: int, name: str, captured: dict, updates: dict
    ) -> None:
        """Add layer ``name``'s (the ``j``-th) parameter frames and statistics to ``data``."""
        entries = self._layers.entries[name]
        weight_sq = update_sq = previous_sq = 0.0
        for pname, i in entries:
            weight, grad = captured[i]
            grad_key = "weight_grad" if pname == "weight" else f"{pname}_grad"
            update_key = "update" if pname == "weight" else f"{pname}_update"
            add_frame(data, name, pname, weight)
            if isinstance(grad, str):
                add_missing(data, (name, grad_key), grad)
            else:
                add_frame(data, name, grad_key, grad)
            self._note_gradient(data, (name, grad_key))
            if i in updates:
                update, squared, previous_squared = updates[i]
                add_frame(data, name, update_key, update)
                update_sq += squared
                previous_sq += previous_squared
            else:
                add_missing(
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
        data.statistics[(name, "grad_norm")] = self._steps.mean_grad_norm(j)
