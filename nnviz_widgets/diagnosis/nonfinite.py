"""NaN and Inf: where and when they first appeared, the origin rather than every layer they
spread to.

The evidence, each dated by a training step: the Recorder's count of NaN and Inf in every frame
of a snapshot (``nonfinite_<quantity>``, dated by the snapshot's step), and the per-step series
(a weight norm that is not finite, or an infinite gradient norm, dated by its step). A NaN
per-step gradient norm is not evidence: the Recorder writes NaN there when no gradient reached
the layer at all. The finding names the earliest step with any evidence and, at that step, the
first layer in the model's order; the other layers with NaN or Inf then, and later, are listed
in its numbers.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.diagnosis.findings import Finding, name_layers
from nnviz_widgets.diagnosis.reading import Evidence

__all__ = ["check_nonfinite", "first_nonfinite"]

_PREFIX = "nonfinite_"


def _snapshot_evidence(evidence: Evidence) -> list[tuple[int, int, int, str]]:
    """``(step, layer position, order, quantity)`` of the first snapshot where each layer's
    frames hold NaN or Inf."""
    found = []
    for position, layer in enumerate(evidence.layers):
        first = None
        for order, name in enumerate(evidence.statistic_names(layer)):
            if not name.startswith(_PREFIX):
                continue
            counts = evidence.statistic(layer, name)
            if counts is None:
                continue
            bad = np.flatnonzero(counts > 0)
            if bad.size and (first is None or bad[0] < first[0]):
                first = (int(bad[0]), order, name[len(_PREFIX) :])
        if first is not None:
            index, order, quantity = first
            found.append((int(evidence.snapshot_steps[index]), position, order, quantity))
    return found


def _snapshots_with_nonfinite(evidence: Evidence) -> set[int]:
    """Every snapshot where some frame holds NaN or Inf."""
    bad = np.zeros(evidence.count, dtype=bool)
    for layer in evidence.layers:
        for name in evidence.statistic_names(layer):
            counts = evidence.statistic(layer, name) if name.startswith(_PREFIX) else None
            if counts is not None:
                bad |= counts > 0
    return set(np.flatnonzero(bad).tolist())


def _step_evidence(evidence: Evidence) -> list[tuple[int, int, int, str]]:
    """``(step, layer position, order, quantity)`` of the first step where each layer's weight
    norm is not finite or its gradient norm is infinite."""
    found = []
    for position, layer in enumerate(evidence.layers):
        first = None
        for order, (name, quantity, test) in enumerate(
            (
                ("weight_norm", "weight", lambda v: ~np.isfinite(v)),
                ("grad_norm", "weight_grad", np.isinf),
            )
        ):
            values = evidence.step_series(layer, name)
            if values is None:
                continue
            bad = np.flatnonzero(test(values))
            if bad.size and (first is None or evidence.steps[bad[0]] < first[0]):
                first = (int(evidence.steps[bad[0]]), order, quantity)
        if first is not None:
            step, order, quantity = first
            found.append((step, position, order - 10, quantity))  # at one step, weights first
    return found


def first_nonfinite(evidence: Evidence) -> tuple[int, str, str, dict[str, int]] | None:
    """``(step, layer, quantity, {layer: its first step})`` of the first NaN or Inf, or None."""
    found = _snapshot_evidence(evidence) + _step_evidence(evidence)
    if not found:
        return None
    step, position, _, quantity = min(found)
    first_step: dict[str, int] = {}
    for when, where, _, _ in sorted(found):
        first_step.setdefault(evidence.layers[where], when)
    return step, evidence.layers[position], quantity, first_step


def check_nonfinite(evidence: Evidence) -> list[Finding]:
    """One error finding naming the origin of NaN/Inf, or nothing."""
    first = first_nonfinite(evidence)
    if first is None:
        return []
    step, layer, quantity, first_step = first
    # where it shows: the first snapshot at or after that step, and every snapshot with a
    # frame that holds NaN or Inf
    shown = _snapshots_with_nonfinite(evidence)
    snapshot = evidence.first_snapshot_at_or_after(step)
    if snapshot is not None:
        shown.add(snapshot)
    snapshots = sorted(i for i in shown if snapshot is not None and i >= snapshot)
    spread = [other for other in first_step if other != layer]
    later = f"; it reached {name_layers(spread)} too" if spread else ""
    return [
        Finding(
            kind="nonfinite",
            severity="error",
            message=(
                f"NaN or Inf first appeared at step {step} in the {quantity.replace('_', ' ')} "
                f"of layer {layer!r}{later}."
            ),
            suggestion=(
                "Lower the learning rate or clip gradients; look for a division by zero, a log "
                "or sqrt of a non-positive number, or an overflow in float16 (use bf16 or a "
                "GradScaler); torch.autograd.set_detect_anomaly(True) names the operation."
            ),
            layers=(layer, *spread),
            snapshots=snapshots,
            steps=(step,),
            quantity=quantity,
            numbers={"first_step": step, "first_step_by_layer": first_step},
        )
    ]
