"""End-to-end scrub latency in a real browser: slider key press to the new picture on screen.

JupyterLab and a headless Chromium (``/usr/bin/chromium``) run on this machine. One notebook
shows, per size (16^2, 256^2, 1024^2 values, one Linear weight per snapshot, from a hand-made
Recording), a ``TrainingExplorer`` and what users write today: ``ipywidgets.interact`` over a
matplotlib ``imshow`` of the same frames. For each widget the slider handle gets the focus and the
right-arrow key is pressed, 30 times after 2 warm-up presses, 0.3 s apart (a person stepping).

A move is timed in the page: from the ``keydown`` event (a capturing listener) to the first
animation frame after the picture element's source changed (a MutationObserver on the widget;
the explorer's SVG ``<image>`` gets a new blob URL, matplotlib's ``<img>`` a new data URL) and the
new image decoded. So it covers the message to the kernel, the kernel's work, the message back,
decoding and the next frame.

The explorer as shipped does not repaint its picture (bqplot's Image view redraws only when the
mark's ``image`` trait changes, and the explorer changes the ``value`` of the same
``ipywidgets.Image``): this benchmark checks that once, then measures the explorer with the
fix the tests suggest applied in the kernel (two ``ipywidgets.Image`` buffers, the mark pointed
at the freshly written one), the way the explorer would behave once it is fixed.

Run: ``python -m benchmarks.bench_browser``; ``run()`` returns the Markdown section.
"""

from __future__ import annotations

import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SIZES = (16, 256, 1024)
WARMUP = 2
MOVES = 30
SNAPSHOTS = WARMUP + MOVES + 1
PAUSE = 0.3  # seconds between key presses
TIMEOUT_MS = 15_000

_SETUP = f"""\
import types

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np

import nnviz_widgets as nv
from tests.browser.notebooks.recordings import square_recording

SIZES = {SIZES!r}
recordings = {{size: square_recording(size, {SNAPSHOTS}, seed=size) for size in SIZES}}


def swap_show(self, *args, **kwargs):
    # the fix under test: write the PNG into a spare Image widget, then point the mark at it
    spare = self.__dict__.get("_spare") or ipywidgets.Image(format="png")
    shown, self.png = self.png, spare
    type(self).show(self, *args, **kwargs)
    self.image.image = spare
    self._spare = shown


def explorer(size, fixed=True):
    widget = nv.TrainingExplorer(recordings[size])
    widget.index = 0
    if fixed:
        widget.heatmap.show = types.MethodType(swap_show, widget.heatmap)
    widget.add_class(f"bench-explorer-{{size}}" + ("" if fixed else "-shipped"))
    return widget


def matplotlib_view(size) -> None:
    frames = [recordings[size].frame("fc", "weight", i) for i in range({SNAPSHOTS})]

    def show(snapshot):
        figure, axes = plt.subplots(figsize=(6, 4.7))
        image = axes.imshow(frames[snapshot], cmap="RdBu_r", vmin=-4, vmax=4)
        figure.colorbar(image)
        axes.set_title(f"fc weight, epoch {{snapshot}}")
        plt.show()

    widget = ipywidgets.interact(
        show, snapshot=ipywidgets.IntSlider(0, min=0, max={SNAPSHOTS - 1})
    ).widget
    widget.add_class(f"bench-matplotlib-{{size}}")  # interact has displayed it already
"""

#: page-side timing: arm() before a key press, then poll window.__benchResult
_TIMER_JS = """
([rootSelector, pictureSelector, timeoutMs]) => {
    const root = document.querySelector(rootSelector);
    const sourceOf = () => {
        const picture = root.querySelector(pictureSelector);
        return picture ? (picture.getAttribute('href') || picture.getAttribute('src') || '') : '';
    };
    const before = sourceOf();
    window.__benchResult = undefined;
    let start = null;
    const onKey = () => { start = performance.now(); };
    window.addEventListener('keydown', onKey, {capture: true, once: true});
    const finish = (value) => {
        observer.disconnect();
        clearTimeout(timer);
        window.__benchResult = value;
    };
    const observer = new MutationObserver(() => {
        const source = sourceOf();
        if (start === null || !source || source === before) {
            return;
        }
        observer.disconnect();
        const picture = root.querySelector(pictureSelector);
        const decoded = typeof picture.decode === 'function'
            ? picture.decode().catch(() => null) : Promise.resolve();
        decoded.then(() => requestAnimationFrame(() => finish(performance.now() - start)));
    });
    observer.observe(root, {subtree: true, childList: true, attributes: true,
                            attributeFilter: ['href', 'src']});
    const timer = setTimeout(() => finish(-1), timeoutMs);
}
"""


def _notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell(_SETUP)]
    cells.append(new_code_cell("explorer(256, fixed=False)"))
    for size in SIZES:
        cells.append(new_code_cell(f"explorer({size})"))
        cells.append(new_code_cell(f"matplotlib_view({size})"))
    cells.append(new_code_cell('print("all cells ran")'))
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(notebook, path)


