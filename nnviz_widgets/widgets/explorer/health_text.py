"""The health strip's and the findings panel's words: counts by severity, one finding in full.

Each function returns HTML for an ``ipywidgets.HTML``; nothing here touches a widget. Severity
is said in a word and a sign as well as a colour. The colour is JupyterLab's own error, warning
or info colour, drawn as a bar beside the words rather than as their colour: the words keep the
theme's text colour, since no orange reads at 4.5:1 on both a white and a near-black background
(the light theme's own warning colour is 2.7:1 on white; ``tests/browser/test_visual.py``
checks every text), while a bar needs 3:1 only (``docs/diagnosis.md``, "In the explorer").
"""

from __future__ import annotations

from collections.abc import Sequence

from nnviz_widgets.diagnosis import Finding
from nnviz_widgets.widgets.explorer.text import escape, quiet

__all__ = ["SEVERITY_STYLE", "counts_line", "finding_html", "when_text"]

#: Per severity: the sign, the colour (a theme variable, a fixed colour where the page has
#: none), and the word for one and for several.
SEVERITY_STYLE: dict[str, tuple[str, str, str, str]] = {
    "error": ("&#10006;", "var(--jp-error-color1, #b00020)", "error", "errors"),
    "warning": ("&#9650;", "var(--jp-warn-color1, #a15c00)", "warning", "warnings"),
    "info": ("&#9432;", "var(--jp-info-color1, #0061a6)", "note", "notes"),
}


def _marked(colour: str, text: str) -> str:
    """``text`` in bold, in the theme's text colour, after a bar of ``colour``."""
    return (
        f"<span style='border-left:0.35em solid {colour};padding-left:0.3em;"
        f"font-weight:bold'>{text}</span>"
    )


def _badge(severity: str, count: int) -> str:
    sign, colour, one, many = SEVERITY_STYLE[severity]
    word = one if count == 1 else many
    return _marked(colour, f"{sign} {count} {word}")


def counts_line(findings: Sequence[Finding], *, snapshots: int, failure: str = "") -> str:
    """The strip: how many findings of each severity (the worst first), or a quiet "no
    problems found" (or "nothing to diagnose yet" before the first snapshot)."""
    prefix = "<b>Health</b>: "
    if failure:
        return prefix + quiet("the diagnosis failed (see the findings)")
    if not findings:
        text = "no problems found" if snapshots else "nothing to diagnose yet"
        return prefix + quiet(f"{text} ({snapshots} snapshot{'s' * (snapshots != 1)})")
    badges = []
    for severity in ("error", "warning", "info"):
        count = sum(finding.severity == severity for finding in findings)
        if count:
            badges.append(_badge(severity, count))
    return prefix + " &middot; ".join(badges) + quiet(" &middot; click a finding to see it")


def _number(value) -> str:
    """An epoch label as a person writes it: 1, not 1.0."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return escape(str(value))


def when_text(finding: Finding, epochs: Sequence) -> str:
    """When it holds: the snapshots (with their epoch labels where known) and the first step."""
    parts = []
    if finding.snapshots:
        first, last = finding.snapshots[0], finding.snapshots[-1]
        span = f"snapshot {first}" if first == last else f"snapshots {first}&ndash;{last}"
        if 0 <= first < len(epochs):
            span += f" (from epoch {_number(epochs[first])})"
        parts.append(span)
    if finding.step is not None:
        parts.append(f"step {finding.step}")
    return ", ".join(parts) if parts else "over the whole training"


def finding_html(finding: Finding, epochs: Sequence) -> str:
    """One finding in full: severity and kind, the message, where, when, what to try."""
    sign, colour, word, _ = SEVERITY_STYLE[finding.severity]
    head = (
        f"{_marked(colour, f'{sign} {word}')} "
        f"<b>{escape(finding.kind.replace('_', ' '))}</b>: {escape(finding.message)}"
    )
    if finding.layers:
        shown = ", ".join(repr(layer) for layer in finding.layers[:6])
        more = f" and {len(finding.layers) - 6} more" if len(finding.layers) > 6 else ""
        where = f"layer{'s' * (len(finding.layers) > 1)} {escape(shown)}{more}"
    else:
        where = "the loss (see the metrics chart)"
    what = f", {escape(finding.quantity)}" if finding.quantity else ""
    detail = quiet(f"{where}{what}; {when_text(finding, epochs)}")
    body = f"{head}<br>{detail}<br><i>Try</i>: {escape(finding.suggestion)}"
    return f"<div style='line-height:1.4;margin:2px 0 6px'>{body}</div>"
