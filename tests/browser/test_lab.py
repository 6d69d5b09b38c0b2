"""The explorer and the Playground in JupyterLab, looked at as a person would: pixels and text.

Each test opens its notebook in a fresh workspace, runs it, acts through the page (keyboard,
pointer, dropdowns, buttons) and checks what is painted. Screenshots of each step go to
``tests/artifacts/``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.browser.helpers import (
    ARTIFACTS,
    changed_fraction,
    distinct_colours,
    open_notebook,
    run_all,
    shoot,
    wait_for_picture,
)
from tests.browser.notebooks import recordings

pytestmark = pytest.mark.browser

NAN_COLOUR = (255, 0, 255)  # nnviz_widgets._colour.NAN_COLOUR, as documented in the NaN line


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def heatmap_changes(heatmap, before: np.ndarray, name: str, minimum: float = 0.05) -> np.ndarray:
    """Wait until the heatmap's pixels differ from ``before``; returns the new screenshot."""
    after = wait_for_picture(heatmap, name, lambda shot: changed_fraction(before, shot) >= minimum)
    assert after is not None, f"the heatmap did not change ({name})"
    return after


def rendered(heatmap, name: str) -> np.ndarray:
    """Wait until the heatmap shows a picture (many colours, not a blank figure)."""
    shot = wait_for_picture(heatmap, name, lambda shot: distinct_colours(shot) > 40)
    assert shot is not None, f"the heatmap stayed blank ({name})"
    return shot


def open_explorer(page, lab):
    open_notebook(page, lab, "explorer.ipynb")
    run_all(page)
    root = page.locator(".t-main")
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    return root, heatmap


def test_explorer_renders_and_keyboard_scrubs(page, lab_kernels):
    root, heatmap = open_explorer(page, lab_kernels)
    label = root.locator(".t-epoch")
    expect(label).to_contain_text(f"snapshot {recordings.SNAPSHOTS} of {recordings.SNAPSHOTS}")
    before = rendered(heatmap, "lab_explorer_1_latest")
    assert "fc1 · weight · epoch 5" in heatmap.inner_text()

    handle = root.locator(".widget-hslider .noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowLeft")
    expect(label).to_contain_text("epoch 4")
    after = heatmap_changes(heatmap, before, "lab_explorer_2_epoch4")
    expect(heatmap).to_contain_text("epoch 4")

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(label).to_contain_text("epoch 2")
    heatmap_changes(heatmap, after, "lab_explorer_3_epoch2")
    page.screenshot(path=ARTIFACTS / "lab_explorer_page.png")


def test_play_advances_the_explorer(page, lab_kernels):
    root, heatmap = open_explorer(page, lab_kernels)
    label = root.locator(".t-epoch")
    handle = root.locator(".widget-hslider .noUi-handle")
    handle.focus()
    page.keyboard.press("Home")
    expect(label).to_contain_text("epoch 0 ")
    first = heatmap_changes(heatmap, rendered(heatmap, "lab_play_0_latest"), "lab_play_1_epoch0")

    root.locator(".widget-play button").first.click()  # the play button
    expect(label).to_contain_text("epoch 2", timeout=15_000)
    heatmap_changes(heatmap, first, "lab_play_2_moving")
    expect(label).to_contain_text(f"epoch {recordings.SNAPSHOTS - 1}", timeout=15_000)
    assert handle.get_attribute("aria-valuenow") in ("5", "5.0")


def test_layer_and_quantity_dropdowns_change_the_picture(page, lab_kernels):
    root, heatmap = open_explorer(page, lab_kernels)
    weight = rendered(heatmap, "lab_select_1_fc1_weight")

    root.locator(".t-layer select").select_option("fc2")
    expect(heatmap).to_contain_text("fc2 · weight")
    fc2 = heatmap_changes(heatmap, weight, "lab_select_2_fc2_weight")

    root.locator(".t-quantity select").select_option("weight_grad")
    expect(heatmap).to_contain_text("fc2 · weight_grad")
    gradient = heatmap_changes(heatmap, fc2, "lab_select_3_fc2_weight_grad")
    # a checkerboard of +-1/6 in a range fixed over all snapshots (+-1): two pale colours
    assert changed_fraction(gradient, fc2) > 0.2


