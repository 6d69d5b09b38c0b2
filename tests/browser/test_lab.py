"""The explorer and the Playground in JupyterLab, looked at as a person would: pixels and text.

Each test opens its notebook in a fresh workspace, runs it, acts through the page (keyboard,
pointer, dropdowns, buttons) and checks what is painted. Screenshots of each step go to
``tests/artifacts/``.

Pictures are compared on the heatmap's own ``<image>`` element, so a changed title or axis does
not count as a changed picture.
"""

from __future__ import annotations

import contextlib
import re
import time

import numpy as np
import pytest

from tests.browser.helpers import (
    ARTIFACTS,
    changed_fraction,
    expect,
    open_notebook,
    picture_changes,
    rendered,
    run_all,
    shoot,
    slider_handle,
    wait_for_picture,
    wait_for_range_growth,
)
from tests.browser.notebooks import recordings

pytestmark = pytest.mark.browser

NAN_COLOUR = (255, 0, 255)  # nnviz_widgets.render.colour.NAN_COLOUR, as the NaN line documents
LAST = recordings.SNAPSHOTS - 1


def open_explorer(page, lab, root_class: str = "t-main"):
    """Open and run explorer.ipynb; returns the explorer's root, heatmap figure and picture."""
    open_notebook(page, lab, "explorer.ipynb")
    run_all(page)
    root = page.locator(f".{root_class}")
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    return root, heatmap, heatmap.locator("image").first


# ---------------------------------------------------------------------------- explorer
def test_explorer_renders_the_latest_snapshot(page, lab_kernels):
    root, heatmap, image = open_explorer(page, lab_kernels)
    expect(root.locator(".t-epoch")).to_contain_text(
        f"epoch {LAST} · snapshot {recordings.SNAPSHOTS} of {recordings.SNAPSHOTS}"
    )
    expect(heatmap).to_contain_text(f"fc1 · weight · epoch {LAST}")
    rendered(image, "lab_explorer_1_picture")
    shoot(root, "lab_explorer_1_whole")
    page.screenshot(path=ARTIFACTS / "lab_explorer_1_page.png")


def test_keyboard_moves_the_slider_label_and_title(page, lab_kernels):
    root, heatmap, _ = open_explorer(page, lab_kernels)
    label = root.locator(".t-epoch")
    slider_handle(root).focus()
    page.keyboard.press("ArrowLeft")
    expect(label).to_contain_text(f"epoch {LAST - 1} · snapshot {LAST} of")
    expect(heatmap).to_contain_text(f"fc1 · weight · epoch {LAST - 1}")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(label).to_contain_text(f"epoch {LAST - 3} ")
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(rf"^{LAST - 3}"))
    shoot(root, "lab_keyboard_epoch2")


def test_keyboard_scrub_repaints_the_picture(page, lab_kernels):
    root, heatmap, image = open_explorer(page, lab_kernels)
    before = rendered(image, "lab_scrub_1_latest")
    slider_handle(root).focus()
    page.keyboard.press("ArrowLeft")
    expect(heatmap).to_contain_text(f"epoch {LAST - 1}")
    picture_changes(image, before, "lab_scrub_2_previous")


def test_play_advances_the_slider_and_label(page, lab_kernels):
    root, _, _ = open_explorer(page, lab_kernels)
    label = root.locator(".t-epoch")
    slider_handle(root).focus()
    page.keyboard.press("Home")
    expect(label).to_contain_text("epoch 0 ")
    root.locator(".widget-play button").first.click()  # the play button
    # no intermediate epoch is asserted: the page may merge quick steps and skip some labels
    expect(label).to_contain_text(f"epoch {LAST} ", timeout=15_000)
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(rf"^{LAST}"))
    shoot(root, "lab_play_end")


def test_play_repaints_the_picture(page, lab_kernels):
    root, heatmap, image = open_explorer(page, lab_kernels)
    slider_handle(root).focus()
    page.keyboard.press("Home")
    expect(heatmap).to_contain_text("epoch 0")
    start = shoot(image, "lab_play_picture_0")
    root.locator(".widget-play button").first.click()
    expect(heatmap).to_contain_text(f"epoch {LAST}", timeout=15_000)
    picture_changes(image, start, "lab_play_picture_end")


