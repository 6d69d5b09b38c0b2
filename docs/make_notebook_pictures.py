"""Run the story notebooks in JupyterLab and save a picture of each one's widgets in docs/img/.

Each notebook in ``notebooks/`` is opened in a JupyterLab server started here (Debian's
Chromium, driven by Playwright; no browser is downloaded), run top to bottom, and every
explorer or playground it displays is saved as ``docs/img/<notebook>_<n>.png``. Run from the
repository root::

    python docs/make_notebook_pictures.py [notebook ...]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

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

WIDGETS = ".jp-OutputArea-output .nnviz-explorer, .jp-OutputArea-output .nnviz-playground"


def main(names: list[str]) -> None:
    notebooks = [ROOT / "notebooks" / n for n in names] or sorted(
        (ROOT / "notebooks").glob("*.ipynb")
    )
    work = Path(tempfile.mkdtemp(prefix="nnviz-pictures-"))
    (work / "root").mkdir()
    (work / "home").mkdir()
    for notebook in notebooks:
        shutil.copy(notebook, work / "root" / notebook.name)
    server = JupyterServer("lab", work / "root", work / "home")
    try:
        server.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for notebook in notebooks:
                shoot(browser, server, notebook.name)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def shoot(browser, server: JupyterServer, name: str) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    open_notebook(page, server, name)
    print(f"{name}: running", flush=True)
    # awaited: the command's promise ends when every cell has run
    page.evaluate(
        "async () => { await window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
    )
    time.sleep(3)  # the last live redraws
    dismiss_notifications(page)
    widgets = page.query_selector_all(WIDGETS)
    if not widgets:
        page.screenshot(path=str(ROOT / "tests" / "artifacts" / f"{Path(name).stem}_page.png"))
        print(f"{name}: no widget found", flush=True)
    for number, widget in enumerate(widgets, start=1):
        widget.scroll_into_view_if_needed()
        time.sleep(0.5)
        target = ROOT / "docs" / "img" / f"{Path(name).stem}_{number}.png"
        widget.screenshot(path=str(target))
        print(target, flush=True)
    page.close()


if __name__ == "__main__":
    main(sys.argv[1:])
