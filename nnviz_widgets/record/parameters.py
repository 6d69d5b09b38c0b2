"""The parameter half of a snapshot: weights, gradients, updates and their statistics.

At each snapshot every recorded parameter is copied to the host (float32); its gradient is the
one ``param.grad`` holds then (the last step's, in the usual loop), or with
``Recorder(mean_gradient=True)`` the mean since the previous snapshot, taken from the
:class:`~nnviz_widgets.record.steps.StepStatistics` sums; its update is the difference with the
host copy kept from the previous snapshot, computed in that copy's own memory (a large layer
costs one extra float32 copy during a snapshot, the new host copy, and no more). Per layer it
adds the frames ``weight``, ``weight_grad``, ``update`` (``bias``, ``bias_grad``,
``bias_update``, ...) and the statistics ``weight_norm``, ``update_ratio`` and ``grad_norm`` (the
mean of the per-step gradient norms since the previous snapshot).

The model may change between snapshots: a parameter set through ``.data`` to another shape, a
module replaced. The previous copies are kept by parameter, with the parameter they came from,
so a changed one gets no ``update`` (the reason says why) rather than a wrong one, and a gradient
of another shape than its parameter is refused with a reason. A sparse gradient is densified on
the host; a complex parameter is recorded as its magnitudes (the frame's note says so).
"""

from __future__ import annotations

import math
import weakref

import torch

from nnviz_widgets.record.capture import (
    Captured,
    FrameCapture,
    add_frame,
    add_missing,
    squared_norm,
)
from nnviz_widgets.record.layers import RecordedLayers
from nnviz_widgets.record.layouts import describe_layout, host_dense, sum_dtype
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
        # by id() of a parameter: the parameter (weakly) and its host copy at the previous
        # snapshot (float32, complex64 for a complex one), for `update`
        self._previous: dict[int, tuple[weakref.ref, torch.Tensor]] = {}
        self._taken = False  # whether a snapshot was taken: "first snapshot" or "new parameter"
        self._noted: set[tuple[str, str]] = set()  # gradient quantities whose note was given

    @property
    def host_bytes(self) -> int:
        """Bytes held on the host: the weights kept from the previous snapshot."""
        return sum(t.nbytes for _, t in self._previous.values())

    @torch.no_grad()
    def record(self, data: SnapshotData) -> None:
        """Add every recorded parameter's frames and every layer's statistics to ``data``."""
        params = self._layers.parameters
        weights, captured = self._capture_parameters()
        updates = self._capture_updates(weights)
        for name, _ in self._layers.modules:
            if self._layers.entries[name]:
                self._add_layer(data, name, captured, updates)
        self._previous = {id(p): (weakref.ref(p), weights[i]) for i, p in enumerate(params)}
        self._taken = True

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
            host = host_dense(param.detach()).to("cpu", sum_dtype(param), copy=True)
            weights[i] = host
            grad = self._steps.mean_gradient(i) if mean else param.grad
            if grad is not None:
                grad_or_reason = self._capture_gradient(param, grad)
                self._steps.clear_gradient(i)
            else:
                grad_or_reason = self._no_gradient(param, mean=mean)
            captured[i] = (self._capture(host, keep_first=False), grad_or_reason)
        return weights, captured

    def _capture_gradient(self, param: torch.nn.Parameter, grad: torch.Tensor) -> Captured | str:
        """A gradient's frame, or why it cannot be recorded."""
        if grad.shape != param.shape:
            return (
                f"the gradient has shape {tuple(grad.shape)} but the parameter now has shape "
                f"{tuple(param.shape)}: the parameter was changed (through .data) after the "
                "gradient was computed; the next training step's gradient will fit"
            )
        try:
            captured = self._capture(host_dense(grad), keep_first=False)
        except TypeError as error:
            return f"the gradient could not be read: {error}"
        layout = describe_layout(grad)
        if layout is not None:
            captured.note = layout if captured.note is None else f"{layout}; {captured.note}"
        return captured

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
        """``{index: (captured update, the previous weights' squared norm)}`` for each
        parameter seen, unchanged, at the previous snapshot; ``{index: reason}`` for the
        others."""
        updates: dict[int, tuple[Captured, float] | str] = {}
        params = self._layers.parameters
        for i, host in weights.items():
            kept = self._previous.get(id(params[i]))
            if kept is None or kept[0]() is not params[i]:
                updates[i] = (
                    "the parameter was not recorded at the previous snapshot (its module was "
                    "replaced or added since), so there is no earlier value to compare with"
                    if self._taken
                    else "the first snapshot has no earlier snapshot to compare with"
                )
                continue
            previous = kept[1]
            if previous.shape != host.shape or previous.dtype != host.dtype:
                updates[i] = (
                    f"the parameter changed from shape {tuple(previous.shape)} to "
                    f"{tuple(host.shape)} since the previous snapshot (set through .data), so "
                    "there is no update to show"
                )
                continue
            previous_squared = squared_norm(previous)
            # the update in the previous copy's own memory: it is not needed again, and a
            # large layer's snapshot then holds no second copy (docs/recorder.md, "Memory")
            update = torch.sub(host, previous, out=previous)
            self._previous[id(params[i])] = (kept[0], host)  # nothing reads the old copy now
            updates[i] = (self._capture(update, keep_first=False), previous_squared)
        return updates

    def _add_layer(self, data: SnapshotData, name: str, captured: dict, updates: dict) -> None:
        """Add layer ``name``'s parameter frames and statistics to ``data``."""
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
            if isinstance(updates[i], str):
                add_missing(data, (name, update_key), updates[i])
            else:
                update, previous_squared = updates[i]
                add_frame(data, name, update_key, update)
                update_sq += update.squared_norm
                previous_sq += previous_squared
            weight_sq += weight.squared_norm
        has_update = all(not isinstance(updates[i], str) for _, i in entries)
        data.statistics[(name, "weight_norm")] = math.sqrt(weight_sq)
        data.statistics[(name, "update_ratio")] = (
            math.sqrt(update_sq / previous_sq) if has_update and previous_sq > 0 else math.nan
        )
        data.statistics[(name, "grad_norm")] = self._steps.mean_grad_norm(name)
