"""The Playground in a real browser: the pictures change when the slider moves.

This is what a Python-side test cannot see: bqplot's Image view redraws only when its mark's
image reference changes, so a picture can be right in the kernel and stale on the screen. The
test starts its own JupyterLab, runs a Playground in Chromium, scrubs with the keyboard and
compares screenshots of the decision boundary.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import socket
import subprocess
import sys
import time

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server of our own on a free port, stopped afterwards."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport nnviz_widgets as nv\n"
                'pg = nv.Playground("xor", hidden=[3], n=80, seed=0)\n'
                "display(pg)\npg.train(8)"
            )
        ]
    )
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    nbformat.write(notebook, tmp_path / "playground.ipynb")
    port, token = _free_port(), secrets.token_hex(8)
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}",
            "--allow-root", "--LabApp.news_url=None",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        if server.poll() is not None:
            pytest.fail(f"jupyter lab did not start: {(tmp_path / 'server.log').read_text()}")
        yield f"http://127.0.0.1:{port}/lab/workspaces/t{token[:6]}/tree/playground.ipynb?reset&token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_scrubbing_in_the_browser_changes_the_picture(lab, tmp_path, chromium):
    # the session's shared Chromium (tests/browser/conftest.py): one Playwright per process
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(lab)
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']",
            state="attached",
            timeout=90_000,
        )
        # a run asked for before the kernel's session is ready can be dropped: ask again
        # until the cell's prompt shows it queued or ran
        prompt = page.locator(".jp-Cell .jp-InputPrompt").first
        for _ in range(10):
            page.click(".jp-Cell .jp-InputArea-editor >> nth=0")
            page.keyboard.press("Escape")
            page.keyboard.press("Shift+Enter")
            try:
                page.wait_for_function(
                    "e => /\\[(\\*|\\d+)\\]/.test(e.textContent)",
                    arg=prompt.element_handle(),
                    timeout=10_000,
                )
                break
            except Exception:
                continue
        page.wait_for_selector(".nnviz-playground-graph", timeout=90_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-label')]"
            ".some(e => e.textContent.includes('training: paused'))",
            timeout=120_000,
        )
        boundary = page.locator(".nnviz-playground-boundary").first
        readout = page.locator(".widget-html-content").filter(has_text="epoch").first

        def settle(text: str) -> bytes:
            page.wait_for_function(
                "t => [...document.querySelectorAll('.widget-html-content')]"
                ".some(e => e.textContent.startsWith(t))",
                arg=text,
                timeout=30_000,
            )
            time.sleep(1.0)  # the image loads from a blob URL after the text changes
            return boundary.screenshot()

        trained = settle("epoch 8 of 8")
        page.locator(".widget-slider .noUi-handle").first.click()
        page.keyboard.press("Home")
        initial = settle("epoch 0 of 8")
        assert "epoch 0 of 8" in readout.inner_text()
        # eight quick presses: the last position must reach the kernel and the picture
        page.locator(".widget-slider .noUi-handle").first.focus()  # the screenshot took it
        for _ in range(8):
            page.keyboard.press("ArrowRight")
        again = settle("epoch 8 of 8")
    finally:
        page.close()
    (tmp_path / "trained.png").write_bytes(trained)
    (tmp_path / "initial.png").write_bytes(initial)
    assert initial != trained, "the boundary on screen did not change when scrubbing to epoch 0"
    assert again == trained, "scrubbing back to epoch 8 did not restore its picture"