def test_dropdowns_change_layer_and_quantity(page, lab_kernels):
    root, heatmap, _ = open_explorer(page, lab_kernels)
    root.locator(".t-layer select").select_option("fc2")
    expect(heatmap).to_contain_text(f"fc2 · weight · epoch {LAST}")
    shoot(root, "lab_select_1_fc2_weight")
    root.locator(".t-quantity select").select_option("weight_grad")
    expect(heatmap).to_contain_text(f"fc2 · weight_grad · epoch {LAST}")
    shoot(root, "lab_select_2_fc2_weight_grad")


def test_dropdowns_change_the_picture(page, lab_kernels):
    root, heatmap, image = open_explorer(page, lab_kernels)
    weight = rendered(image, "lab_select_picture_1_weight")
    root.locator(".t-quantity select").select_option("weight_grad")
    expect(heatmap).to_contain_text("fc1 · weight_grad")
    # a checkerboard of +-1/6 against a smooth pattern: most pixels differ
    picture_changes(image, weight, "lab_select_picture_2_weight_grad", minimum=0.3)


def test_pointer_readout_shows_the_value_under_the_pointer(page, lab_kernels):
    root, _, image = open_explorer(page, lab_kernels)
    rendered(image, "lab_readout_0")
    readout = root.locator(".nnviz-readout")
    rows, columns = recordings.SHAPES["fc1"]
    expected = recordings.weight("fc1", LAST)
    for row, column in ((3, 5), (9, 14)):
        image.scroll_into_view_if_needed()
        box = image.bounding_box()  # anew: a screenshot of the whole explorer may scroll
        x = box["x"] + (column + 0.5) * box["width"] / columns
        y = box["y"] + (row + 0.5) * box["height"] / rows
        page.mouse.move(x - 4, y - 4)
        page.mouse.move(x, y, steps=4)
        expect(readout).to_contain_text(f"row {row}, column {column}")
        text = readout.inner_text()
        match = re.search(r"weight\[(\d+), (\d+)\] = (\S+)", text)
        assert match, text
        assert (int(match[1]), int(match[2])) == (row, column)
        assert float(match[3]) == pytest.approx(float(expected[row, column]), abs=1e-5)
        shoot(root, f"lab_readout_row{row}_column{column}")


def test_pointer_readout_reaches_single_cells_of_a_large_picture(page, lab_kernels):
    """200 x 200 values: the block under the pointer first, a single value on the next moves."""
    root, _, image = open_explorer(page, lab_kernels, root_class="t-large")
    rendered(image, "lab_readout_large_0")
    readout = root.locator(".nnviz-readout")
    size, (row, column) = 200, (137, 58)
    expected = recordings.square_recording(size, 3, seed=1).frame("fc", "weight", 2)
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    x = box["x"] + (column + 0.5) * box["width"] / size
    y = box["y"] + (row + 0.5) * box["height"] / size
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=6)
    expect(readout).to_contain_text(re.compile(r"rows \d+.\d+, columns \d+.\d+ \(\d+ values\)"))
    # each move inside the block lands on the finer markers laid over it, down to one cell
    # (a cell is ~2.4 pixels: the pointer stays inside it)
    exact = f"row {row}, column {column}"
    for step in range(12):
        page.mouse.move(x + (0.4 if step % 2 else -0.4), y)
        with contextlib.suppress(AssertionError):
            expect(readout).to_contain_text(exact, timeout=1000)
            break
    expect(readout).to_contain_text(exact, timeout=1000)
    match = re.search(r"weight\[(\d+), (\d+)\] = (\S+)", readout.inner_text())
    assert match and (int(match[1]), int(match[2])) == (row, column), readout.inner_text()
    assert float(match[3]) == pytest.approx(float(expected[row, column]), abs=1e-5)
    shoot(root, "lab_readout_large_cell")


