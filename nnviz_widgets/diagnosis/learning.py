"""Layers that do not learn while others do: no gradient, a zero gradient, or weights that do
not change.

Judged per snapshot interval (the steps since the previous snapshot) from the per-step series:
a gradient norm that is NaN at every step (the Recorder's mark for "no gradient reached any of
the layer's parameters": detached from the loss, or frozen) or zero at every step, or an update
ratio of zero at every step while the gradient is there (the optimizer does not hold the
parameters, or their group's learning rate is 0). Without per-step series, the snapshot's own
``grad_norm`` and ``update_ratio`` statistics of zero say the same. A layer counts only while
some other layer learns (gradient and update both non-zero), so that a training that stopped
altogether is left to the other checks. A layer whose parameters are all frozen
(``requires_grad=False``) is reported as "info": freezing is usually on purpose.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.diagnosis.findings import Finding, name_layers
from nnviz_widgets.diagnosis.reading import Evidence, holding
from nnviz_widgets.diagnosis.thresholds import PERSISTENCE

__all__ = ["check_not_learning", "learning_states"]

#: Why a layer does not learn, and the quantity that shows it.
_REASONS = {
    "no_gradient": "weight_grad",
    "zero_gradient": "weight_grad",
    "no_change": "update",
}


def _interval_max(evidence: Evidence, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per snapshot interval: the largest non-NaN value (NaN where none) and the number of
    steps with statistics (whatever their value)."""
    largest = evidence.per_interval(values, "max")
    counted = evidence.per_interval(np.zeros_like(values), "count")
    return largest, counted


def learning_states(evidence: Evidence) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {"no_gradient", "zero_gradient", "no_change", "learning", "measured": bool
    per snapshot}}`` for every layer with gradient or update statistics."""
    states = {}
    for layer in evidence.layers:
        grad_steps = evidence.step_series(layer, "grad_norm")
        ratio_steps = evidence.step_series(layer, "update_ratio")
        grad = evidence.statistic(layer, "grad_norm")
        ratio = evidence.statistic(layer, "update_ratio")
        if grad_steps is not None:
            grad_max, counted = _interval_max(evidence, grad_steps)
            measured = counted > 0
            no_gradient = measured & np.isnan(grad_max)
            zero_gradient = measured & (grad_max == 0)
            has_gradient = measured & (grad_max > 0)
        elif grad is not None:
            measured = ~np.isnan(grad)
            no_gradient = np.zeros(evidence.count, dtype=bool)
            zero_gradient = measured & (grad == 0)
            has_gradient = measured & (grad > 0)
        else:
            continue
        if ratio_steps is not None:
            ratio_max, ratio_counted = _interval_max(evidence, ratio_steps)
            changes = ratio_max > 0
            still = (ratio_counted > 0) & (ratio_max == 0)
        elif ratio is not None:
            changes, still = ratio > 0, ratio == 0
        else:
            changes = still = np.zeros(evidence.count, dtype=bool)
        states[layer] = {
            "no_gradient": no_gradient,
            "zero_gradient": zero_gradient,
            "no_change": still & has_gradient,
            "learning": has_gradient & changes,
            "measured": measured,
        }
    return states


def check_not_learning(evidence: Evidence) -> list[Finding]:
    """One finding per reason (and severity), over the layers where it holds at consecutive
    snapshots while other layers learn."""
    states = learning_states(evidence)
    if len(states) < 2:
        return []
    learning = np.stack([state["learning"] for state in states.values()]).sum(axis=0)
    grouped: dict[tuple[str, str], dict[str, list[int]]] = {}
    for layer, state in states.items():
        others_learn = (learning - state["learning"]) > 0
        for reason in _REASONS:
            held = state[reason] & others_learn
            snapshots = holding(held, state["measured"] & others_learn, PERSISTENCE)
            if snapshots:
                severity = "info" if evidence.frozen(layer) else "warning"
                grouped.setdefault((reason, severity), {})[layer] = snapshots
                break  # one reason per layer: the first that holds
    return [
        _finding(evidence, reason, severity, held) for (reason, severity), held in grouped.items()
    ]


def _finding(
    evidence: Evidence, reason: str, severity: str, held_by_layer: dict[str, list[int]]
) -> Finding:
    layers = list(held_by_layer)
    snapshots = sorted({i for held in held_by_layer.values() for i in held})
    who = name_layers(layers)
    one = len(layers) == 1
    if severity == "info":
        rest = "is frozen (requires_grad=False), so it does" if one else "are frozen, so they do"
        message = f"{who[:1].upper()}{who[1:]} {rest} not learn."
        suggestion = "Nothing to do if freezing is meant; otherwise set requires_grad=True."
    elif reason == "no_gradient":
        message = (
            f"No gradient reaches {who} while other layers learn: "
            f"{'its output does' if one else 'their outputs do'} not reach the loss through "
            "operations that keep the gradient."
        )
        suggestion = (
            "Look for a .detach(), torch.no_grad(), .item() or a conversion to numpy on the "
            "way from this layer to the loss, an output the loss does not use, or parameters "
            "frozen by mistake."
        )
    elif reason == "zero_gradient":
        message = f"The gradient of {who} is exactly zero while other layers learn."
        suggestion = (
            "Look for dead units after the layer (a ReLU that never fires), a multiplication "
            "by zero, or a rounding or comparison on the way to the loss."
        )
    else:
        message = (
            f"The weights of {who} do not change although they have a gradient, while other "
            "layers learn."
        )
        suggestion = (
            "Check that the optimizer was built with these parameters (after any change to "
            "the model) and that their parameter group's learning rate is not 0."
        )
    return Finding(
        kind="not_learning",
        severity=severity,
        message=message,
        suggestion=suggestion,
        layers=layers,
        snapshots=snapshots,
        steps=evidence.steps_of(snapshots),
        quantity=_REASONS[reason],
        numbers={"reason": reason, "frozen": severity == "info"},
    )
