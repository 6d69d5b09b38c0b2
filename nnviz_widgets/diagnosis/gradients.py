"""Vanishing and exploding gradients: gradient norms across layers, and over time.

Across layers, per snapshot: each layer's root-mean-square gradient per parameter (the
snapshot's ``grad_norm``, the mean of the per-step norms since the previous snapshot, over the
square root of its parameter count), the first layers' against the last layers'. Over time: how
far each layer's gradient norm has grown from its own early level. Both need the per-step
statistics a Recorder takes from its optimizer's hooks; a recording without them is skipped.
"""

from __future__ import annotations

import math

import numpy as np

from nnviz_widgets.diagnosis.findings import Finding, name_layers
from nnviz_widgets.diagnosis.reading import Evidence, holding
from nnviz_widgets.diagnosis.thresholds import (
    EXPLODING_GROWTH,
    EXPLODING_LAYER_RATIO,
    GRADIENT_BASELINE_STEPS,
    GRADIENT_GROUP_SHARE,
    GRADIENT_MIN_LAYERS,
    GRADIENT_SKIPPED_TYPES,
    PERSISTENCE,
    VANISHING_ERROR_RATIO,
    VANISHING_RATIO,
)

__all__ = ["check_gradients", "relative_gradients"]

_VANISHING_SUGGESTION = (
    "Use ReLU-family activations instead of sigmoid or tanh, add normalisation (BatchNorm, "
    "LayerNorm) or residual connections, or initialise for the activation (Glorot for tanh and "
    "sigmoid, He for ReLU)."
)
_EXPLODING_SUGGESTION = (
    "Lower the learning rate, clip gradients (torch.nn.utils.clip_grad_norm_), add "
    "normalisation, or check the initialisation's scale."
)


def _compared_layers(evidence: Evidence) -> list[str]:
    """Layers with a gradient norm per snapshot and a known parameter count, in forward order,
    normalisation and embedding layers left out."""
    return [
        layer
        for layer in evidence.layers
        if evidence.statistic(layer, "grad_norm") is not None
        and evidence.parameter_count(layer)
        and not any(kind in evidence.layer_type(layer) for kind in GRADIENT_SKIPPED_TYPES)
    ]


