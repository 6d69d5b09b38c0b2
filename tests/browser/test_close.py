"""An explorer closed from a cell keeps its controls and scrubs, in JupyterLab (issue 13).

``close()`` stops training and releases the hooks; it closes no widget unless
``close(widget=True)``. The closed explorer's training row (Train, Pause, Step, Stop) stays on
screen, disabled, saying that training is closed, and the slider still moves the picture.
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

pytestmark = pytest.mark.browser


def test_a_closed_explorer_keeps_its_controls_and_scrubs(page, lab_kernels):
    open_notebook(page, lab_kernels, "closed.ipynb")
    run_all(page)
    root = page.locator(".t-closed")
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    label = root.locator(".t-epoch")
    expect(label).to_contain_text("epoch 2 · snapshot 3 of 3")
    # the training row is on screen, every button disabled, the status saying why
    training = root.locator(".nnviz-training")
    expect(training).to_be_visible()
    expect(training.locator(".nnviz-training-status")).to_contain_text("closed after 2 epoch(s)")
    for name in ("train", "pause", "step", "stop"):
        expect(training.locator(f".nnviz-{name}")).to_be_disabled()
    image = heatmap.locator("image").first
    before = rendered(image, "lab_closed_1_epoch2")
    shoot(root, "lab_closed_1_whole")
    handle = slider_handle(root)
    handle.focus()
    expect(handle).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(label).to_contain_text("epoch 1 · snapshot 2 of 3")
    expect(heatmap).to_contain_text("0 · weight · epoch 1")
    picture_changes(image, before, "lab_closed_2_epoch1", minimum=0.2)
