"""The explorer's health strip and findings panel: counts and entries for a broken training, a
quiet strip for a healthy one, a click that selects the finding, findings that appear live as
snapshots arrive (in a thread of their own), and a failing diagnosis shown, never raised."""

from __future__ import annotations

import threading

import pytest
import torch
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.diagnosis import Finding
from nnviz_widgets.recording import SnapshotData
from nnviz_widgets.widgets.explorer import health
from nnviz_widgets.widgets.explorer.health import merge_findings
from tests import trainings


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: a second torch thread only spins
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dead_relu() -> nv.Recording:
    return trainings.dead_relu()


def _explorer(source) -> nv.TrainingExplorer:
    explorer = nv.TrainingExplorer(source)
    assert explorer.health.wait()
    return explorer


def _click(explorer: nv.TrainingExplorer, position: int) -> None:
    """Click the "show" button of the finding shown at ``position``, as the browser would."""
    explorer.health.list.children[position].children[0].click()


def test_a_broken_training_shows_its_counts_and_findings(dead_relu):
    explorer = _explorer(dead_relu)
    try:
        strip = explorer.health.strip.value
        assert "1 error" in strip and "1 warning" in strip and "note" not in strip
        assert "no problems" not in strip
        kinds = [(f.kind, f.layer) for f in explorer.health.findings]
        assert kinds == [("dead_units", "1"), ("not_learning", "0")]
        rows = [row.children[1].value for row in explorer.health.list.children]
        assert "dead units" in rows[0] and "layer '1', activation" in rows[0]
        assert "snapshots 1&ndash;4 (from epoch 1)" in rows[0] and "<i>Try</i>" in rows[0]
        assert explorer.health.panel.get_title(0) == "findings (2)"
        assert explorer.health.widget in explorer.children  # always visible
    finally:
        explorer.close()


def test_clicking_a_finding_selects_its_layer_quantity_and_snapshot(dead_relu):
    explorer = _explorer(dead_relu)
    try:
        assert (explorer.layer, explorer.index) != ("1", 1)
        _click(explorer, 0)
        assert (explorer.layer, explorer.quantity, explorer.index) == ("1", "activation", 1)
        assert not explorer.follow_latest  # looking back: a new snapshot must not move it
        assert "showing layer '1', activation, snapshot 1" in explorer.health.status.value
        _click(explorer, 1)
        assert (explorer.layer, explorer.quantity, explorer.index) == ("0", "weight_grad", 1)
        assert explorer.heatmap.rgb is not None and explorer.error.value == ""
    finally:
        explorer.close()


def test_a_healthy_training_shows_no_problem():
    explorer = _explorer(trainings.mlp_sgd())
    try:
        assert explorer.health.findings == []
        assert "no problems found" in explorer.health.strip.value
        assert "error" not in explorer.health.strip.value
        assert explorer.health.list.children == ()
    finally:
        explorer.close()


def _loss_recording(losses: list[float]) -> nv.Recording:
    recording = nv.Recording()
    recording.set_layers({"a": {"type": "Linear", "parameters": {}, "frozen": []}})
    for i, loss in enumerate(losses):
        recording.append_snapshot(SnapshotData(epoch=i, step=10 * i, metrics={"loss": loss}))
    return recording


def test_a_diverging_loss_selects_its_snapshot_and_points_at_the_metrics(tmp_path):
    _loss_recording([2.3, 1.0, 0.5, 30.0, 40.0]).save(tmp_path / "run")
    explorer = _explorer(tmp_path / "run")  # a path: read from disk
    try:
        (finding,) = explorer.health.findings
        assert finding.kind == "loss_diverging" and finding.layers == ()
        assert (
            "the loss (see the metrics chart)" in explorer.health.list.children[0].children[1].value
        )
        explorer.index = 0
        _click(explorer, 0)
        assert explorer.index == 3
        assert "the loss is in the metrics chart" in explorer.health.status.value
    finally:
        explorer.close()


