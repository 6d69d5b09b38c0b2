"""The explorer in a real JupyterLab page: live updates while a cell runs, scrubbing, hover.

Drives Debian's Chromium through Playwright against a JupyterLab server started here; skipped
where either is missing. It looks at what a person would see: the figure title in the page.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SETUP = """\
import time
import numpy as np
import nnviz_widgets as nv
from nnviz_widgets._recording import SnapshotData

recording = nv.Recording()
recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
explorer = nv.TrainingExplorer(recording)
explorer
"""
TRAIN = """\
rng = np.random.default_rng(0)
for epoch in range(8):  # a training loop running in the cell, one snapshot per epoch
    recording.append_snapshot(SnapshotData(
        epoch=epoch, step=10 * epoch, frames={("fc", "weight"): rng.normal(size=(30, 40))},
        metrics={"loss": 1 / (epoch + 1)},
    ))
    time.sleep(0.7)
"""

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def lab(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(TRAIN)]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, tmp_path / "live.ipynb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}/lab/workspaces/live/tree/live.ipynb?reset&token={token}"
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    shutil.rmtree(tmp_path / "workspaces", ignore_errors=True)


def test_live_updates_scrubbing_and_hover_in_the_browser(lab, chromium):
    # the session's shared Chromium (tests/browser/conftest.py): one Playwright per process
    page = chromium.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(lab)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90e3)
    page.click("text=Run", timeout=10e3)
    page.click("text=Run All Cells", timeout=10e3)
    page.wait_for_selector(".nnviz-heatmap", timeout=90e3)

    def title() -> str:
        return page.text_content(".nnviz-heatmap .mainheading") or ""

    # while the training cell runs, the page follows each snapshot (kernel -> browser)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "epoch 7" not in title():
        if title() not in seen:
            seen.append(title())
        time.sleep(0.1)
    assert "epoch 7" in title()
    live = [t for t in seen if "epoch" in t and "epoch 7" not in t]
    assert len(live) >= 3, seen  # several snapshots drawn before the loop ended
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60e3)

    # scrub back with the keyboard on the slider (browser -> kernel -> browser)
    page.click(".nnviz-explorer .widget-slider .noUi-handle")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "document.querySelector('.nnviz-heatmap .mainheading').textContent.includes('epoch 5')",
        timeout=20e3,
    )
    assert not page.is_checked(".nnviz-explorer .widget-checkbox input")  # follow latest off

    # the value under the pointer
    image = page.query_selector(".nnviz-heatmap image")
    box = image.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    time.sleep(0.3)
    page.mouse.move(box["x"] + box["width"] * 0.51, box["y"] + box["height"] * 0.52)
    page.wait_for_function(
        "document.querySelector('.nnviz-readout').textContent.includes('weight[')",
        timeout=20e3,
    )
    assert "row" in page.inner_text(".nnviz-readout")
    page.close()