def test_nan_frame_shows_the_nan_colour_and_says_so(page, lab_kernels):
    root, _, image = open_explorer(page, lab_kernels, root_class="t-nan")
    expect(root.locator(".nnviz-nonfinite")).to_contain_text("NaN")
    expect(root.locator(".nnviz-nonfinite")).to_contain_text("magenta")
    shot = rendered(image, "lab_nan_picture")
    shoot(root, "lab_nan_explorer")
    rows, columns = recordings.SHAPES["fc1"]
    height, width = shot.shape[:2]
    block_rows, block_columns = recordings.NAN_BLOCK

    def colour(row: int, column: int) -> np.ndarray:
        return shot[int((row + 0.5) * height / rows), int((column + 0.5) * width / columns)]

    for row in range(block_rows.start, block_rows.stop):
        for column in range(block_columns.start, block_columns.stop):
            found = colour(row, column).astype(int)
            assert np.abs(found - NAN_COLOUR).max() <= 3, (row, column, found)
    assert np.abs(colour(rows - 1, columns - 1).astype(int) - NAN_COLOUR).max() > 30


def test_explorer_follows_a_training_cell_then_scrubs_and_reads(page, lab_kernels):
    """Live: the page follows the snapshots a running cell takes; then scrub back and hover."""
    open_notebook(page, lab_kernels, "live.ipynb")
    # not awaited: the command's promise ends only when every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    root = page.locator(".t-live")
    title = root.locator(".nnviz-heatmap .mainheading")
    expect(title).to_contain_text("epoch", timeout=60_000)
    # while the training cell runs, the page follows each snapshot (kernel -> browser)
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "epoch 7" not in (seen or [""])[-1]:
        text = title.text_content() or ""
        if not seen or text != seen[-1]:
            seen.append(text)
        time.sleep(0.1)
    assert "epoch 7" in seen[-1], seen
    assert len([t for t in seen if "epoch" in t]) >= 4, seen  # drawn before the loop ended
    page.locator(".jp-OutputArea-output:has-text('all cells ran')").wait_for(timeout=60_000)
    # scrub back with the keyboard (browser -> kernel -> browser): follow latest turns off
    slider_handle(root).focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(title).to_contain_text("epoch 5")
    expect(root.locator(".widget-checkbox input")).not_to_be_checked()
    # the value under the pointer, at the snapshot on screen
    image = root.locator(".nnviz-heatmap image").first
    box = image.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.mouse.move(box["x"] + box["width"] * 0.51, box["y"] + box["height"] * 0.52, steps=3)
    expect(root.locator(".nnviz-readout")).to_contain_text("weight[")
    shoot(root, "lab_live_scrubbed_hover")
    # the log-scale figures, shown before the first snapshot, have their axes and titles
    for figure in (".nnviz-gradnorm", ".nnviz-gradhistory"):
        expect(root.locator(f"{figure} .axis")).to_have_count(2)
    expect(root.locator(".nnviz-gradnorm .mainheading")).to_have_text("no gradient norms recorded")


def test_explorer_trains_from_its_buttons_while_the_user_scrubs(page, lab_kernels):
    """Train from the widget: the slider's range grows while the user looks at epoch 0."""
    open_notebook(page, lab_kernels, "train.ipynb")
    run_all(page)
    root = page.locator(".t-train")
    handle = slider_handle(root)
    label = root.locator(".widget-html").filter(has_text="snapshot")
    title = root.locator(".nnviz-heatmap .mainheading")
    root.get_by_role("button", name="Train").click()
    wait_for_range_growth(page, handle)  # from 0: three epochs trained
    handle.focus()
    page.keyboard.press("Home")
    expect(label.first).to_contain_text("snapshot 1 of")
    expect(title).to_contain_text("epoch 0")
    expect(root.locator(".widget-checkbox input")).not_to_be_checked()  # follow latest off
    # training goes on: the range grows, the user's place and picture stay
    wait_for_range_growth(page, handle)
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^0(\.0)?$"))
    expect(title).to_contain_text("epoch 0")
    page.keyboard.press("ArrowRight")
    expect(title).to_contain_text("epoch 1")
    expect(label.first).to_contain_text("snapshot 2 of")
    shoot(root, "lab_train_scrubbed_while_training")
    root.get_by_role("button", name="Pause").click()
    expect(root.get_by_text("paused after")).to_be_visible(timeout=30_000)