def relative_gradients(evidence: Evidence) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(layers, relative, ratio)``: each compared layer's RMS gradient over the geometric
    mean of the last layers' at each snapshot (layers x snapshots; NaN where it has none), and
    the first layers' geometric mean over the last layers' (per snapshot; NaN where fewer than
    ``GRADIENT_MIN_LAYERS`` layers have a gradient)."""
    layers = _compared_layers(evidence)
    ratio = np.full(evidence.count, np.nan)
    if len(layers) < GRADIENT_MIN_LAYERS:
        return layers, np.full((len(layers), evidence.count), np.nan), ratio
    rms = np.stack(
        [
            evidence.statistic(layer, "grad_norm") / math.sqrt(evidence.parameter_count(layer))
            for layer in layers
        ]
    )
    # a zero or missing gradient is not_learning's to report, not a magnitude to compare
    logs = np.where(np.isfinite(rms) & (rms > 0), np.log10(np.where(rms > 0, rms, 1.0)), np.nan)
    relative = np.full_like(logs, np.nan)
    for i in range(evidence.count):
        present = np.flatnonzero(~np.isnan(logs[:, i]))
        if present.size < GRADIENT_MIN_LAYERS:
            continue
        group = max(1, int(present.size * GRADIENT_GROUP_SHARE))
        last = logs[present[-group:], i].mean()
        relative[present, i] = 10.0 ** (logs[present, i] - last)
        ratio[i] = 10.0 ** (logs[present[:group], i].mean() - last)
    return layers, relative, ratio


def check_gradients(evidence: Evidence) -> list[Finding]:
    """Vanishing and exploding gradients across layers, and exploding ones over time."""
    findings = []
    layers, relative, ratio = relative_gradients(evidence)
    measured = ~np.isnan(ratio)
    for kind, held in (
        ("vanishing_gradients", ratio < VANISHING_RATIO),
        ("exploding_gradients", ratio > EXPLODING_LAYER_RATIO),
    ):
        snapshots = holding(held & measured, measured, PERSISTENCE)
        if snapshots:
            findings.append(_across_layers(evidence, kind, layers, relative, ratio, snapshots))
    growth = _growth_over_time(evidence, layers)
    if growth is not None:
        findings += growth
    return findings


def _across_layers(
    evidence: Evidence,
    kind: str,
    layers: list[str],
    relative: np.ndarray,
    ratio: np.ndarray,
    snapshots: list[int],
) -> Finding:
    with np.errstate(all="ignore"):
        typical = np.nanmedian(relative[:, snapshots], axis=1)
    vanishing = kind == "vanishing_gradients"
    affected = [
        layer
        for layer, value in zip(layers, typical)
        if not math.isnan(value)
        and (value < VANISHING_RATIO if vanishing else value > EXPLODING_LAYER_RATIO)
    ]
    median_ratio = float(np.median(ratio[snapshots]))
    if vanishing:
        severity = "error" if median_ratio < VANISHING_ERROR_RATIO else "warning"
        message = (
            f"The first layers get about {median_ratio:.0e} of the gradient per weight that "
            f"the last layers get, so {name_layers(affected)} barely learn."
        )
        suggestion = _VANISHING_SUGGESTION
    else:
        severity = "warning"
        message = (
            f"The first layers get about {median_ratio:.0e} times the gradient per weight of "
            f"the last layers: gradients grow on their way back through "
            f"{name_layers(affected)}."
        )
        suggestion = _EXPLODING_SUGGESTION
    return Finding(
        kind=kind,
        severity=severity,
        message=message,
        suggestion=suggestion,
        layers=affected,
        snapshots=snapshots,
        steps=evidence.steps_of(snapshots),
        quantity="weight_grad",
        numbers={
            "first_to_last_ratio": median_ratio,
            "ratio_by_snapshot": ratio[snapshots],
            "compared_layers": tuple(layers),
            "relative_gradient": typical,
            "threshold": VANISHING_RATIO if vanishing else EXPLODING_LAYER_RATIO,
        },
    )


def _early_level(evidence: Evidence, layer: str) -> float:
    """The median of the layer's first recorded gradient norms (positive, finite)."""
    for values in (
        evidence.step_series(layer, "grad_norm"),
        evidence.statistic(layer, "grad_norm"),
    ):
        if values is None:
            continue
        good = values[np.isfinite(values) & (values > 0)][:GRADIENT_BASELINE_STEPS]
        if good.size:
            return float(np.median(good))
    return math.nan


def _growth_over_time(evidence: Evidence, layers: list[str]) -> list[Finding] | None:
    """Exploding over time: the median over layers of each layer's gradient norm at a snapshot
    over its early level, at PERSISTENCE consecutive snapshots past EXPLODING_GROWTH."""
    if not layers:
        return None
    early = np.array([_early_level(evidence, layer) for layer in layers])
    norms = np.stack([evidence.statistic(layer, "grad_norm") for layer in layers])
    with np.errstate(all="ignore"):
        growth = norms / early[:, None]
        growth[~np.isfinite(growth) & ~np.isposinf(norms)] = np.nan  # Inf norms count as grown
        counted = (~np.isnan(growth)).sum(axis=0)
        typical = np.full(evidence.count, np.nan)
        enough = counted > 0
        typical[enough] = np.nanmedian(growth[:, enough], axis=0)
    measured = ~np.isnan(typical)
    snapshots = holding(typical >= EXPLODING_GROWTH, measured, PERSISTENCE)
    if not snapshots:
        return []
    first = snapshots[0]
    affected = [
        layer for layer, value in zip(layers, growth[:, first]) if value >= EXPLODING_GROWTH
    ]
    factor = float(typical[first])
    return [
        Finding(
            kind="exploding_gradients",
            severity="warning",
            message=(
                f"Gradient norms grew about {factor:.0e} times from their early level by "
                f"snapshot {first}, in {name_layers(affected)}."
            ),
            suggestion=_EXPLODING_SUGGESTION,
            layers=affected,
            snapshots=snapshots,
            steps=evidence.steps_of(snapshots),
            quantity="weight_grad",
            numbers={
                "growth": factor,
                "growth_by_snapshot": typical[snapshots],
                "early_level": dict(zip(layers, early)),
                "threshold": EXPLODING_GROWTH,
            },
        )
    ]
