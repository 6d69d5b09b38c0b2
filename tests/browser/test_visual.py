"""What a person sees, in JupyterLab light and dark: the stories' pictures are not blank under the
default colours, no text of the explorer overlaps another, and every text is readable (contrast
4.5:1 or more against what is behind it).

The notebook is written by the test: a run that diverges (notebook 04's story: epoch 1 must show
its weights, not white) and a saliency whose selected sample is 1000x weaker than another
(notebook 05's story); a gradient history with a long layer name (no overlap there either); a
tall 120 x 10 weight, drawn wider than a strip, whose cells the pointer reads. Each theme gets
a JupyterLab server of its own; screenshots go to ``tests/artifacts/visual_*``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.browser import helpers
from tests.browser.helpers import ARTIFACTS, expect, open_notebook, run_all, shoot

pytestmark = pytest.mark.browser

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}

SETUP = """
import numpy as np
import nnviz_widgets as nv
from nnviz_widgets.recording import INPUT, Recording, SnapshotData

rng = np.random.default_rng(0)
diverging = Recording()
diverging.set_layers({"fc1": {"type": "Linear", "calls": 1}})
for epoch, scale in enumerate([1.0, 1.2, 3e14, 1.9e15]):
    weight = (scale * rng.uniform(-1, 1, size=(20, 120))).astype(np.float32)
    loss = {"loss": float(2.3 / (epoch + 1) if scale < 10 else 1e30 * scale)}
    frames = {("fc1", "weight"): weight}
    diverging.append_snapshot(SnapshotData(epoch=epoch, step=epoch, frames=frames, metrics=loss))
story = nv.TrainingExplorer(diverging)
story.index = 1
story.add_class("t-story")

saliency = Recording()
saliency.set_layers({INPUT: {"type": "input", "calls": 1}})
saliency.set_probe(rng.random((3, 1, 28, 28)).astype(np.float32), np.array([0, 1, 2]))
values = rng.normal(size=(3, 1, 28, 28)).astype(np.float32)
values[0] *= 0.89 / np.abs(values[0]).max()
values[1] *= 0.001 / np.abs(values[1]).max()
saliency.append_snapshot(SnapshotData(epoch=0, step=0, frames={(INPUT, "saliency"): values}))
weak = nv.TrainingExplorer(saliency)
weak.layer, weak.quantity, weak.sample = INPUT, "saliency", 1
weak.add_class("t-weak")

# the gradient history with ResNet-18's names and a long one, at three snapshots
names = ["conv1", "layer1.0.conv1", "layer2.0.downsample.0", "layer4.1.conv2",
         "model.encoder.layers.11.self_attention.output_projection", "fc"]
history = Recording()
history.set_layers({name: {"type": "Linear", "calls": 1} for name in names})
for epoch in range(3):
    norms = {(name, "grad_norm"): 10.0 ** (k - 4) * (epoch + 1) for k, name in enumerate(names)}
    frames = {(name, "weight"): rng.normal(size=(4, 4)).astype(np.float32) for name in names}
    history.append_snapshot(
        SnapshotData(epoch=epoch, step=epoch, frames=frames, statistics=norms))
longest = nv.TrainingExplorer(history)
longest.layer = names[4]
longest.add_class("t-history")

