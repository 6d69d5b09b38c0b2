"""The Playground notebook runs top to bottom, offline, and its closing check cell passes."""

from __future__ import annotations

import os
import pathlib
import signal
import time

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_playground.ipynb"


def test_the_notebook_has_no_stored_outputs_and_names_its_kernel():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.slow
def test_the_notebook_runs_and_its_story_holds(monkeypatch):
    from nbclient import NotebookClient

    # the kernel must import this checkout's package, whatever is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    # nbclient leaves SIGINT at Python's default handler, which would silently undo the handler
    # the TrainingLoop installs once per process (and break later tests of interrupts)
    handler = signal.getsignal(signal.SIGINT)
    start = time.monotonic()
    try:
        client.execute()  # raises CellExecutionError on any error, the failed assert included
    finally:
        signal.signal(signal.SIGINT, handler)
    elapsed = time.monotonic() - start
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "test accuracy of the linear model" in printed
    assert "< 0.7 < 0.9 <" in printed  # the check cell ran to its end
    assert elapsed < 120, f"the notebook took {elapsed:.0f} s; it should run in under two minutes"