def test_findings_appear_live_as_snapshots_arrive_from_a_recorder():
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 64, 10))
    with torch.no_grad():
        model[0].bias.fill_(-10.0)  # ReLU '1' dead, as trainings.dead_relu
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = nv.datasets.digits(size=8)
    images, labels = data.train_images.flatten(1), data.train_labels
    recorder = nv.Recorder(
        model, probe=(data.probe_images.flatten(1), data.probe_labels), optimizer=optimizer
    )
    explorer = nv.TrainingExplorer(recorder)
    explorer.health.interval = 0.0  # every snapshot diagnosed: the test waits on each
    seen, threads = [], []
    real = health.diagnose

    def spying(recording):
        threads.append(threading.current_thread().name)
        return real(recording)

    health.diagnose = spying
    try:
        for epoch in range(4):
            recorder.snapshot(epoch=epoch)
            assert explorer.health.wait()
            seen.append([f.kind for f in explorer.health.findings])
            for start in range(0, 20 * 64, 64):
                optimizer.zero_grad()
                F.cross_entropy(
                    model(images[start : start + 64]), labels[start : start + 64]
                ).backward()
                optimizer.step()
        assert seen[0] == []  # the untrained network: nothing yet
        assert "dead_units" not in seen[1] and "dead_units" in seen[-1]  # once it persists
        assert "1 error" in explorer.health.strip.value
        assert set(threads) == {"nnviz-health"}  # never in the training thread
    finally:
        health.diagnose = real
        explorer.close()
        recorder.close()


def test_a_finding_that_persists_keeps_its_row_and_place(dead_relu):
    explorer = _explorer(dead_relu)
    try:
        panel = explorer.health
        rows = list(panel.list.children)
        panel.refresh()  # diagnose again, as a new snapshot would
        assert panel.wait()
        assert len(panel.findings) == 2
        assert list(panel.list.children) == rows  # the same widgets: nothing redrawn
    finally:
        explorer.close()


def _finding(kind: str, severity: str, layer: str) -> Finding:
    return Finding(kind, severity, "message", "suggestion", layers=(layer,), steps=(1,))


def test_merge_keeps_the_order_shown_and_slots_new_findings_by_severity():
    a, b = _finding("dead_units", "warning", "a"), _finding("saturation", "warning", "b")
    shown = [("dead_units", "a"), ("saturation", "b")]
    # a later diagnosis orders them the other way round: the rows stay where they are
    assert merge_findings(shown, [b, a]) == shown
    error, note = _finding("nonfinite", "error", "c"), _finding("update_ratio_low", "info", "d")
    order = merge_findings(shown, [note, b, error, a])
    assert order == [("nonfinite", "c"), *shown, ("update_ratio_low", "d")]
    assert merge_findings(shown, [b]) == [("saturation", "b")]  # gone: left out


def test_a_failing_diagnosis_is_shown_in_the_panel_not_raised(dead_relu, monkeypatch):
    def broken(recording):
        raise RuntimeError("no luck")

    monkeypatch.setattr(health, "diagnose", broken)
    explorer = _explorer(dead_relu)
    try:
        assert "diagnosis failed" in explorer.health.strip.value
        assert "RuntimeError: no luck" in explorer.health.status.value
        assert explorer.error.value == ""  # the rest of the explorer is untouched
    finally:
        explorer.close()


def test_close_ends_the_health_thread(dead_relu):
    before = {t for t in threading.enumerate() if t.name == "nnviz-health"}
    explorer = _explorer(dead_relu)
    (mine,) = {t for t in threading.enumerate() if t.name == "nnviz-health"} - before
    explorer.close()
    mine.join(5)
    assert not mine.is_alive()
    assert explorer.health.wait(0.1) is False  # closed: it takes no more work


def test_an_empty_recording_has_nothing_to_diagnose_yet():
    explorer = _explorer(None)
    try:
        assert "nothing to diagnose yet" in explorer.health.strip.value
        assert explorer.health.findings == []
    finally:
        explorer.close()


def test_nonfinite_weights_show_as_an_error_with_its_layer():
    explorer = _explorer(trainings.nan_learning_rate())
    try:
        kinds = {f.kind: f for f in explorer.health.findings}
        assert kinds["nonfinite"].severity == "error" and "2 errors" in explorer.health.strip.value
        _click(explorer, [f.kind for f in explorer.health.findings].index("nonfinite"))
        assert explorer.layer == "0" and explorer.index == kinds["nonfinite"].snapshot
    finally:
        explorer.close()


def test_an_explorer_of_a_model_diagnoses_what_it_records():
    torch.manual_seed(0)
    model = nv.models.MLP((64, 16, 10))
    data = nv.datasets.digits(size=8)
    probe = (data.probe_images.flatten(1), data.probe_labels)
    explorer = nv.TrainingExplorer(model, probe=probe)
    try:
        explorer.health.interval = 0.0
        for epoch in range(2):
            explorer.snapshot(epoch=epoch)
            assert explorer.health.wait()
            assert f"no problems found ({epoch + 1} snapshot" in explorer.health.strip.value
    finally:
        explorer.close()
