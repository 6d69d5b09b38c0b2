"""A page written by save_html, opened from disk in Chromium with the network cut: it must load
nothing, log no error, and scrub (slider, keys) and read values under the pointer by itself."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnviz_widgets.recording import Recording, SnapshotData
from nnviz_widgets.widgets.explorer import TrainingExplorer

pytestmark = pytest.mark.browser


def _recording(rng) -> Recording:
    recording = Recording()
    recording.set_layers(
        {"conv": {"type": "Conv2d", "calls": 1}, "fc": {"type": "Linear", "calls": 1}}
    )
    for epoch in range(5):
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=10 * epoch,
                frames={
                    ("conv", "weight"): rng.normal(size=(4, 1, 3, 3)),
                    ("fc", "weight"): rng.normal(size=(6, 8)) * (epoch + 1),
                },
                metrics={"loss": 2.0 / (epoch + 1), "accuracy": epoch / 5},
            )
        )
    return recording


@pytest.fixture
def offline_page(chromium):
    """A page in its own context with the network off; every request other than the file
    itself is aborted and remembered, and every console error or uncaught exception fails."""
    context = chromium.new_context(viewport={"width": 1200, "height": 1000})
    context.set_default_timeout(10_000)
    context.set_offline(True)
    attempted: list[str] = []

    def only_files(route) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(url)
            route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert attempted == [], f"the page tried to load: {attempted}"
    outside = [url for url in requested if not url.startswith(("file://", "data:"))]
    assert outside == [], f"requests beyond the file: {outside}"
    assert errors == [], "errors in the page:\n" + "\n".join(errors)


def test_saved_page_scrubs_offline(offline_page, rng, tmp_path):
    recording = _recording(rng)
    explorer = TrainingExplorer(recording)
    try:
        explorer.layer = "fc"
        explorer.save_html(tmp_path / "run.html", layers=["fc", "conv"])
    finally:
        explorer.close(widget=True)
    page = offline_page
    page.goto((tmp_path / "run.html").as_uri())
    page.wait_for_selector("body[data-ready='1']")
    epoch = page.locator("#epoch")
    picture = page.locator("#view-0 .picture")
    assert epoch.inner_text().startswith("epoch 4 \u00b7 snapshot 5 of 5")
    assert page.locator("#view-0 h2").inner_text() == "fc \u00b7 weight"
    assert page.locator("#view-1 h2").inner_text() == "conv \u00b7 weight"

    seen = {picture.get_attribute("src")}  # epoch 4; then 0, 1, 2 and 3: five pictures
    page.keyboard.press("Home")  # keys work wherever the focus is on the page
    assert epoch.inner_text().startswith("epoch 0 ")
    seen.add(picture.get_attribute("src"))
    page.keyboard.press("ArrowRight")
    assert epoch.inner_text().startswith("epoch 1 ")
    seen.add(picture.get_attribute("src"))
    slider = page.locator("#snapshot")
    slider.focus()  # the slider itself, moved from the keyboard
    page.keyboard.press("ArrowRight")
    assert slider.input_value() == "2" and epoch.inner_text().startswith("epoch 2 ")
    seen.add(picture.get_attribute("src"))
    slider.fill("3")  # as a drag sets it
    assert epoch.inner_text().startswith("epoch 3 ")
    seen.add(picture.get_attribute("src"))
    assert len(seen) == 5 and all(src.startswith("data:image/png;base64,") for src in seen)
    assert page.locator("#view-0 .title").inner_text() == "fc \u00b7 weight \u00b7 epoch 3"
    chart_value = page.locator("#metrics-chart g.strip .value").first.text_content()
    assert chart_value == " = 0.5"  # loss 2/(3+1) at the snapshot shown

    # the value under the pointer: row 2, column 5 of the 6x8 weight at epoch 3
    box = picture.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 5.5 / 8, box["y"] + box["height"] * 2.5 / 6)
    readout = page.locator("#view-0 .readout").inner_text()
    found = re.fullmatch(r"row 2, column 5 \u2192 weight\[2, 5\] = (\S+)", readout)
    assert found, readout
    expected = recording.frame("fc", "weight", 3)[2, 5]
    assert float(found.group(1)) == pytest.approx(expected, rel=1e-5)
    box = page.locator("#view-1 .picture").bounding_box()  # conv's kernels: a mosaic
    page.mouse.move(box["x"] + box["width"] * 5.5 / 7, box["y"] + box["height"] * 1.5 / 7)
    readout = page.locator("#view-1 .readout").inner_text()
    assert readout.startswith("row 1, column 5 \u2192 weight[1, 0, 1, 1] = "), readout
    expected = recording.frame("conv", "weight", 3)[1, 0, 1, 1]
    assert float(readout.rsplit("= ", 1)[1]) == pytest.approx(expected, rel=1e-5)
    page.mouse.move(box["x"] + box["width"] * 3.5 / 7, box["y"] + box["height"] * 1.5 / 7)
    assert page.locator("#view-1 .readout").inner_text() == "row 1, column 3: gap between tiles"
    box = picture.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 5.5 / 8, box["y"] + box["height"] * 2.5 / 6)
    page.keyboard.press("End")  # the readout follows the snapshot under a still pointer
    expected = recording.frame("fc", "weight", 4)[2, 5]
    readout = page.locator("#view-0 .readout").inner_text()
    assert float(readout.rsplit("= ", 1)[1]) == pytest.approx(expected, rel=1e-5)
    assert np.isfinite(expected)


def test_saved_comparison_scrubs_every_run_offline(offline_page, rng, tmp_path):
    import nnviz_widgets as nv

    runs = {"lr=0.1": _recording(rng), "lr=1.0": _recording(rng)}
    with nv.TrainingExplorer(runs) as comparison:
        comparison.layer = "fc"
        comparison.save_html(tmp_path / "runs.html", layers=["fc", "conv"], progress=False)
    page = offline_page
    page.goto((tmp_path / "runs.html").as_uri())
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("div.views").count() == 2  # a row of runs per view
    assert page.locator("#view-0 h2").inner_text() == "lr=0.1 \u00b7 fc \u00b7 weight"
    assert page.locator("#view-1 h2").inner_text() == "lr=1.0 \u00b7 fc \u00b7 weight"
    # the runs of a row side by side: same top, the second to the right of the first
    first, second = (page.locator(f"#view-{v}").bounding_box() for v in (0, 1))
    assert first["y"] == second["y"] and second["x"] > first["x"] + first["width"] / 2
    pictures = [page.locator(f"#view-{v} .picture") for v in range(4)]
    before = [picture.get_attribute("src") for picture in pictures]
    page.locator("#snapshot").fill("1")  # one slider moves every run's picture
    assert page.locator("#epoch").inner_text().startswith("epoch 1 ")
    after = [picture.get_attribute("src") for picture in pictures]
    assert all(b != a for b, a in zip(before, after, strict=True)), "a picture did not move"
    titles = [page.locator(f"#view-{v} .title").inner_text() for v in (0, 1)]
    assert titles == [
        "lr=0.1 \u00b7 fc \u00b7 weight \u00b7 epoch 1",
        "lr=1.0 \u00b7 fc \u00b7 weight \u00b7 epoch 1",
    ]
