"""Helpers for the browser tests and the browser benchmark: a Jupyter server, and page actions.

Nothing here is a test. The benchmark (``benchmarks/bench_browser.py``) reuses the server and the
page helpers, so the two measure and check the same page.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("NNVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: JupyterLab user settings: no news or update checks (their notification would cover the page)
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServer:
    """A JupyterLab, Notebook 7 or Voilà server in a process group of its own.

    Parameters
    ----------
    kind : {"lab", "notebook", "voila"}
        Which front end to serve.
    root : Path
        The folder served (the kernel's working directory).
    home : Path
        An empty folder for the server's config, runtime files, settings and log.
    notebook : str, optional
        Only for Voilà: the notebook served as the app.
    """

    def __init__(self, kind: str, root: Path, home: Path, notebook: str | None = None) -> None:
        if kind not in ("lab", "notebook", "voila"):
            raise ValueError(f"kind must be lab, notebook or voila, got {kind!r}")
        self.kind, self.root, self.home, self.notebook = kind, Path(root), Path(home), notebook
        self.port = _free_port()
        self.token = uuid.uuid4().hex
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = self.home / "server.log"
        self.process: subprocess.Popen | None = None

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # the kernel must import this checkout, not the editable install it may point elsewhere
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        settings = self.home / "settings"
        for name, value in _LAB_SETTINGS.items():
            plugin, file = name.rsplit("/", 1)
            folder = settings / plugin
            folder.mkdir(parents=True, exist_ok=True)
            (folder / file).write_text(json.dumps(value))
        env.update(
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            MPLBACKEND="module://matplotlib_inline.backend_inline",
        )
        return env

    def _command(self) -> list[str]:
        common = [f"--port={self.port}", "--no-browser"]
        if self.kind == "voila":
            return [
                sys.executable,
                "-m",
                "voila",
                str(self.notebook),
                *common,
                "--Voila.ip=127.0.0.1",
                f"--token={self.token}",
                "--show_tracebacks=True",
            ]
        app = "LabApp" if self.kind == "lab" else "JupyterNotebookApp"
        return [
            sys.executable,
            "-m",
            "jupyterlab" if self.kind == "lab" else "notebook",
            *common,
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--{app}.expose_app_in_browser=True",
            "--ServerApp.allow_root=True",  # CI containers often run as root
            # a safety net: a server orphaned by a killed test run ends by itself
            "--ServerApp.shutdown_no_activity_timeout=900",
            "--MappingKernelManager.cull_idle_timeout=900",
        ]

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until it answers; raises RuntimeError with its log if not."""
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self._command(),
                cwd=self.root,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its kernels too
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._answers():
                return
            time.sleep(0.25)
        self.stop()
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the {self.kind} server did not start within {timeout} s:\n{tail}")

    def _answers(self) -> bool:
        if self.kind == "voila":  # asking voila for its page would start a kernel
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return True
            return False
        try:
            with urllib.request.urlopen(self.api("status"), timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str) -> str:
        """The URL of a REST endpoint, token included."""
        return f"{self.base}/api/{path}?token={self.token}"

    def url(self, path: str, query: str = "") -> str:
        """The URL of a page, token included (``query`` without its '?', e.g. ``"reset"``)."""
        extra = f"{query}&" if query else ""
        return f"{self.base}/{path.lstrip('/')}?{extra}token={self.token}"

    def stop(self) -> None:
        """Stop the server and everything it started (idempotent)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the server shuts its kernels down
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def delete_sessions(server: JupyterServer) -> None:
    """Shut down every kernel session on a Lab or Notebook server."""
    try:
        with urllib.request.urlopen(server.api("sessions"), timeout=10) as response:
            sessions = json.load(response)
        for session in sessions:
            request = urllib.request.Request(
                server.api(f"sessions/{session['id']}"), method="DELETE"
            )
            urllib.request.urlopen(request, timeout=30).close()
    except OSError:
        pass  # a server that is gone has no kernels left


# ---------------------------------------------------------------------------- pages
def open_notebook(page, server: JupyterServer, notebook: str) -> None:
    """Open ``notebook`` in JupyterLab (fresh workspace) or Notebook 7, kernel idle."""
    if server.kind == "lab":
        workspace = uuid.uuid4().hex[:12]
        page.goto(server.url(f"lab/workspaces/{workspace}/tree/{notebook}", "reset"))
    else:
        page.goto(server.url(f"notebooks/{notebook}"))
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const panel = app && app.shell && app.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return !!kernel && kernel.status === 'idle';
        }""",
        timeout=90_000,
    )
    dismiss_notifications(page)