def test_layer_picker_filters_picks_and_follows_a_gradient_click(page, lab_kernels):
    """43 layers: the filter narrows the layer dropdown without changing the picture, a full
    name selects its layer, and a click on the gradient chart selects the layer clicked."""
    open_notebook(page, lab_kernels, "picker.ipynb")
    run_all(page)
    root = page.locator(".t-picker")
    title = root.locator(".nnviz-heatmap .mainheading")
    where, search = root.locator(".nnviz-layer-where"), root.locator(".nnviz-layer-search input")
    layers = root.locator(".nnviz-layer select")
    expect(title).to_contain_text("stem · weight")
    expect(layers.locator("option")).to_have_count(43)
    search.fill("blocks.3")
    expect(layers.locator("option")).to_have_count(6)  # block 3's five, and stem (selected)
    expect(where).to_contain_text("5 of 43 listed")
    expect(title).to_contain_text("stem · weight")
    layers.select_option("blocks.3.conv2 · Conv2d")
    expect(title).to_contain_text("blocks.3.conv2 · weight")
    expect(where).to_contain_text("blocks › 3 › conv2 · Conv2d")
    shoot(root, "lab_picker_1_filtered")
    search.fill("blocks.6.norm1")  # a layer's full name selects it
    expect(title).to_contain_text("blocks.6.norm1 · weight")
    search.fill("")
    expect(layers.locator("option")).to_have_count(43)
    # the first point across layers is the model's own parameter
    root.locator(".nnviz-gradnorm").scroll_into_view_if_needed()
    root.locator(".nnviz-gradnorm .object_grp").first.click()
    expect(title).to_contain_text("(model) · scale")
    expect(layers).to_have_value("(model) · Net")
    expect(root.locator(".nnviz-gradhistory .mainheading")).to_contain_text("(model)")
    shoot(root, "lab_picker_2_model_clicked")


# ---------------------------------------------------------------------------- quickstart
def run_quickstart(page, lab):
    open_notebook(page, lab, "01_quickstart.ipynb")
    run_all(page, done_text="test accuracy after", timeout=240_000)
    root = page.locator(".nnviz-explorer").first
    heatmap = root.locator(".nnviz-heatmap")
    heatmap.scroll_into_view_if_needed()
    # the last cells show every probe image's saliency at the last epoch
    expect(heatmap).to_contain_text("input · saliency", timeout=60_000)
    return root, heatmap, heatmap.locator("image").first


def test_quickstart_trains_live_and_scrubs(page, lab_kernels):
    root, heatmap, _ = run_quickstart(page, lab_kernels)
    label = root.locator(".widget-html").filter(has_text="snapshot")
    expect(label.first).to_contain_text("snapshot 6 of 6")
    shoot(root, "lab_quickstart_1_explorer")
    slider_handle(root).focus()
    page.keyboard.press("Home")
    expect(heatmap).to_contain_text("epoch 0")
    expect(label.first).to_contain_text("snapshot 1 of 6")
    shoot(root, "lab_quickstart_2_epoch0")


def test_quickstart_picture_is_drawn(page, lab_kernels):
    _, _, image = run_quickstart(page, lab_kernels)
    rendered(image, "lab_quickstart_picture")


# ---------------------------------------------------------------------------- playground
def open_playground(page, lab):
    open_notebook(page, lab, "playground.ipynb")
    run_all(page, timeout=240_000)
    root = page.locator(".t-playground")
    root.locator(".nnviz-playground-boundary").scroll_into_view_if_needed()
    # six epochs were trained and the slider followed them
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(r"^6"))
    return root


def test_playground_draws_graph_and_boundary_and_follows_its_slider(page, lab_kernels):
    root = open_playground(page, lab_kernels)
    shoot(root, "lab_playground_1_epoch6")
    rendered(root.locator(".nnviz-playground-graph image").first, "lab_playground_graph")
    rendered(root.locator(".nnviz-playground-boundary image").first, "lab_playground_boundary")
    losses = root.locator(".nnviz-playground-losses")
    before = rendered(losses, "lab_playground_losses_epoch6", colours=3)
    slider_handle(root).focus()
    page.keyboard.press("Home")
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(r"^0"))
    # the dashed marker on the loss curves moves to epoch 0
    picture_changes(losses, before, "lab_playground_losses_epoch0", minimum=0.002)
    shoot(root, "lab_playground_2_epoch0")