def _moves(page, root: str, picture: str, count: int, timeout_ms: int = TIMEOUT_MS) -> list:
    """Press the right arrow ``count`` times on the slider in ``root``; latency of each, ms.

    A move whose picture never changed within ``timeout_ms`` counts as -1.
    """
    widget = page.locator(root)
    widget.scroll_into_view_if_needed()
    handle = widget.locator(".widget-hslider .noUi-handle").first
    handle.focus()
    times = []
    for _ in range(count):
        page.evaluate(_TIMER_JS, [root, picture, timeout_ms])
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => window.__benchResult !== undefined", timeout=timeout_ms + 5000
        )
        times.append(float(page.evaluate("() => window.__benchResult")))
        time.sleep(PAUSE)
    return times


def measure() -> dict:
    """Run the whole measurement; returns medians and raw times per case."""
    from playwright.sync_api import sync_playwright

    from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, JupyterServer, open_notebook, run_all

    folder = Path(tempfile.mkdtemp(prefix="nnviz-bench-browser-"))
    root, home = folder / "root", folder / "home"
    root.mkdir()
    home.mkdir()
    _notebook(root / "bench.ipynb")
    server = JupyterServer("lab", root, home)
    results: dict = {}
    try:
        server.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                page.set_default_timeout(60_000)
                open_notebook(page, server, "bench.ipynb")
                run_all(page, timeout=300_000)
                shipped = _moves(
                    page, ".bench-explorer-256-shipped", ".nnviz-heatmap image", 2, 3000
                )
                results["shipped"] = shipped
                for size in SIZES:
                    for kind, picture in (
                        ("explorer", ".nnviz-heatmap image"),
                        ("matplotlib", ".widget-output img"),
                    ):
                        times = _moves(page, f".bench-{kind}-{size}", picture, WARMUP + MOVES)
                        results[(kind, size)] = times[WARMUP:]
            finally:
                browser.close()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return results


def _png_bytes(size: int) -> int:
    """Bytes of the PNG the explorer sends for one snapshot of the benchmark's recording."""
    import nnviz_widgets as nv
    from tests.browser.notebooks.recordings import square_recording

    explorer = nv.TrainingExplorer(square_recording(size, 1, seed=size))
    try:
        return len(explorer.heatmap.png.value)
    finally:
        explorer.close(widget=True)


def _median(times: list) -> float | None:
    good = [t for t in times if t >= 0]
    return statistics.median(good) if len(good) == len(times) else None


def run() -> str:
    """Measure and return the Markdown section."""
    results = measure()
    floor = _median(results[("explorer", 16)])
    lines = [
        "## Browser: scrub latency, key press to new picture on screen",
        "",
        f"JupyterLab + headless Chromium on this machine ({platform.machine()}, "
        f"{_cpus()} CPUs; server, kernel and browser share them), {MOVES} moves per case after "
        f"{WARMUP} warm-up moves, {PAUSE * 1000:.0f} ms apart; one Linear weight of N x N values "
        "per snapshot. Median and 90th percentile in ms.",
        "",
        "| view | N x N | median | p90 | / explorer 16^2 | explorer PNG |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("explorer", "matplotlib"):
        for size in SIZES:
            times = results[(kind, size)]
            median = _median(times)
            good = sorted(t for t in times if t >= 0)
            p90 = good[int(0.9 * (len(good) - 1))] if good else float("nan")
            name = (
                "TrainingExplorer (image-swap fix)"
                if kind == "explorer"
                else ("matplotlib interact + imshow")
            )
            png = f"{_png_bytes(size) / 1024:.0f} KiB" if kind == "explorer" else ""
            if median is None:
                lines.append(f"| {name} | {size}^2 | timed out | | | {png} |")
                continue
            ratio = f"{median / floor:.2f}x" if floor else ""
            lines.append(f"| {name} | {size}^2 | {median:.0f} | {p90:.0f} | {ratio} | {png} |")
    lines.append("")
    e256, e1024 = _median(results[("explorer", 256)]), _median(results[("explorer", 1024)])
    m256 = _median(results[("matplotlib", 256)])
    if floor and e256 and e1024:
        lines.append(
            f"- Goal 256^2 and 1024^2 within 1.3x of 16^2: {e256 / floor:.2f}x and "
            f"{e1024 / floor:.2f}x ({_verdict(max(e256, e1024) / floor <= 1.3)})."
        )
    if e256 and m256:
        lines.append(
            f"- Goal 3x faster than matplotlib at 256^2: {m256 / e256:.1f}x "
            f"({_verdict(m256 / e256 >= 3)})."
        )
    shipped = results["shipped"]
    repainted = sum(t >= 0 for t in shipped)
    lines.append(
        f"- The explorer as shipped repainted its picture on {repainted} of {len(shipped)} "
        "key presses (3 s wait each): bqplot's Image view redraws only when the mark's `image` "
        "trait changes, not its `ipywidgets.Image`'s `value`. The rows above patch that in the "
        "benchmark's kernel (two Image widgets, the mark pointed at the freshly written one)."
    )
    lines.append("")
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    print(run())
