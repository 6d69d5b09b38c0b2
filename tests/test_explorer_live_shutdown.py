"""The panels' threads at shutdown: closing the explorer, or the interpreter exiting, stops a
torch computation running in a panel's thread (once: "terminate called without an active
exception" and an aborted process when the interpreter exited under it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import torch
from torch import nn

import nnviz_widgets as nv
from nnviz_widgets.widgets.explorer import features as panel_module

BACKSTOP = 60  # seconds: only a broken test waits this long
ROOT = Path(__file__).resolve().parent.parent

# a tiny model whose feature computation would run for hours, started, then left to the exit
STARTED = textwrap.dedent(
    """
    import threading
    import torch
    from torch import nn
    import nnviz_widgets as nv
    from nnviz_widgets.widgets.explorer import features as panel_module

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    with nv.Recorder(model, probe=torch.randn(4, 1, 12, 12)) as recorder:
        recorder.snapshot(epoch=0)
    explorer = nv.TrainingExplorer(recorder.recording)
    started = threading.Event()
    real = panel_module.feature_visualization

    def spy(*args, **kwargs):
        progress = kwargs["progress"]
        kwargs["progress"] = lambda fraction: (started.set(), progress(fraction))
        return real(*args, **kwargs)

    panel_module.feature_visualization = spy
    panel = panel_module.FeaturesPanel(explorer, model, steps=10**8)
    assert started.wait(60), "the computation never started"
    print("computing", flush=True)
    """
)


def test_exiting_during_a_feature_computation_exits_cleanly():
    done = subprocess.run(
        [sys.executable, "-c", STARTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "computing", done.stderr
    assert "terminate called" not in done.stderr
    assert done.returncode == 0, done.stderr


def _tiny_explorer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    with nv.Recorder(model, probe=torch.randn(4, 1, 12, 12)) as recorder:
        recorder.snapshot(epoch=0)
    return model, nv.TrainingExplorer(recorder.recording)


def test_closing_the_explorer_stops_its_panels_computation_and_thread(monkeypatch):
    model, explorer = _tiny_explorer()
    started, ended = threading.Event(), threading.Event()
    real = panel_module.feature_visualization

    def spy(*args, **kwargs):
        progress = kwargs["progress"]
        kwargs["progress"] = lambda fraction: (started.set(), progress(fraction))
        try:
            return real(*args, **kwargs)
        finally:
            ended.set()

    monkeypatch.setattr(panel_module, "feature_visualization", spy)
    before = {t for t in threading.enumerate() if t.name == "nnviz-features"}
    panel = panel_module.FeaturesPanel(explorer, model, steps=10**8)
    (mine,) = {t for t in threading.enumerate() if t.name == "nnviz-features"} - before
    try:
        assert started.wait(BACKSTOP)
        explorer.close()  # closes the panel too: its computation stops at its next report
        assert ended.wait(BACKSTOP)
        mine.join(BACKSTOP)
        assert not mine.is_alive()
        assert panel_module.COMPUTING in panel.status.value  # nothing failed in words
    finally:
        panel.close()
        explorer.close()


def test_a_panel_on_a_closed_explorer_is_closed_at_once():
    model, explorer = _tiny_explorer()
    explorer.close()
    panel = panel_module.FeaturesPanel(explorer, model, steps=8)
    state, message = panel._results.request((0, "0"))
    assert state == "failed" and "closed" in message
