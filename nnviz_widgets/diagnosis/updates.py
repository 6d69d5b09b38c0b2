"""Update ratios: how much a step changes a layer's weights, against the ~1e-3 rule of thumb.

Read from the per-step ``update_ratio`` series (the norm of the step's update, estimated from a
fixed sample of the weights, over the weights' norm), whose median over the steps since the
previous snapshot is judged at each snapshot. The first steps of training are left out of
``update_ratio_high`` only: Adam's first steps move every weight by about the learning rate,
and a weight initialised at zero changes by all of itself; no start-up makes steps too small.
Layers without parameters have no series and are not judged; a recording without per-step
statistics is skipped (a snapshot's own ``update_ratio`` sums many steps, which may add up or
cancel, so it does not say what one step does).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from nnviz_widgets.diagnosis.findings import Finding, name_layers
from nnviz_widgets.diagnosis.reading import Evidence, holding
from nnviz_widgets.diagnosis.thresholds import (
    PERSISTENCE,
    UPDATE_RATIO_HIGH,
    UPDATE_RATIO_LOW,
    UPDATE_WARMUP_STEPS,
)

__all__ = ["check_update_ratios", "update_ratios"]


def update_ratios(evidence: Evidence, *, after: int = 0) -> dict[str, np.ndarray]:
    """``{layer: median per-step update ratio since the previous snapshot}`` for every layer
    with a per-step series, leaving out the steps up to ``after`` (NaN where an interval has
    no other step)."""
    found = {}
    for layer in evidence.layers:
        values = evidence.step_series(layer, "update_ratio")
        if values is not None:
            found[layer] = evidence.per_interval(values, after=after)
    return found


def check_update_ratios(evidence: Evidence, explained: Collection[str] = ()) -> list[Finding]:
    """``update_ratio_high`` and ``update_ratio_low``, each one finding over every layer where
    it holds at consecutive snapshots. ``explained`` layers (gradients that vanished, a layer
    that does not learn, NaN) are left out of ``update_ratio_low``: their tiny updates are a
    consequence that another finding names."""
    findings = []
    for kind in ("update_ratio_high", "update_ratio_low"):
        high = kind == "update_ratio_high"
        # the start-up's steps are large (Adam, zero-initialised weights), never too small
        ratios = update_ratios(evidence, after=UPDATE_WARMUP_STEPS if high else 0)
        held_by_layer, late = {}, []
        for layer, ratio in ratios.items():
            if not high and layer in explained:
                continue
            measured = ~np.isnan(ratio)
            held = measured & (ratio > UPDATE_RATIO_HIGH if high else ratio < UPDATE_RATIO_LOW)
            snapshots = holding(held, measured, PERSISTENCE)
            if snapshots:
                held_by_layer[layer] = snapshots
                # it held from the first measured snapshot, or started after steps in range
                late.append(bool((measured & ~held)[: snapshots[0]].any()))
        if held_by_layer:
            findings.append(_finding(evidence, kind, ratios, held_by_layer, all(late)))
    return findings


def _finding(
    evidence: Evidence,
    kind: str,
    ratios: dict[str, np.ndarray],
    held_by_layer: dict[str, list[int]],
    late: bool,
) -> Finding:
    layers = list(held_by_layer)
    snapshots = sorted({i for held in held_by_layer.values() for i in held})
    typical = {
        layer: float(np.median(ratios[layer][held])) for layer, held in held_by_layer.items()
    }
    overall = float(np.median(list(typical.values())))
    share = f"{len(layers)} of {len(ratios)} layers"
    severity, message, suggestion = _words(kind, layers, overall, share, late)
    return Finding(
        kind=kind,
        severity=severity,
        message=message,
        suggestion=suggestion,
        layers=layers,
        snapshots=snapshots,
        steps=evidence.steps_of(snapshots),
        quantity="update",
        numbers={
            "update_ratio": overall,
            "update_ratio_by_layer": typical,
            "threshold": UPDATE_RATIO_HIGH if kind == "update_ratio_high" else UPDATE_RATIO_LOW,
            "rule_of_thumb": 1e-3,
            "after_normal_start": late,
        },
    )


def _words(
    kind: str, layers: list[str], overall: float, share: str, late: bool
) -> tuple[str, str, str]:
    """The finding's severity, message and suggestion: ``overall`` is the layers' typical
    update ratio, ``share`` how many layers of all, ``late`` whether it began after a normal
    start."""
    if kind == "update_ratio_high":
        severity = "warning"
        message = (
            f"Each step changes the weights of {name_layers(layers)} by about {overall:.0e} of "
            f"their size ({share}), far above the usual ~1e-3: training may be unstable."
        )
        suggestion = (
            "Lower the learning rate (or add warm-up), clip gradients, or check the weight "
            "decay and the initialisation's scale."
        )
    else:
        nothing = overall == 0.0
        severity = "info" if late else ("error" if nothing else "warning")
        size = "not at all" if nothing else f"by only about {overall:.0e} of their size"
        message = (
            f"Each step changes the weights of {name_layers(layers)} {size} ({share}), far "
            "below the usual ~1e-3"
            + (
                ": the updates shrank after a normal start (a learning-rate schedule near its "
                "end, or training that stalled)."
                if late
                else ": training barely moves."
            )
        )
        suggestion = (
            "Raise the learning rate (try 1e-3 for Adam, 1e-2 to 1e-1 for SGD), check the "
            "learning-rate schedule and that the optimizer holds these parameters."
        )
    return severity, message, suggestion
