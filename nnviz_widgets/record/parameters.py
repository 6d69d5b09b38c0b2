"""The parameter half of a snapshot: weights, mean gradients, updates and their statistics.

At each snapshot every recorded parameter is copied to the host (float32), its mean gradient
since the previous snapshot is taken from the :class:`~nnviz_widgets.record.steps.StepStatistics`
sums, and its update is the difference with the host copy kept from the previous snapshot. Per
layer it adds the frames ``weight``, ``weight_grad``, ``update`` (``bias``, ``bias_grad``,
``bias_update``, ...) and the statistics ``weight_norm``, ``update_ratio`` and ``grad_norm``.
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
        Where the gradient sums and gradient norms since the previous snapshot are.
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
        """Each parameter's host copy, and its captured weight and mean gradient (or the reason
        there is none)."""
        weights: dict[int, torch.Tensor] = {}
        captured: dict[int, tuple[Captured, Captured | str]] = {}
        for i, param in enumerate(self._layers.parameters):
            host = param.detach().to("cpu", torch.float32, copy=True)
            weights[i] = host
            grad = self._steps.mean_gradient(i)
            if grad is not None:
                grad_or_reason = self._capture(grad, keep_first=False)
                self._steps.clear_gradient(i)
            else:
                grad_or_reason = self._no_gradient(param)
            captured[i] = (self._capture(host, keep_first=False), grad_or_reason)
        return weights, captured

    def _no_gradient(self, param: torch.nn.Parameter) -> str:
        """Why a parameter has no mean gradient at this snapshot."""
        steps = self._steps.steps_since_snapshot
        if not param.requires_grad:
            return "the parameter is frozen (requires_grad=False)"
        if self._steps.step_count == 0:
            return "no training step had run yet, so there is no gradient"
        if steps == 0:
            return "no training step ran since the previous snapshot"
        return f"no gradient reached this parameter in the last {steps} step(s)"

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