def test_pointer_readout_shows_the_value_under_the_pointer(page, lab_kernels):
    root, heatmap = open_explorer(page, lab_kernels)
    rendered(heatmap, "lab_readout_0")
    readout = root.locator(".nnviz-readout")
    image = heatmap.locator("image").first
    box = image.bounding_box()
    rows, columns = recordings.SHAPES["fc1"]
    expected = recordings.weight("fc1", recordings.SNAPSHOTS - 1)
    for row, column in ((3, 5), (9, 14)):
        x = box["x"] + (column + 0.5) * box["width"] / columns
        y = box["y"] + (row + 0.5) * box["height"] / rows
        page.mouse.move(x - 3, y - 3)
        page.mouse.move(x, y, steps=3)
        expect(readout).to_contain_text(f"row {row}, column {column}")
        text = readout.inner_text()
        match = re.search(r"weight\[(\d+), (\d+)\] = (\S+)", text)
        assert match, text
        assert (int(match[1]), int(match[2])) == (row, column)
        assert float(match[3]) == pytest.approx(float(expected[row, column]), abs=1e-5)
        shoot(root, f"lab_readout_{row}_{column}")


def test_nan_frame_shows_the_nan_colour_and_says_so(page, lab_kernels):
    open_notebook(page, lab_kernels, "explorer.ipynb")
    run_all(page)
    root = page.locator(".t-nan")
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    expect(root.locator(".nnviz-nonfinite")).to_contain_text("NaN")
    shot = rendered(heatmap, "lab_nan_heatmap")
    shoot(root, "lab_nan_explorer")

    image_box = heatmap.locator("image").first.bounding_box()
    figure_box = heatmap.bounding_box()
    rows, columns = recordings.SHAPES["fc1"]
    block_rows, block_columns = recordings.NAN_BLOCK
    # every cell of the NaN block is magenta at its centre; a cell outside it is not
    for row in range(block_rows.start, block_rows.stop):
        for column in range(block_columns.start, block_columns.stop):
            x = image_box["x"] - figure_box["x"] + (column + 0.5) * image_box["width"] / columns
            y = image_box["y"] - figure_box["y"] + (row + 0.5) * image_box["height"] / rows
            colour = shot[round(y), round(x)]
            assert np.abs(colour.astype(int) - NAN_COLOUR).max() <= 3, (row, column, colour)
    x = image_box["x"] - figure_box["x"] + (columns - 0.5) * image_box["width"] / columns
    y = image_box["y"] - figure_box["y"] + (rows - 0.5) * image_box["height"] / rows
    assert np.abs(shot[round(y), round(x)].astype(int) - NAN_COLOUR).max() > 30


def test_quickstart_trains_and_scrubs(page, lab_kernels):
    open_notebook(page, lab_kernels, "01_quickstart.ipynb")
    run_all(page, done_text="test accuracy after", timeout=240_000)
    root = page.locator(".nnviz-explorer").first
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    # the last cells show every probe image's saliency at the last epoch
    expect(heatmap).to_contain_text("saliency", timeout=60_000)
    before = rendered(heatmap, "lab_quickstart_1_saliency")
    shoot(root, "lab_quickstart_explorer")
    root.locator(".widget-hslider .noUi-handle").focus()
    page.keyboard.press("Home")
    expect(heatmap).to_contain_text("epoch 0")
    heatmap_changes(heatmap, before, "lab_quickstart_2_epoch0", minimum=0.02)


def test_playground_draws_and_follows_its_slider(page, lab_kernels):
    open_notebook(page, lab_kernels, "playground.ipynb")
    run_all(page, timeout=240_000)
    root = page.locator(".t-playground")
    graph = root.locator(".nnviz-playground-graph")
    boundary = root.locator(".nnviz-playground-boundary")
    boundary.scroll_into_view_if_needed()
    expect(root.locator(".widget-hslider .noUi-handle")).to_have_attribute("aria-valuenow", "4")
    shoot(root, "lab_playground_1_epoch4")
    graph_before = rendered(graph, "lab_playground_graph_epoch4")
    boundary_before = rendered(boundary, "lab_playground_boundary_epoch4")

    root.locator(".widget-hslider .noUi-handle").focus()
    page.keyboard.press("Home")
    heatmap_changes(boundary, boundary_before, "lab_playground_boundary_epoch0", minimum=0.02)
    heatmap_changes(graph, graph_before, "lab_playground_graph_epoch0", minimum=0.01)
    shoot(root, "lab_playground_2_epoch0")