def test_playground_slider_repaints_the_boundary(page, lab_kernels):
    root = open_playground(page, lab_kernels)
    boundary = root.locator(".nnviz-playground-boundary image").first
    before = rendered(boundary, "lab_playground_boundary_before")
    slider_handle(root).focus()
    page.keyboard.press("Home")
    picture_changes(boundary, before, "lab_playground_boundary_epoch0", minimum=0.02)


def test_playground_quick_presses_end_on_the_right_picture(page, lab_kernels):
    """Eight quick presses after Home: the last one reaches the kernel and the screen."""
    root = open_playground(page, lab_kernels)
    boundary = root.locator(".nnviz-playground-boundary image").first
    readout = root.locator(".widget-html").filter(has_text=re.compile(r"epoch \d+ of \d+"))
    expect(readout).to_contain_text("epoch 6 of 6")
    trained = rendered(boundary, "lab_playground_quick_trained")
    handle = slider_handle(root)
    handle.focus()
    page.keyboard.press("Home")
    expect(readout).to_contain_text("epoch 0 of 6")
    picture_changes(boundary, trained, "lab_playground_quick_epoch0", minimum=0.02)
    handle.focus()
    for _ in range(8):  # two more than there are epochs: the slider stops at 6
        page.keyboard.press("ArrowRight")
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^6(\.0)?$"))
    expect(readout).to_contain_text("epoch 6 of 6")
    # the same picture as before scrubbing (the image loads after the text: wait for it)
    again = wait_for_picture(
        boundary, "lab_playground_quick_again", lambda shot: changed_fraction(shot, trained) == 0
    )
    assert again is not None, "back at epoch 6, the boundary differs from before"


def test_playground_trains_from_its_buttons_while_the_user_scrubs(page, lab_kernels):
    """Play trains in the background: the slider's range grows, and the user can scrub back.

    Training adds dozens of epochs a second here and the slider follows the newest: a press
    made while following may start from a value that just moved (ipywidgets applies the
    kernel's update over an edit still on its way; nnviz_widgets/widgets/playground/ throttles
    following to make that rare). So the test, like a person, sees Home land first; from then
    on training no longer moves the value, and every press must land exactly.
    """
    root = open_playground(page, lab_kernels)
    handle = slider_handle(root)
    state = root.locator(".widget-label").filter(has_text="training:")
    root.get_by_role("button", name="Play").click()
    expect(state).to_contain_text("running")
    wait_for_range_growth(page, handle)
    readout = root.locator(".widget-html").filter(has_text=re.compile(r"epoch \d+ of \d+"))
    handle.focus()
    page.keyboard.press("Home")
    expect(readout).to_contain_text(re.compile(r"epoch 0 of \d+"))
    for value in (1, 2):
        page.keyboard.press("ArrowRight")
        expect(handle).to_have_attribute("aria-valuenow", re.compile(rf"^{value}(\.0)?$"))
    expect(readout).to_contain_text(re.compile(r"epoch 2 of \d+"))
    shoot(root, "lab_playground_3_training_scrubbed")
    root.get_by_role("button", name="Pause").click()
    expect(state).to_contain_text("paused", timeout=30_000)


def test_playground_follows_quick_key_presses_during_training(page, lab_kernels):
    """Three quick presses while training: slider, picture and readout all end at epoch 3,
    and the range keeps growing while the user stays there (both once failed now and then:
    the training thread held the kernel thread's notifications, see Playground._on_epoch).
    Home is seen to land first, as in the test above."""
    root = open_playground(page, lab_kernels)
    handle = slider_handle(root)
    readout = root.locator(".widget-html").filter(has_text=re.compile(r"epoch \d+ of \d+"))
    root.get_by_role("button", name="Play").click()
    handle.focus()
    page.keyboard.press("Home")
    expect(readout).to_contain_text(re.compile(r"epoch 0 of \d+"))
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^3(\.0)?$"))
    try:
        expect(readout).to_contain_text(re.compile(r"epoch 3 of \d+"), timeout=10_000)
        # and the range keeps growing while the user stays at 3
        wait_for_range_growth(page, handle, timeout=20_000)
        expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^3(\.0)?$"))
    finally:
        shoot(root, "lab_playground_4_quick_presses")
        root.get_by_role("button", name="Pause").click()
