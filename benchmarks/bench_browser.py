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

The page also notes when the slider's change left for the kernel and when the kernel's answers
came back (the kernel connection's ``anyMessage`` signal), so a slow move shows where it was slow.

Run: ``python -m benchmarks.bench_browser``; ``run()`` returns the Markdown section.
"""

from __future__ import annotations

import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

SIZES = (16, 256, 1024)
WARMUP = 2
MOVES = 30
SNAPSHOTS = WARMUP + MOVES + 1
PAUSE = 0.3  # seconds between key presses
TIMEOUT_MS = 15_000

_SETUP = f"""\
import ipywidgets
import matplotlib.pyplot as plt

import nnviz_widgets as nv
from tests.browser.notebooks.recordings import square_recording

SIZES = {SIZES!r}
recordings = {{size: square_recording(size, {SNAPSHOTS}, seed=size) for size in SIZES}}


def explorer(size):
    widget = nv.TrainingExplorer(recordings[size])
    widget.index = 0
    widget.add_class(f"bench-explorer-{{size}}")
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

#: page-side timing: arm() before a key press, then poll window.__benchResult. Besides the
#: whole latency it notes when the slider's change left for the kernel, when the kernel's first
#: and last answers (widget messages, outputs) arrived before the picture changed, and how many
#: came (the kernel connection's anyMessage signal sees every message both ways).
_TIMER_JS = """
([rootSelector, pictureSelector, timeoutMs]) => {
    const root = document.querySelector(rootSelector);
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const sourceOf = () => {
        const picture = root.querySelector(pictureSelector);
        return picture ? (picture.getAttribute('href') || picture.getAttribute('src') || '') : '';
    };
    const before = sourceOf();
    // widget updates, and the Output widget's picture (matplotlib)
    const answers = new Set(['comm_msg', 'display_data', 'clear_output', 'update_display_data']);
    window.__benchResult = undefined;
    let start = null, sent = null, firstIn = null, lastIn = null, changed = null, messages = 0;
    const onKey = () => { start = performance.now(); };
    const onMessage = (_, args) => {
        if (start === null || changed !== null) { return; }
        const now = performance.now();
        if (args.direction === 'send') {
            if (sent === null) { sent = now; }
        } else if (args.msg.channel === 'iopub' && answers.has(args.msg.header.msg_type)) {
            if (firstIn === null) { firstIn = now; }
            lastIn = now;
            messages += 1;
        }
    };
    kernel.anyMessage.connect(onMessage);
    window.addEventListener('keydown', onKey, {capture: true, once: true});
    const finish = (total) => {
        observer.disconnect();
        clearTimeout(timer);
        kernel.anyMessage.disconnect(onMessage);
        const since = (t) => (t === null || start === null ? -1 : t - start);
        window.__benchResult = {total, sent: since(sent), first: since(firstIn),
                                last: since(lastIn), changed: since(changed), messages};
    };
    const observer = new MutationObserver(() => {
        const source = sourceOf();
        if (start === null || !source || source === before) {
            return;
        }
        observer.disconnect();
        changed = performance.now();
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
    """Press the right arrow ``count`` times on the slider in ``root``; one timing dict each.

    A move whose picture never changed within ``timeout_ms`` has ``total`` -1.
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
        times.append(page.evaluate("() => window.__benchResult"))
        time.sleep(PAUSE)
    return times


class _Watchdog:
    """Stops the server (and so the page waits) if the whole measurement overruns."""

    def __init__(self, server, seconds: float) -> None:
        self.fired = False
        self._server = server
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._server.stop()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()


def measure(limit_s: float = 900.0) -> dict:
    """Run the whole measurement; returns the timings per (view, size).

    Every wait in the page has its own timeout; ``limit_s`` bounds the whole run besides.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, JupyterServer, open_notebook, run_all

    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"bench_browser needs Chromium at {CHROMIUM} (apt-get install chromium, "
            "or set NNVIZ_CHROMIUM)"
        )
    folder = Path(tempfile.mkdtemp(prefix="nnviz-bench-browser-"))
    root, home = folder / "root", folder / "home"
    root.mkdir()
    home.mkdir()
    _notebook(root / "bench.ipynb")
    # the kernel imports tests.browser.notebooks.recordings from the repository
    server = JupyterServer("lab", root, home)
    results: dict = {}
    try:
        server.start()
        with _Watchdog(server, limit_s) as watchdog, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                page.set_default_timeout(60_000)
                open_notebook(page, server, "bench.ipynb")
                run_all(page, timeout=300_000)
                for size in SIZES:
                    for kind, picture in (
                        ("explorer", ".nnviz-heatmap image"),
                        ("matplotlib", ".widget-output img"),
                    ):
                        times = _moves(page, f".bench-{kind}-{size}", picture, WARMUP + MOVES)
                        results[(kind, size)] = times[WARMUP:]
            except Exception as error:
                if watchdog.fired:
                    raise TimeoutError(f"bench_browser ran over {limit_s:.0f} s") from error
                raise
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


def _median(times: list, key: str = "total") -> float | None:
    """Median of one part over the moves; None if any move timed out."""
    if any(t["total"] < 0 for t in times):
        return None
    return statistics.median(t[key] for t in times)


def _p90(times: list) -> float:
    good = sorted(t["total"] for t in times if t["total"] >= 0)
    return good[int(0.9 * (len(good) - 1))] if good else float("nan")


def run() -> str:
    """Measure and return the Markdown section."""
    results = measure()
    floor = _median(results[("explorer", 16)])
    names = {"explorer": "TrainingExplorer", "matplotlib": "matplotlib interact + imshow"}
    lines = [
        "## Browser: scrub latency, key press to new picture on screen (issue 6)",
        "",
        f"JupyterLab + headless Chromium on this machine ({platform.machine()}, "
        f"{_cpus()} CPUs; server, kernel and browser share them), {MOVES} moves per case after "
        f"{WARMUP} warm-up moves, {PAUSE * 1000:.0f} ms apart; one Linear weight of N x N values "
        "per snapshot, the same data for both views. A move is timed in the page from the "
        "`keydown` event to the first animation frame after the new picture's source is set and "
        "decoded. Median and 90th percentile in ms.",
        "",
        "| view | N x N | median | p90 | / explorer 16^2 | PNG sent |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("explorer", "matplotlib"):
        for size in SIZES:
            times = results[(kind, size)]
            median = _median(times)
            png = f"{_png_bytes(size) / 1024:.0f} KiB" if kind == "explorer" else ""
            if median is None:
                lines.append(f"| {names[kind]} | {size}^2 | timed out | | | {png} |")
                continue
            ratio = f"{median / floor:.2f}x" if floor else ""
            lines.append(
                f"| {names[kind]} | {size}^2 | {median:.0f} | {_p90(times):.0f} | {ratio} | {png} |"
            )
    lines += [
        "",
        "Where the time goes (medians, ms after the key press): the slider's change leaves "
        "for the kernel, the kernel's first and last answers arrive, the picture's source "
        "changes, it is painted.",
        "",
        "| view | N x N | sent | first answer | last answer | source set | painted | "
        "messages back |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("explorer", "matplotlib"):
        for size in SIZES:
            times = results[(kind, size)]
            if _median(times) is None:
                continue
            parts = [f"{_median(times, key):.0f}" for key in ("sent", "first", "last", "changed")]
            lines.append(
                f"| {names[kind]} | {size}^2 | {' | '.join(parts)} | {_median(times):.0f} | "
                f"{_median(times, 'messages'):.0f} |"
            )
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
    lines.append("")
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    print(run())
