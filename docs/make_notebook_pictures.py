"""Run the story notebooks in JupyterLab and save a picture of each one's widgets in docs/img/.

Each notebook in ``notebooks/`` is opened in a JupyterLab server started here (Debian's
Chromium, driven by Playwright; no browser is downloaded), run top to bottom, and every
explorer or playground it displays is saved as ``docs/img/<notebook>_<n>.png``. Run from the
repository root::

    python docs/make_notebook_pictures.py [notebook ...]
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDGETS = ".jp-OutputArea-output .nnviz-explorer, .jp-OutputArea-output .nnviz-playground"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(names: list[str]) -> None:
    notebooks = [ROOT / "notebooks" / n for n in names] or sorted(
        (ROOT / "notebooks").glob("*.ipynb")
    )
    work = Path(tempfile.mkdtemp(prefix="nnviz-pictures-"))
    for notebook in notebooks:
        shutil.copy(notebook, work / notebook.name)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for notebook in notebooks:
                shoot(browser, port, token, notebook.name)
            browser.close()
    finally:
        server.terminate()
        server.wait(15)


def shoot(browser, port: int, token: str, name: str) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(
        f"http://127.0.0.1:{port}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={token}"
    )
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120e3)
    page.click("text=Run", timeout=10e3)
    page.click("text=Run All Cells", timeout=10e3)
    print(f"{name}: running", flush=True)
    time.sleep(2)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=300e3)
    time.sleep(3)  # the last live redraws
    for button in page.query_selector_all(".jp-toast-button"):  # the news question, if asked
        if button.inner_text().strip() == "No":
            button.click()
    widgets = page.query_selector_all(WIDGETS)
    if not widgets:
        page.screenshot(path=str(ROOT / "tests" / "artifacts" / f"{Path(name).stem}_page.png"))
        print(f"{name}: no widget found", flush=True)
    for number, widget in enumerate(widgets, start=1):
        widget.scroll_into_view_if_needed()
        time.sleep(0.5)
        target = ROOT / "docs" / "img" / f"{Path(name).stem}_{number}.png"
        widget.screenshot(path=str(target))
        print(target, flush=True)
    page.close()


if __name__ == "__main__":
    main(sys.argv[1:])
