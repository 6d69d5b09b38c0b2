"""Browser-test fixtures: Jupyter servers started for the session, and a headless Chromium.

Each server (JupyterLab, Notebook 7, Voilà) runs on 127.0.0.1 on a free port with a random token,
from a temporary copy of the test notebooks, with ``PYTHONPATH`` pointing at this checkout so the
kernel imports this branch's code. Servers are stopped when the session ends, failures included.

Missing Chromium or playwright skips the tests, unless ``NNVIZ_REQUIRE_BROWSER=1`` (set in CI),
where it fails them.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# the helpers and the test notebooks' module are imported as tests.browser.*, from this checkout
if str(Path(__file__).resolve().parents[2]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.browser.helpers import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    JupyterServer,
    delete_sessions,
)

NOTEBOOKS = Path(__file__).parent / "notebooks"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail with it when the environment requires a browser."""
    if os.environ.get("NNVIZ_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NNVIZ_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Debian's, never a downloaded one), shared by the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


#: Console errors known to be harmless and to come from outside our code, each with why. Any
#: other console error fails the test that saw it (see the ``page`` fixture).
HARMLESS_CONSOLE_ERRORS = (
    # the front ends ask for web fonts and the like from the internet, which the tests never
    # reach (no network); nothing of ours loads from outside the server
    "net::ERR_NAME_NOT_RESOLVED",
    "net::ERR_INTERNET_DISCONNECTED",
    # Voila 0.5 loads Notebook 7's lab extension, whose module federation asks for a
    # @jupyterlab/docregistry that Voila's page does not share; Voila's own start-up, before
    # any widget (RUNTIME-012: "The getter for the shared module is not a function")
    "#RUNTIME-012",
)


def is_harmless(text: str) -> bool:
    """Whether a console error is one of :data:`HARMLESS_CONSOLE_ERRORS`."""
    return any(known in text for known in HARMLESS_CONSOLE_ERRORS)


@pytest.fixture
def page(chromium):
    """A fresh browser page (own context: no shared storage) that is closed after the test.

    The test fails if the page raised an uncaught exception or logged any console error but the
    known harmless ones (:data:`HARMLESS_CONSOLE_ERRORS`): a widget that failed to render or to
    take a state update ("Could not create a view", "Error setting state"), or an SVG element
    placed at NaN ("<g> attribute transform: ... translate(0,NaN)"), can leave a figure half
    drawn where no assertion looks.
    """
    context = chromium.new_context(viewport={"width": 1500, "height": 1100})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []

    def uncaught(error) -> None:
        stack = error.stack or ""
        # Notebook 7's own start-up throws one (reading a settings schema); the front ends'
        # core bundles are not ours to test, the widget extensions are
        first = next((line for line in stack.splitlines() if "http" in line), "")
        if "/static/notebook/" in first or "/static/lab/" in first:
            return
        errors.append(f"uncaught: {stack[:800]}")

    def console(message) -> None:
        if message.type == "error" and not is_harmless(message.text):
            where = message.location.get("url", "") if message.location else ""
            errors.append(f"console: {message.text[:300]} ({where})")

    page.on("pageerror", uncaught)
    page.on("console", console)
    try:
        yield page
    finally:
        context.close()
    assert not errors, "errors in the page:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def notebook_root(tmp_path_factory) -> Path:
    """A temporary folder holding the test notebooks, their helper module and the quickstart."""
    root = tmp_path_factory.mktemp("notebooks")
    for path in NOTEBOOKS.iterdir():
        if path.suffix in (".ipynb", ".py"):
            shutil.copy(path, root / path.name)
    shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", root / "01_quickstart.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):  # screenshots of an earlier run would mislead
        old.unlink()
    return root


def _server(kind: str, root: Path, tmp_path_factory, notebook: str | None = None):
    server = JupyterServer(kind, root, tmp_path_factory.mktemp(f"{kind}-home"), notebook=notebook)
    server.start()
    return server


@pytest.fixture(scope="session")
def lab(chromium, notebook_root, tmp_path_factory):
    """A JupyterLab server for the session."""
    server = _server("lab", notebook_root, tmp_path_factory)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def notebook7(chromium, notebook_root, tmp_path_factory):
    """A Notebook 7 server for the session."""
    server = _server("notebook", notebook_root, tmp_path_factory)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def voila(chromium, notebook_root, tmp_path_factory):
    """A Voilà server serving ``app.ipynb`` as an app."""
    server = _server("voila", notebook_root, tmp_path_factory, notebook="app.ipynb")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def voila_quickstart(chromium, tmp_path_factory):
    """A Voilà server serving the quickstart notebook itself, from ``notebooks/`` (not a copy:
    its last cells close its explorers, as a reader's would)."""
    server = _server("voila", ROOT / "notebooks", tmp_path_factory, notebook="01_quickstart.ipynb")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lab_kernels(lab):
    """Shut down every kernel the test started, so the next test has the CPU to itself."""
    yield lab
    delete_sessions(lab)


@pytest.fixture
def notebook7_kernels(notebook7):
    """As lab_kernels, for Notebook 7."""
    yield notebook7
    delete_sessions(notebook7)
