"""The entry point: every check run on one reading of a recording, findings in order.

The checks run in an order where a finding may explain a later one: NaN/Inf first (its step
tells the loss check which NaN losses are real), then gradients and layers that do not learn
(whose layers are left out of ``update_ratio_low``, their tiny updates being a consequence).
"""

from __future__ import annotations

from nnviz_widgets.diagnosis.findings import Finding
from nnviz_widgets.diagnosis.gradients import check_gradients
from nnviz_widgets.diagnosis.learning import check_not_learning
from nnviz_widgets.diagnosis.loss import check_loss
from nnviz_widgets.diagnosis.nonfinite import check_nonfinite
from nnviz_widgets.diagnosis.reading import Evidence
from nnviz_widgets.diagnosis.units import check_dead_units, check_saturation
from nnviz_widgets.diagnosis.updates import check_update_ratios

__all__ = ["diagnose"]


def diagnose(recording) -> list[Finding]:
    """Say what is wrong with a training, from its recording.

    Parameters
    ----------
    recording : Recording
        In memory, opened from disk, or still being recorded (the snapshots present when the
        call starts are diagnosed). Whatever it lacks (a probe, an optimizer's per-step
        statistics, a loss metric) only skips the checks that need it.

    Returns
    -------
    list of Finding
        Errors first, then warnings, then info; within a severity, by the step where each
        starts, then by kind and layer (in the model's order). Empty for a healthy training.

    Notes
    -----
    The kinds, thresholds and what each finding means are in ``docs/diagnosis.md``. Numpy
    only: no torch, no model; it reads statistics and, for saturation, the probe activations
    the views draw.

    Examples
    --------
    >>> for finding in nv.diagnose(recorder.recording):  # doctest: +SKIP
    ...     print(finding.severity, finding.kind, finding.layers, finding.message)
    """
    evidence = Evidence(recording)
    findings = check_nonfinite(evidence)
    nonfinite_step = findings[0].step if findings else None
    findings += check_loss(evidence, nonfinite_step)
    findings += check_gradients(evidence)
    findings += check_dead_units(evidence)
    findings += check_saturation(evidence)
    findings += check_not_learning(evidence)
    explained = {
        layer
        for finding in findings
        if finding.kind in ("nonfinite", "vanishing_gradients", "not_learning")
        for layer in finding.layers
    }
    findings += check_update_ratios(evidence, explained)
    position = evidence.position

    def order(finding: Finding) -> tuple:
        where = [position.get(layer, len(position)) for layer in finding.layers]
        return (*finding.sort_key()[:3], where)

    return sorted(findings, key=order)
