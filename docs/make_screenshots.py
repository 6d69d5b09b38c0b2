"""Render the TrainingExplorer in JupyterLab and save the screenshots in docs/img/.

Trains LeNet-5 on the bundled digits in a notebook, shows one explorer per quantity, runs it in
a JupyterLab server started here, drives Debian's Chromium through Playwright (no browser is
downloaded), screenshots each explorer, then moves the pointer over a heatmap and checks that
the readout reports the value under it. Run from the repository root:

    python docs/make_screenshots.py [output folder]
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
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
TRAIN = """\
import torch
from torch import nn
import nnviz_widgets as nv

torch.manual_seed(0)
data = nv.datasets.digits(size=28)
model = nv.models.LeNet5()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
recorder = nv.Recorder(model, probe=(data.probe_images, data.probe_labels), optimizer=optimizer)


def accuracy():
    with torch.no_grad():
        return (model(data.test_images).argmax(1) == data.test_labels).float().mean().item()


recorder.snapshot(epoch=0, accuracy=accuracy())
for epoch in range(1, 6):
    total, count = 0.0, 0
    for images, labels in data.train_loader(batch_size=64, seed=epoch):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(labels), count + len(labels)
    recorder.snapshot(epoch=epoch, loss=total / count, accuracy=accuracy())
recorder.close()
recording = recorder.recording
"""
#: name -> (layer, quantity, further state); chosen to show what each quantity tells
SHOTS = {
    "weight": ("conv2", "weight", {}),
    "weight_grad": ("conv1", "weight_grad", {"index": 2}),
    "update": ("fc1", "update", {"index": 2}),
    "activation": ("conv1", "activation", {"sample": 3}),
    "output_grad": ("conv2", "output_grad", {"sample": 3, "colour_range": "snapshot", "index": 1}),
    "saliency": ("input", "saliency", {"sample": -1, "colour_range": "robust"}),
}


def write_notebook(folder: Path) -> Path:
    cells = [nbformat.v4.new_code_cell(TRAIN)]
    for name, (layer, quantity, state) in SHOTS.items():
        lines = [f"e_{name} = nv.TrainingExplorer(recording)"]
        lines += [f"e_{name}.layer = {layer!r}", f"e_{name}.quantity = {quantity!r}"]
        lines += [f"e_{name}.{key} = {value!r}" for key, value in state.items()]
        lines.append(f"e_{name}")
        cells.append(nbformat.v4.new_code_cell("\n".join(lines)))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    path = folder / "screenshots.ipynb"
    nbformat.write(notebook, path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="nnviz-shots-"))
    write_notebook(folder)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={folder}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log = open(folder / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        shoot(port, token, out)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def shoot(port: int, token: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        # a fresh workspace (?reset): a restored tab could otherwise steal focus
        page.goto(
            f"http://127.0.0.1:{port}/lab/workspaces/shots/tree/screenshots.ipynb"
            f"?reset&token={token}"
        )
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90e3)
        page.click("text=Run", timeout=10e3)
        page.click("text=Run All Cells", timeout=10e3)
        page.wait_for_function(
            f"document.querySelectorAll('.nnviz-explorer').length >= {len(SHOTS)}", timeout=300e3
        )
        time.sleep(6)  # let every figure finish drawing
        page.evaluate("document.querySelectorAll('.Toastify').forEach(e => e.remove())")
        explorers = page.query_selector_all(".nnviz-explorer")
        for name, element in zip(SHOTS, explorers):
            element.scroll_into_view_if_needed()
            time.sleep(1.5)
            element.screenshot(path=str(out / f"explorer_{name}.png"))
            print("saved", out / f"explorer_{name}.png")
        # the pointer readout, through a real hover event in the browser
        first = explorers[0]
        image = first.query_selector(".nnviz-heatmap image")
        image.scroll_into_view_if_needed()
        box = image.bounding_box()
        before = first.query_selector(".nnviz-readout").inner_text()
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.3)
        time.sleep(1.0)
        page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.33)
        time.sleep(1.5)
        after = first.query_selector(".nnviz-readout").inner_text()
        if after == before:
            raise SystemExit(f"the readout did not follow the pointer: {after!r}")
        print("readout under the pointer:", after)
        first.screenshot(path=str(out / "explorer_hover.png"))
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img")
