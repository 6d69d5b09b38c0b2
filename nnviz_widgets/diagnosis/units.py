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

from nnviz_widgets.diagnosis.findings import Finding
from nnviz_widgets.diagnosis.reading import Evidence, holding
from nnviz_widgets.diagnosis.thresholds import (
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


#: The newest snapshots whose frames are all measured (together, as one stack).
_CHUNK = 32


def saturated_fraction(
    values: np.ndarray, low: float, high: float, *, channel_first: bool = True
) -> float:
    """The share of units (dimension 1, or the features of a ``(samples, tokens, features)``
    output) whose outputs lie within ``SATURATION_MARGIN`` of the range from a bound for at
    least ``SATURATED_UNIT_SHARE`` of the probe samples and positions."""
    if values.ndim < 2 or values.size == 0:
        return float("nan")
    return float(_saturated_fractions(values[None], low, high, channel_first)[0])


def _saturated_fractions(
    frames: np.ndarray, low: float, high: float, channel_first: bool
) -> np.ndarray:
    """:func:`saturated_fraction` of each frame of a stack ``(frames, samples, ...)``."""
    margin = SATURATION_MARGIN * (high - low)
    axis = 1 + _unit_axis(frames.ndim - 1, channel_first)
    units = np.moveaxis(frames, axis, 1).reshape(frames.shape[0], frames.shape[axis], -1)
    saturated = (units <= low + margin) | (units >= high - margin)  # NaN: neither
    share = np.count_nonzero(saturated, axis=2) / units.shape[2]
    return np.count_nonzero(share >= SATURATED_UNIT_SHARE, axis=1) / units.shape[1]


class _Saturation:
    """One layer's saturated share of units per snapshot, measured when asked (NaN where not
    measured, or not measurable: a missing or thinned frame)."""

    def __init__(self, evidence: Evidence, layer: str, low: float, high: float) -> None:
        self.evidence, self.layer, self.low, self.high = evidence, layer, low, high
        self.channel_first = evidence.channel_first(layer)
        self.values = np.full(evidence.count, np.nan)
        self.asked = np.zeros(evidence.count, dtype=bool)
        minimum = evidence.statistic(layer, "min_activation")
        maximum = evidence.statistic(layer, "max_activation")
        margin = SATURATION_MARGIN * (high - low)
        self.clear = np.zeros(evidence.count, dtype=bool)
        self.other_bounds = False
        if minimum is not None and maximum is not None:
            slack = 1e-6 * (high - low)
            lowest = np.nanmin(minimum, initial=low)
            highest = np.nanmax(maximum, initial=high)
            self.other_bounds = lowest < low - slack or highest > high + slack
            self.clear = (minimum > low + margin) & (maximum < high - margin)

    def measure(self, indices) -> np.ndarray:
        """Measure these snapshots (frames of one shape measured together); their values."""
        indices = [int(i) for i in indices if not self.asked[i]]
        frames = {}
        for i in indices:
            self.asked[i] = True
            if self.clear[i]:
                self.values[i] = 0.0  # no output near a bound: nothing to read
                continue
            known = self.evidence.measured(("saturation", self.layer, i))
            if known is not None:
                self.values[i] = known
                continue
            frame = self.evidence.preview(self.layer, "activation", i)
            if frame is not None and frame.ndim >= 2 and frame.size:
                frames[i] = frame
        by_shape: dict[tuple, list[int]] = {}
        for i, frame in frames.items():
            by_shape.setdefault(frame.shape, []).append(i)
        for same in by_shape.values():
            stack = np.stack([frames[i] for i in same])
            self.values[same] = _saturated_fractions(stack, self.low, self.high, self.channel_first)
            for i in same:
                self.evidence.remember(("saturation", self.layer, i), float(self.values[i]))
        return self.values


def _layer_saturation(evidence: Evidence, layer: str, low: float, high: float) -> np.ndarray:
    """The saturated share of units where measured (NaN elsewhere): enough snapshots to find
    the run at or above ``SATURATION_FRACTION`` that ends at the newest one.

    The newest ``_CHUNK`` snapshots after the first step are measured; when all of them are
    saturated, the run's start is looked for further back by doubling steps and then
    bisection, measuring a few dozen frames rather than every one of a long recording (the
    state is assumed to hold between two measured snapshots that show it).
    """
    saturation = _Saturation(evidence, layer, low, high)
    if saturation.other_bounds:  # a Hardtanh(-3, 3) ...: bounds other than the default ones
        return saturation.values
    trained = np.flatnonzero(evidence.trained)[::-1]  # newest first
    newest = trained[:_CHUNK]
    values = saturation.measure(newest)
    if (values[newest] < SATURATION_FRACTION).any() or trained.size <= _CHUNK:
        return values

    def held(position: int) -> bool | None:
        """Whether the snapshot at ``position`` in ``trained`` (or the next newer measurable
        one, a few at most) is saturated; None where none of them is measurable."""
        for k in range(position, max(position - 4, -1), -1):
            value = saturation.measure([trained[k]])[trained[k]]
            if not np.isnan(value):
                return bool(value >= SATURATION_FRACTION)
        return None

    inside, step = _CHUNK - 1, _CHUNK  # positions in `trained`: `inside` is known saturated
    outside = None
    while outside is None:
        probe = min(inside + step, trained.size - 1)
        state = held(probe)
        if state is False:
            outside = probe
        elif probe == trained.size - 1:
            return values  # saturated as far back as the first step
        else:
            inside, step = (probe if state else inside), step * 2
    while outside - inside > 1:  # bisect between the newest unsaturated and a saturated one
        middle = (inside + outside) // 2
        state = held(middle)
        if state is None:
            break
        inside, outside = (middle, outside) if state else (inside, middle)
    return values


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
