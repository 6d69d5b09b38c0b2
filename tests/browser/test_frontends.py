"""The explorer's core path in Notebook 7 and in Voilà: it renders, and the slider moves it.

``app.ipynb`` shows one explorer on a hand-made recording; Notebook 7 runs it like JupyterLab
does, Voilà serves it as an app (no code cells, the kernel runs it on page load). Voilà also
serves the quickstart notebook itself: Voilà builds the widgets only once the whole notebook
ran, after its last cells closed the explorers, so a widget closed by ``close()`` would leave
the page at "Loading widget..." (issue 13).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.helpers import (
    ARTIFACTS,
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


def open_app(page, server):
    """Open app.ipynb in Notebook 7 (and run it) or in Voilà; returns (root, heatmap, image)."""
    if server.kind == "voila":
        page.goto(server.url(""))
    else:
        open_notebook(page, server, "app.ipynb")
        run_all(page)
    root = page.locator(".t-main")
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.wait_for(timeout=120_000)
    heatmap.scroll_into_view_if_needed()
    return root, heatmap, heatmap.locator("image").first


@pytest.fixture(params=["notebook7", "voila"])
def frontend(request, page):
    server = request.getfixturevalue(
        "notebook7_kernels" if request.param == "notebook7" else "voila"
    )
    return server, page


def scrub(page, root, key: str) -> None:
    """Press ``key`` on the slider's handle, once it has the focus."""
    handle = slider_handle(root)
    handle.focus()
    expect(handle).to_be_focused()
    page.keyboard.press(key)


def back_key(server) -> tuple[str, int]:
    """A key that moves the slider back from the newest snapshot, and the snapshot it reaches.

    Notebook 7 keeps the arrow keys for itself (moving between cells) even with the slider's
    handle focused; Page Down (five steps back) still reaches the slider there.
    """
    if server.kind == "notebook":
        return "PageDown", max(LAST - 5, 0)
    return "ArrowLeft", LAST - 1


def test_explorer_renders_and_slider_moves_it(frontend):
    server, page = frontend
    name = "nb7" if server.kind == "notebook" else "voila"
    root, heatmap, image = open_app(page, server)
    label = root.locator(".t-epoch")
    expect(label).to_contain_text(f"of {recordings.SNAPSHOTS} ")  # any snapshot
    rendered(image, f"{name}_1_picture")
    page.screenshot(path=ARTIFACTS / f"{name}_1_page.png")
    scrub(page, root, "End")
    expect(label).to_contain_text(f"epoch {LAST} · snapshot {recordings.SNAPSHOTS} of")
    expect(heatmap).to_contain_text(f"fc1 · weight · epoch {LAST}")
    key, reached = back_key(server)
    scrub(page, root, key)
    expect(label).to_contain_text(f"epoch {reached} · snapshot {reached + 1} of")
    expect(heatmap).to_contain_text(f"fc1 · weight · epoch {reached}")
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(rf"^{reached}"))
    shoot(root, f"{name}_2_epoch{reached}")


def test_slider_repaints_the_picture(frontend):
    server, page = frontend
    name = "nb7" if server.kind == "notebook" else "voila"
    root, heatmap, image = open_app(page, server)
    scrub(page, root, "End")
    expect(heatmap).to_contain_text(f"epoch {LAST}")
    before = rendered(image, f"{name}_repaint_1")
    key, reached = back_key(server)
    scrub(page, root, key)
    expect(heatmap).to_contain_text(f"epoch {reached}")
    picture_changes(image, before, f"{name}_repaint_2")


def test_run_all_reaches_the_end_in_notebook7(page, notebook7_kernels):
    """Notebook 7 runs a whole test notebook, widgets and all (the same helper as in Lab)."""
    open_notebook(page, notebook7_kernels, "explorer.ipynb")
    run_all(page)
    expect(page.locator(".t-nan .nnviz-nonfinite")).to_contain_text("NaN")


# Voila builds every widget from its final state at once and runs the Play-slider jslink:
# the explorer keeps Play's value equal to the slider's, so the page opens at the newest.
def test_voila_opens_at_the_newest_snapshot(page, voila):
    root, _, _ = open_app(page, voila)
    expect(root.locator(".t-epoch")).to_contain_text(
        f"epoch {LAST} · snapshot {recordings.SNAPSHOTS} of"
    )


def test_voila_serves_the_quickstart_and_its_closed_explorers_render_and_scrub(
    page, voila_quickstart
):
    # the page comes once the notebook ran: it trains LeNet-5 for five epochs, then three
    page.goto(voila_quickstart.url(""), timeout=600_000)
    explorers = page.locator(".nnviz-explorer")
    expect(explorers).to_have_count(2, timeout=120_000)
    first, live = explorers.nth(0), explorers.nth(1)
    heatmap = first.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    expect(heatmap).to_contain_text("input · saliency · epoch 5")  # what its cells left
    image = heatmap.locator("image").first
    before = rendered(image, "voila_quickstart_1_epoch5")
    page.screenshot(path=ARTIFACTS / "voila_quickstart_1_page.png")
    scrub(page, first, "Home")  # the untrained network
    expect(heatmap).to_contain_text("input · saliency · epoch 0")
    picture_changes(image, before, "voila_quickstart_2_epoch0")
    # the explorer trained from its buttons: closed in the last cell, its training row stays
    live.scroll_into_view_if_needed()
    status = live.locator(".nnviz-training-status")
    expect(status).to_contain_text("closed after 3 epoch(s)")
    expect(live.locator(".nnviz-train")).to_be_disabled()
    rendered(live.locator(".nnviz-heatmap image").first, "voila_quickstart_3_live")
    shoot(live, "voila_quickstart_3_live_whole")