# a tall matrix (120 x 10): drawn wider than a strip, and the pointer reads its cells
tall = Recording()
tall.set_layers({"fc": {"type": "Linear", "calls": 1}})
grid = np.arange(1200, dtype=np.float32).reshape(120, 10)
tall.append_snapshot(SnapshotData(epoch=0, step=0, frames={("fc", "weight"): grid}))
upright = nv.TrainingExplorer(tall)
upright.add_class("t-tall")
display(story, weak, longest, upright)
print("all cells ran")
"""


def _notebook(path) -> None:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    notebook = {
        "cells": [{**cell, "id": "setup", "source": SETUP}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


@pytest.fixture(scope="module", params=list(THEMES))
def themed_lab(request, chromium, tmp_path_factory):
    """A JupyterLab server in one theme, serving the visual notebook."""
    root = tmp_path_factory.mktemp("visual")
    _notebook(root / "visual.ipynb")
    key = "@jupyterlab/apputils-extension/themes.jupyterlab-settings"
    saved = dict(helpers._LAB_SETTINGS)
    helpers._LAB_SETTINGS[key] = {"theme": THEMES[request.param]}
    server = helpers.JupyterServer("lab", root, tmp_path_factory.mktemp("visual-home"))
    try:
        server.start()
    finally:
        helpers._LAB_SETTINGS.clear()
        helpers._LAB_SETTINGS.update(saved)
    try:
        yield request.param, server
    finally:
        helpers.delete_sessions(server)
        server.stop()


@pytest.fixture
def shown(page, themed_lab):
    """The visual notebook run in ``themed_lab``: (theme, page)."""
    theme, server = themed_lab
    open_notebook(page, server, "visual.ipynb")
    run_all(page)
    expect(page.locator(".t-story .nnviz-heatmap")).to_contain_text("fc1 · weight · epoch 1")
    expect(page.locator(".t-weak .nnviz-heatmap")).to_contain_text("saliency")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return theme, page


def test_the_stories_pictures_are_not_blank(shown):
    theme, page = shown
    for name in ("t-story", "t-weak"):
        image = page.locator(f".{name} .nnviz-heatmap image").first
        image.scroll_into_view_if_needed()
        shot = shoot(image, f"visual_{theme}_{name}")
        # a washed-out picture is one colour; a readable one spreads over the colour map
        spread = float(shot.reshape(-1, 3).astype(np.float64).std(axis=0).max())
        assert spread > 25, f"{name} looks blank in {theme} (pixel spread {spread:.1f})"


#: Each SVG text in the explorer's figures, with its box and its figure (one per figure).
_TEXT_BOXES = """(root) => {
    const out = [];
    root.querySelectorAll('.bqplot').forEach((figure, f) => {
        const svg = figure.querySelector('svg').getBoundingClientRect();
        figure.querySelectorAll('text').forEach((text) => {
            const box = text.getBoundingClientRect();
            const style = getComputedStyle(text);
            if (!text.textContent.trim() || box.width === 0 || style.visibility === 'hidden'
                || style.display === 'none' || text.closest('[display="none"]')) return;
            out.push({figure: f, text: text.textContent.trim(),
                      box: [box.left, box.top, box.right, box.bottom],
                      frame: [svg.left, svg.top, svg.right, svg.bottom]});
        });
    });
    return out;
}"""


@pytest.mark.parametrize("which", ["story", "history"])
def test_no_text_overlaps_another_or_is_cut(shown, which):
    """The story's explorer, and one whose gradient history has long layer names."""
    theme, page = shown
    root = page.locator(f".t-{which}").first
    root.scroll_into_view_if_needed()
    if which == "history":  # its charts drawn, the long name shortened
        expect(root.locator(".nnviz-gradhistory")).to_contain_text("history: model.enc")
    shoot(root, f"visual_{theme}_{which}_whole")
    texts = root.evaluate(_TEXT_BOXES)
    assert len(texts) > 20  # titles, axis names and tick labels of every figure
    overlaps = []
    for k, a in enumerate(texts):
        for b in texts[k + 1 :]:
            if a["figure"] != b["figure"]:
                continue
            width = min(a["box"][2], b["box"][2]) - max(a["box"][0], b["box"][0])
            height = min(a["box"][3], b["box"][3]) - max(a["box"][1], b["box"][1])
            if width > 1 and height > 1:  # a shared pixel edge is not an overlap
                overlaps.append((a["text"], b["text"]))
    assert not overlaps, f"texts overlap in {theme}: {overlaps[:10]}"
    # and none is cut by the edge of its figure
    cut = [
        t["text"]
        for t in texts
        if t["box"][0] < t["frame"][0] - 1
        or t["box"][1] < t["frame"][1] - 1
        or t["box"][2] > t["frame"][2] + 1
        or t["box"][3] > t["frame"][3] + 1
    ]
    assert not cut, f"texts cut by their figure's edge in {theme}: {cut[:10]}"


def test_a_tall_picture_is_wide_enough_and_reads_the_cell_under_the_pointer(shown):
    """A 120 x 10 weight: about a third as wide as tall (square cells: a twelfth), and the
    pointer over cell (6, 1) and (100, 8) reads those elements through the turned markers."""
    theme, page = shown
    root = page.locator(".t-tall").first
    root.scroll_into_view_if_needed()
    expect(root.locator(".nnviz-heatmap")).to_contain_text("fc · weight")
    box = root.locator(".nnviz-heatmap image").first.bounding_box()
    assert 0.28 <= box["width"] / box["height"] <= 0.36, box
    readout = root.locator(".nnviz-readout")
    for row, column in ((6, 1), (100, 8)):
        x = box["x"] + box["width"] * (column + 0.5) / 10
        y = box["y"] + box["height"] * (row + 0.5) / 120
        page.mouse.move(x - 30, y - 10)
        page.mouse.move(x, y, steps=4)
        page.mouse.move(x + 1, y)  # onto the finer markers the first move laid down
        page.mouse.move(x, y)
        expect(readout).to_contain_text(f"weight[{row}, {column}] = {row * 10 + column}")
    shoot(root, f"visual_{theme}_tall")


#: Every visible text of the explorer: its colour and the first opaque background behind it.
_TEXT_COLOURS = """(root) => {
    const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const background = (element) => {
        for (let e = element; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
        }
        return parse(getComputedStyle(document.body).backgroundColor).slice(0, 3);
    };
    const out = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const element = node.parentElement;
        if (!node.textContent.trim() || !element) continue;
        const style = getComputedStyle(element);
        const box = element.getBoundingClientRect();
        if (box.width === 0 || style.visibility === 'hidden' || style.display === 'none'
            || element.closest('option') || element.closest('[display="none"]')) continue;
        const svg = element.closest('svg');
        const colour = parse(svg ? style.fill : style.color);
        if (colour.length < 3 || (colour.length >= 4 && colour[3] === 0)) continue;
        out.push({text: node.textContent.trim().slice(0, 40), colour: colour.slice(0, 3),
                  background: background(svg ? svg : element)});
    }
    return out;
}"""


def _luminance(rgb) -> float:
    channels = np.asarray(rgb, dtype=np.float64) / 255
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2])


def contrast(a, b) -> float:
    """WCAG's contrast ratio of two RGB colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula():
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


def test_every_text_is_readable(shown):
    theme, page = shown
    root = page.locator(".t-story").first
    texts = root.evaluate(_TEXT_COLOURS)
    assert len(texts) > 20
    poor = [
        (t["text"], t["colour"], t["background"], round(contrast(t["colour"], t["background"]), 2))
        for t in texts
        if contrast(t["colour"], t["background"]) < 4.5
    ]
    assert not poor, f"text below 4.5:1 in {theme}: {poor[:12]}"
