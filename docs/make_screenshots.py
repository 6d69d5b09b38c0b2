"""Render the TrainingExplorer in JupyterLab and save the screenshots in docs/img/.

Trains LeNet-5 on the bundled digits in a notebook, shows one explorer per quantity, runs it in
a JupyterLab server started here, drives Debian's Chromium through Playwright (no browser is
downloaded), screenshots each explorer, then moves the pointer over a heatmap and checks that
the readout reports the value under it; then switches JupyterLab to its dark theme and takes the
explorers again into ``dark/``. Run from the repository root:

    python docs/make_screenshots.py [output folder]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.helpers import (  # noqa: E402  (the checkout's tests package, above)
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterServer,
    dismiss_notifications,
    open_notebook,
)

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


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="nnviz-shots-"))
    (folder / "root").mkdir()
    (folder / "home").mkdir()
    write_notebook(folder / "root")
    server = JupyterServer("lab", folder / "root", folder / "home")
    try:
        server.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                shoot(browser.new_page(viewport={"width": 1500, "height": 1000}), server, out)
            finally:
                browser.close()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def shoot(page, server: JupyterServer, out: Path) -> None:
    open_notebook(page, server, "screenshots.ipynb")
    page.evaluate(
        "async () => { await window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
    )
    time.sleep(6)  # let every figure finish drawing
    dismiss_notifications(page)
    explorers = page.query_selector_all(".nnviz-explorer")
    shoot_explorers(explorers, out)
    # the pointer readout, through a real hover event in the browser
    first = explorers[0]
    image = first.query_selector(".nnviz-heatmap image")
    first.scroll_into_view_if_needed()
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    before = first.query_selector(".nnviz-readout").inner_text()
    x, y = box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.33
    page.mouse.move(x - 40, y - 20)
    page.mouse.move(x, y, steps=5)  # onto a block: its summary, and finer markers over it
    time.sleep(1.0)
    page.mouse.move(x + 1, y + 1)  # a pixel on, over the finer markers: one value
    time.sleep(1.5)
    after = first.query_selector(".nnviz-readout").inner_text()
    if after == before:
        raise SystemExit(f"the readout did not follow the pointer: {after!r}")
    print("readout under the pointer:", after)
    # a page screenshot clipped to the explorer: an element screenshot may scroll, and the
    # page moving under the pointer would hover another block
    page.screenshot(path=str(out / "explorer_hover.png"), clip=first.bounding_box())
    # the same explorers in JupyterLab's dark theme
    page.mouse.move(0, 0)
    page.evaluate(
        "async () => { await window.jupyterapp.commands.execute("
        "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }"
    )
    time.sleep(4)  # the theme's style sheet loads, the figures repaint
    (out / "dark").mkdir(exist_ok=True)
    shoot_explorers(explorers, out / "dark")


def shoot_explorers(explorers, out: Path) -> None:
    """One screenshot per explorer, ``explorer_<name>.png`` in ``out``."""
    for name, element in zip(SHOTS, explorers):
        element.scroll_into_view_if_needed()
        time.sleep(1.5)
        element.screenshot(path=str(out / f"explorer_{name}.png"))
        print("saved", out / f"explorer_{name}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img")