def dismiss_notifications(page) -> None:
    """Close any toast notification (news, updates) that could cover the page."""
    for button in page.locator(".jp-toast-button, .Toastify__close-button").all():
        with contextlib.suppress(Exception):
            button.click(timeout=2000)


def run_all(page, done_text: str = "all cells ran", timeout: float = 180_000) -> None:
    """Run every cell and wait until an output shows ``done_text`` (the last cell prints it)."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(f".jp-OutputArea-output:has-text('{done_text}')").first.wait_for(timeout=timeout)


def pixels(png: bytes) -> np.ndarray:
    """An RGB array (rows, columns, 3) of uint8 from PNG bytes."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def shoot(locator, name: str) -> np.ndarray:
    """Screenshot one element into ``tests/artifacts/<name>.png`` and return its pixels."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return pixels(locator.screenshot(path=ARTIFACTS / f"{name}.png", animations="disabled"))


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of pixels that differ between two screenshots (1.0 if their sizes differ)."""
    if a.shape != b.shape:
        return 1.0
    return float(np.any(np.abs(a.astype(int) - b.astype(int)) > 8, axis=-1).mean())


def wait_for_picture(
    locator, name: str, accept: Callable[[np.ndarray], bool], timeout: float = 20.0
) -> np.ndarray | None:
    """Screenshot ``locator`` until ``accept(pixels)``; returns those pixels, or None on timeout.

    The last screenshot stays in ``tests/artifacts/<name>.png`` either way.
    """
    deadline = time.monotonic() + timeout
    while True:
        shot = shoot(locator, name)
        if accept(shot):
            return shot
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def distinct_colours(image: np.ndarray) -> int:
    """How many distinct RGB colours an image has (a blank element has one or two)."""
    return len(np.unique(image.reshape(-1, 3), axis=0))


# ---------------------------------------------------------------------------- checks
def expect(locator):
    """Playwright's retrying assertions (imported late: playwright may be missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def picture_changes(
    element, before: np.ndarray, name: str, minimum: float = 0.05, timeout: float = 10.0
) -> np.ndarray:
    """Wait until ``element``'s pixels differ from ``before``; returns the new screenshot."""
    after = wait_for_picture(
        element, name, lambda shot: changed_fraction(before, shot) >= minimum, timeout=timeout
    )
    assert after is not None, f"the picture did not change ({name})"
    return after


def rendered(element, name: str, colours: int = 20) -> np.ndarray:
    """Wait until ``element`` shows a picture (many colours, not a blank figure)."""
    shot = wait_for_picture(element, name, lambda shot: distinct_colours(shot) > colours)
    assert shot is not None, f"the picture stayed blank ({name})"
    return shot


def slider_handle(root):
    """The handle of the (only) slider inside ``root``: focus it to scrub by keyboard."""
    return root.locator(".widget-hslider .noUi-handle")


def wait_for_range_growth(page, handle, by: int = 3, timeout: float = 30_000) -> None:
    """Wait until the slider ``handle``'s maximum grew by ``by`` (training adds snapshots)."""
    before = float(handle.get_attribute("aria-valuemax"))
    page.wait_for_function(
        "([element, wanted]) => Number(element.getAttribute('aria-valuemax')) >= wanted",
        arg=[handle.element_handle(), before + by],
        timeout=timeout,
    )
