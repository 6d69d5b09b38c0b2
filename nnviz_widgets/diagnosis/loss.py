"""A loss that diverges: it rises far above where it started, or stops being finite.

Every metric whose name contains "loss" (``loss``, ``train_loss``, ``val_loss``, ...) is read
per snapshot. A metric is NaN where it was not given, so a NaN loss counts as "not finite" only
where the model holds NaN or Inf by then (the ``nonfinite`` check's first step); an infinite
loss always counts.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.diagnosis.findings import Finding
from nnviz_widgets.diagnosis.reading import Evidence, runs
from nnviz_widgets.diagnosis.thresholds import LOSS_RISE_FACTOR, PERSISTENCE

__all__ = ["check_loss"]


def check_loss(evidence: Evidence, nonfinite_step: int | None = None) -> list[Finding]:
    """One finding per loss metric that diverges; ``nonfinite_step`` is the step where NaN or
    Inf first appeared in the model, if it did."""
    findings = []
    for name in evidence.metric_names():
        if "loss" not in name.lower():
            continue
        values = evidence.metric(name)
        if values is None:
            continue
        finding = _diverging(evidence, name, values, nonfinite_step)
        if finding is not None:
            findings.append(finding)
    return findings


def _diverging(
    evidence: Evidence, name: str, values: np.ndarray, nonfinite_step: int | None
) -> Finding | None:
    finite = np.isfinite(values)
    if not finite.any():
        return None
    first = int(np.argmax(finite))
    start = values[first]
    rose, broken = _rose_and_broke(evidence, values, finite, first, nonfinite_step)
    if not rose and not broken:
        return None
    snapshots = sorted(set(rose) | set(broken))
    last_finite = values[np.flatnonzero(finite)[-1]]
    low = float(np.nanmin(values[finite]))
    if broken:
        severity = "error"
        message = (
            f"The metric {name!r} became {_word(values[broken[0]])} at snapshot {broken[0]}"
            + (f", after rising from {start:.3g} to {last_finite:.3g}." if rose else ".")
        )
    else:
        severity = "warning"
        peak = float(np.max(values[rose]))
        message = (
            f"The metric {name!r} rose from {start:.3g} (lowest {low:.3g}) to {peak:.3g} by "
            f"snapshot {rose[-1]}: training diverges."
        )
    return Finding(
        kind="loss_diverging",
        severity=severity,
        message=message,
        suggestion=(
            "Lower the learning rate (or add warm-up), clip gradients, and check the data and "
            "the loss for values that overflow; resume from the last snapshot before it rose."
        ),
        snapshots=snapshots,
        steps=evidence.steps_of(snapshots),
        numbers={
            "metric": name,
            "first": float(start),
            "lowest": low,
            "values": values[snapshots],
            "rise_factor": LOSS_RISE_FACTOR,
        },
    )


def _rose_and_broke(
    evidence: Evidence,
    values: np.ndarray,
    finite: np.ndarray,
    first: int,
    nonfinite_step: int | None,
) -> tuple[list[int], list[int]]:
    """The snapshots where the metric rose far above its lowest and its start (in runs that
    persist), and those, after the first finite one, where it became infinite (or NaN, from
    the training's first non-finite step on)."""
    start = values[first]
    with np.errstate(invalid="ignore"):
        lowest = np.fmin.accumulate(np.where(finite, values, np.nan))
        rising = finite & (values > LOSS_RISE_FACTOR * lowest) & (values > start)
    rose = runs(rising, finite, PERSISTENCE)
    after = np.arange(evidence.count) > first
    broke = after & np.isinf(values)
    if nonfinite_step is not None:
        broke |= after & np.isnan(values) & (evidence.snapshot_steps >= nonfinite_step)
    broken = np.flatnonzero(broke).tolist()
    return rose, broken


def _word(value: float) -> str:
    return "NaN" if np.isnan(value) else ("+Inf" if value > 0 else "-Inf")
