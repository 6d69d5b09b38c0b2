"""Units on the probe: dead ReLUs and saturated sigmoids and tanhs, per snapshot.

Dead units come from the Recorder's ``dead_fraction`` statistic of ReLU-family layers (the share
of units, channels for images, that are <= 0 for every probe sample); nothing is read but that
column. Saturation is measured per unit on the layer's probe activations, the frame the views
draw (:meth:`Recording.preview`: the tensor itself, or for a large one its block-mean preview,
never a whole large tensor read from disk); a snapshot whose recorded extremes
(``min_activation``, ``max_activation``) stay clear of the bounds is known unsaturated without
reading its frame.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.diagnose.findings import Finding
from nnviz_widgets.diagnose.reading import Evidence, holding
from nnviz_widgets.diagnose.thresholds import (
    DEAD_ERROR_FRACTION,
    DEAD_FRACTION,
    DEAD_UNIT_TYPES,
    PERSISTENCE,
    SATURATED_UNIT_SHARE,
    SATURATION_BOUNDS,
    SATURATION_ERROR_FRACTION,
    SATURATION_FRACTION,
    SATURATION_MARGIN,
)

__all__ = ["check_dead_units", "check_saturation", "saturated_fraction"]


def check_dead_units(evidence: Evidence) -> list[Finding]:
    """One finding per ReLU-family layer with too many dead units at consecutive snapshots."""
    findings = []
    for layer in evidence.layers:
        if evidence.layer_type(layer) not in DEAD_UNIT_TYPES:
            continue
        dead = evidence.statistic(layer, "dead_fraction")
        if dead is None:
            continue
        measured = ~np.isnan(dead) & evidence.trained
        snapshots = holding(measured & (dead >= DEAD_FRACTION), measured, PERSISTENCE)
        if not snapshots:
            continue
        typical = float(np.median(dead[snapshots]))
        everything = typical >= DEAD_ERROR_FRACTION
        share = "every unit" if everything else f"{typical:.0%} of the units"
        findings.append(
            Finding(
                kind="dead_units",
                severity="error" if everything else "warning",
                message=(
                    f"In layer {layer!r}, {share} output zero for every probe sample from "
                    f"snapshot {snapshots[0]} on: no gradient flows through them, so they "
                    "cannot recover."
                ),
                suggestion=(
                    "Lower the learning rate, check the biases and the initialisation (He "
                    "initialisation for ReLU), normalise the layer's input, or use LeakyReLU "
                    "or GELU, which keep a gradient for negative inputs."
                ),
                layers=(layer,),
                snapshots=snapshots,
                steps=evidence.steps_of(snapshots),
                quantity="activation",
                numbers={
                    "dead_fraction": typical,
                    "dead_fraction_by_snapshot": dead[snapshots],
                    "threshold": DEAD_FRACTION,
                },
            )
        )
    return findings


def _unit_axis(ndim: int, channel_first: bool) -> int:
    """Which dimension of an activation holds its units: channels for images, features
    otherwise (as the Recorder counts dead units)."""
    if ndim == 3:
        return 1 if channel_first else 2
    return 1


def saturated_fraction(
    values: np.ndarray, low: float, high: float, *, channel_first: bool = True
) -> float:
    """The share of units (dimension 1, or the features of a ``(samples, tokens, features)``
    output) whose outputs lie within ``SATURATION_MARGIN`` of the range from a bound for at
    least ``SATURATED_UNIT_SHARE`` of the probe samples and positions."""
    if values.ndim < 2 or values.size == 0:
        return float("nan")
    margin = SATURATION_MARGIN * (high - low)
    axis = _unit_axis(values.ndim, channel_first)
    units = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
    with np.errstate(invalid="ignore"):
        saturated = (units <= low + margin) | (units >= high - margin)
    share = saturated.mean(axis=1)
    return float((share >= SATURATED_UNIT_SHARE).mean())


def _layer_saturation(evidence: Evidence, layer: str, low: float, high: float) -> np.ndarray:
    """The saturated share of units at each snapshot (NaN where not measured), from the newest
    snapshot back to the first measured one below ``SATURATION_FRACTION`` (the finding is the
    run that ends at the newest snapshot: older snapshots need no reading)."""
    out = np.full(evidence.count, np.nan)
    minimum = evidence.statistic(layer, "min_activation")
    maximum = evidence.statistic(layer, "max_activation")
    if minimum is not None and maximum is not None:
        slack = 1e-6 * (high - low)
        if np.nanmin(minimum, initial=low) < low - slack or np.nanmax(maximum, initial=high) > (
            high + slack
        ):
            return out  # bounds other than the default ones: not judged
    margin = SATURATION_MARGIN * (high - low)
    channel_first = evidence.channel_first(layer)
    for i in range(evidence.count - 1, -1, -1):
        if not evidence.trained[i]:
            break
        if (
            minimum is not None
            and maximum is not None
            and minimum[i] > low + margin
            and maximum[i] < high - margin
        ):
            out[i] = 0.0  # no output near a bound: nothing to read
        else:
            frame = evidence.preview(layer, "activation", i)
            if frame is not None:
                out[i] = saturated_fraction(frame, low, high, channel_first=channel_first)
        if out[i] < SATURATION_FRACTION:
            break
    return out


def check_saturation(evidence: Evidence) -> list[Finding]:
    """One finding per sigmoid/tanh-like layer with too many saturated units at consecutive
    snapshots."""
    findings = []
    for layer in evidence.layers:
        bounds = SATURATION_BOUNDS.get(evidence.layer_type(layer))
        if bounds is None or not evidence.has_quantity(layer, "activation"):
            continue
        share = _layer_saturation(evidence, layer, *bounds)
        measured = ~np.isnan(share) & evidence.trained
        snapshots = holding(measured & (share >= SATURATION_FRACTION), measured, PERSISTENCE)
        if not snapshots:
            continue
        typical = float(np.median(share[snapshots]))
        everything = typical >= SATURATION_ERROR_FRACTION
        units = "every unit" if everything else f"{typical:.0%} of the units"
        findings.append(
            Finding(
                kind="saturation",
                severity="error" if everything else "warning",
                message=(
                    f"In layer {layer!r} ({evidence.layer_type(layer)}), {units} sit at "
                    f"the ends of their range for nearly every probe sample from snapshot "
                    f"{snapshots[0]} on, where their slope and so their gradient is almost zero."
                ),
                suggestion=(
                    "Scale the initialisation down (Glorot/Xavier for tanh and sigmoid), "
                    "normalise the layer's input (BatchNorm, LayerNorm), lower the learning "
                    "rate, or use a ReLU-family activation."
                ),
                layers=(layer,),
                snapshots=snapshots,
                steps=evidence.steps_of(snapshots),
                quantity="activation",
                numbers={
                    "saturated_fraction": typical,
                    "saturated_fraction_by_snapshot": share[snapshots],
                    "bounds": bounds,
                    "margin": SATURATION_MARGIN,
                    "threshold": SATURATION_FRACTION,
                },
            )
        )
    return findings
