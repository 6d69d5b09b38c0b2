"""The explorer's health strip and findings panel: :func:`~nnviz_widgets.diagnose`, live.

:class:`HealthPanel` shows a strip that is always visible (how many errors, warnings and notes,
or a quiet "no problems found") and, below it, a panel that opens to list each finding: its
message, layers, when, and what to try, with a button that shows it in the explorer
(:func:`select_finding`).

The diagnosis never runs in the training thread nor in a widget callback: a new snapshot asks
a :class:`~nnviz_widgets.threads.Throttle` (at most one request per ``interval``), whose action
only queues a job on the panel's own :class:`~nnviz_widgets.threads.Worker` thread
(``nnviz-health``). That job diagnoses the snapshots present, then updates the widgets under the
explorer's lock. Findings are kept by (kind, first layer): one that persists keeps its row and
its place, a new one takes its place among those of its severity, and one that went away
leaves. A failed diagnosis is a line in the panel, never an exception in training.
``docs/diagnosis.md`` ("In the explorer") says what a person sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import ipywidgets

from nnviz_widgets.diagnosis import SEVERITIES, Finding, diagnose
from nnviz_widgets.recording import Recording
from nnviz_widgets.threads import Throttle, Worker
from nnviz_widgets.widgets.explorer.health_text import counts_line, finding_html
from nnviz_widgets.widgets.explorer.selection import layer_quantities, selectable_layers
from nnviz_widgets.widgets.explorer.text import error_line, escape, quiet

__all__ = ["HealthPanel", "merge_findings", "select_finding"]

Key = tuple[str, str | None]


def _key(finding: Finding) -> Key:
    return (finding.kind, finding.layer)


def merge_findings(shown: list[Key], findings: list[Finding]) -> list[Key]:
    """The order to show ``findings`` in, given the keys ``shown`` now: those still found keep
    their order; a new one goes after the last shown one of its severity or a worse one."""
    found = {_key(finding): finding for finding in findings}
    order = [key for key in shown if key in found]
    rank = {key: SEVERITIES.index(found[key].severity) for key in found}
    for finding in findings:
        key = _key(finding)
        if key in order:
            continue
        place = 0
        for position, other in enumerate(order):
            if rank[other] >= rank[key]:
                place = position + 1
        order.insert(place, key)
    return order


def select_finding(explorer, finding: Finding) -> str:
    """Show ``finding`` in ``explorer`` (its layer, quantity and first snapshot, through the
    explorer's traits); returns what was selected, in words."""
    recording = explorer.recording
    said = []
    if finding.layer is not None and finding.layer in selectable_layers(recording):
        explorer.layer = finding.layer
        said.append(f"layer {finding.layer!r}")
        if finding.quantity in layer_quantities(recording, finding.layer):
            explorer.quantity = finding.quantity
            said.append(finding.quantity)
    if finding.snapshot is not None and finding.snapshot < len(recording):
        explorer.index = finding.snapshot
        said.append(f"snapshot {finding.snapshot}")
    if not finding.layers:
        said.append("the loss is in the metrics chart")
    return "showing " + ", ".join(said) if said else "nothing to show for this finding"


class HealthPanel:
    """The strip, the panel, and the diagnosis behind them (see the module's docstring).

    Parameters
    ----------
    recording : Recording
        What to diagnose; followed through its listener.
    lock : threading.RLock
        The explorer's lock: the widgets are updated under it.
    on_select : callable
        ``on_select(finding) -> str``, what a click on a finding's button does; the text it
        returns is shown under the list.
    interval : float
        Seconds between two diagnoses at most, while snapshots arrive.
    """

    def __init__(
        self,
        recording: Recording,
        lock: threading.RLock,
        on_select: Callable[[Finding], str],
        interval: float = 1.0,
    ) -> None:
        self.recording = recording
        self._lock = lock
        self._on_select = on_select
        self.findings: list[Finding] = []
        """The findings shown, in the order shown."""
        self._rows: dict[Key, tuple[ipywidgets.HBox, Finding]] = {}
        self._diagnosed = -1  # snapshots of the last diagnosis (worker thread only)
        self._failed = False  # the status line says the last diagnosis failed
        self.strip = ipywidgets.HTML(counts_line([], snapshots=0))
        self.strip.add_class("nnviz-health-strip")
        self.status = ipywidgets.HTML("")  # what a click selected, or why the diagnosis failed
        self.status.add_class("nnviz-text")
        self.list = ipywidgets.VBox([])
        self.panel = ipywidgets.Accordion(
            children=[ipywidgets.VBox([self.list, self.status])], titles=("findings",)
        )
        self.panel.selected_index = None  # closed until asked: the strip says enough
        self.panel.add_class("nnviz-health-panel")
        self.widget = ipywidgets.VBox([self.strip, self.panel])
        self.widget.add_class("nnviz-health")
        self._worker = Worker("health")
        self._throttle = Throttle(lambda: self._worker.submit(self._diagnose), interval)
        recording.add_listener(self._on_update)
        self._throttle()

    @property
    def interval(self) -> float:
        """Seconds between two diagnoses at most, while snapshots arrive."""
        return self._throttle.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._throttle.interval = float(seconds)

    def refresh(self) -> None:
        """Diagnose again (in the background), even with no new snapshot."""
        self._worker.submit(lambda: self._diagnose(again=True))

    # ------------------------------------------------------------------ threads
    def _on_update(self, recording: Recording) -> None:
        """Listener, in the appending thread: only asks (a snapshot, not a per-step flush)."""
        if len(recording) != self._diagnosed:
            self._throttle()

    def _diagnose(self, *, again: bool = False) -> None:
        """In the worker thread: diagnose the snapshots present, then show the findings."""
        count = len(self.recording)
        if count == self._diagnosed and not again:
            return
        self._diagnosed = count
        try:
            findings = diagnose(self.recording) if count else []
        except Exception as error:  # shown in the panel, never raised into training
            with self._lock:
                self._failed = True
                self.strip.value = counts_line([], snapshots=count, failure="failed")
                self.status.value = error_line("the diagnosis failed", error)
            return
        with self._lock:
            self._show(findings, count)

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until the diagnoses asked for so far are shown (for tests and scripts)."""
        self._throttle.wait(timeout)
        done = threading.Event()
        return self._worker.submit(done.set) and done.wait(timeout)

    def close(self) -> None:
        """Stop following the recording and end the worker thread (the widgets stay)."""
        self.recording.remove_listener(self._on_update)
        self._throttle.close()
        self._worker.close(wait=False, cancel_pending=True)

    # ------------------------------------------------------------------ widgets
    def _show(self, findings: list[Finding], count: int) -> None:
        order = merge_findings([_key(f) for f in self.findings], findings)
        found = {_key(finding): finding for finding in findings}
        epochs = list(self.recording.snapshots[:count])
        for key in list(self._rows):
            if key not in found:
                self._rows.pop(key)[0].close()
        for key in order:
            finding = found[key]
            row = self._rows.get(key)
            if row is None:
                self._rows[key] = (self._make_row(key, finding, epochs), finding)
            elif row[1] != finding:  # same kind and layer, new numbers or snapshots
                row[0].children[1].value = finding_html(finding, epochs)
                self._rows[key] = (row[0], finding)
        self.findings = [found[key] for key in order]
        self.strip.value = counts_line(self.findings, snapshots=count)
        self.list.children = [self._rows[key][0] for key in order]
        self.panel.set_title(0, f"findings ({len(order)})" if order else "findings (none)")
        if self._failed:  # the failure line of an earlier diagnosis: this one worked
            self.status.value, self._failed = "", False

    def _make_row(self, key: Key, finding: Finding, epochs: list) -> ipywidgets.HBox:
        button = ipywidgets.Button(
            description="show",
            tooltip="select this finding's layer, quantity and snapshot in the explorer",
            layout=ipywidgets.Layout(width="60px", flex="0 0 auto"),
        )
        button.on_click(lambda _: self.select(key))
        text = ipywidgets.HTML(finding_html(finding, epochs))
        text.add_class("nnviz-text")
        row = ipywidgets.HBox([button, text])
        row.add_class("nnviz-finding")
        return row

    def select(self, key: Key | int) -> None:
        """What a click on a finding's button does (a key, or a position in :attr:`findings`):
        show it in the explorer; a failure is said under the list."""
        with self._lock:
            if isinstance(key, int):
                key = _key(self.findings[key])
            row = self._rows.get(key)
            if row is None:
                return  # the finding went away between drawing and the click
            try:
                self.status.value = quiet(escape(self._on_select(row[1])))
            except Exception as error:  # a click must never leave a traceback in the page
                self.status.value = error_line("could not show that finding", error)
