"""Comparing runs in JupyterLab, looked at as a person would: two pictures, one slider.

The notebook (``notebooks/compare.ipynb``) compares two hand-made runs whose pictures move from
snapshot to snapshot. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import pytest

from tests.browser.helpers import (
    expect,
    open_notebook,
    picture_changes,
    rendered,
    run_all,
    shoot,
    slider_handle,
)
from tests.browser.notebooks import recordings

pytestmark = pytest.mark.browser

LAST = recordings.SNAPSHOTS - 1


def test_the_slider_moves_both_pictures(page, lab_kernels):
    open_notebook(page, lab_kernels, "compare.ipynb")
    run_all(page)
    root = page.locator(".t-compare")
    heatmaps = root.locator(".nnviz-heatmap")
    expect(heatmaps).to_have_count(2)
    root.scroll_into_view_if_needed()
    for k, name in enumerate(("first", "second")):
        expect(heatmaps.nth(k)).to_contain_text(f"{name} · fc1 · weight · epoch {LAST}")
    expect(root.locator(".nnviz-colour-bar")).to_have_count(1)  # one bar: one range
    images = [heatmaps.nth(k).locator("image").first for k in range(2)]
    before = [rendered(image, f"lab_compare_1_run{k}") for k, image in enumerate(images)]
    shoot(root, "lab_compare_1_whole")
    slider_handle(root).focus()
    page.keyboard.press("ArrowLeft")
    expect(root.locator(".t-epoch")).to_contain_text(f"epoch {LAST - 1} · {LAST} of")
    for k, name in enumerate(("first", "second")):
        expect(heatmaps.nth(k)).to_contain_text(f"{name} · fc1 · weight · epoch {LAST - 1}")
        picture_changes(images[k], before[k], f"lab_compare_2_run{k}")
    # the overlaid metrics name both runs in their legend
    metrics = root.locator(".nnviz-compare-metrics")
    expect(metrics).to_contain_text("first")
    expect(metrics).to_contain_text("second")
    shoot(root, "lab_compare_2_whole")
    # difference: one picture, the first run minus the second, with its colour bar
    root.locator(".nnviz-compare-mode select").select_option("difference")
    expect(heatmaps).to_have_count(1)
    expect(heatmaps.first).to_contain_text(f"first - second · fc1 · weight · epoch {LAST - 1}")
    rendered(heatmaps.first.locator("image").first, "lab_compare_3_difference")
    expect(root.locator(".nnviz-colour-bar")).to_have_count(1)
    shoot(root, "lab_compare_3_whole")
