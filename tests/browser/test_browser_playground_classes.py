"""A three-class Playground in JupyterLab: its boundary shows a colour per class.

The notebook is written into the test notebooks' temporary folder: a Playground on three
Gaussian clouds, trained until it calls all three, its output discretized, so that the picture
the browser draws holds three flat (paled) class colours beside the points.
"""

from __future__ import annotations

import nbformat
import numpy as np

from nnviz_widgets.widgets.playground.boundary import PALETTE
from tests.browser.helpers import open_notebook, run_all, wait_for_picture

SOURCE = """\
import nnviz_widgets as nv

pg = nv.Playground("gaussians", classes=3, hidden=(4,), n=150, learning_rate=0.05,
                   resolution=48, node_resolution=12, discretize=True)
pg.add_class("t-playground-classes")
pg.train(15, timeout=120)
print("called", sorted(set(pg.boundary().argmax(axis=-1).ravel().tolist())))
pg"""


def _share_of_each_class(shot: np.ndarray) -> list[float]:
    """The share of the picture's pixels near each class's paled colour (as the kernel pales)."""
    rgb = shot[..., :3].astype(np.float32)
    shares = []
    for colour in PALETTE[:3]:
        anchor = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)
        paled = 255 - (255 - anchor) * 0.7
        shares.append(float((np.abs(rgb - paled).max(axis=-1) <= 10).mean()))
    return shares


def test_a_three_class_boundary_shows_three_colours(page, lab_kernels, notebook_root):
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(SOURCE),
            nbformat.v4.new_code_cell("print('all cells ran')"),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, notebook_root / "playground_classes.ipynb")
    open_notebook(page, lab_kernels, "playground_classes.ipynb")
    run_all(page, timeout=240_000)
    assert page.locator(".jp-OutputArea-output:has-text('called [0, 1, 2]')").count() == 1
    boundary = page.locator(".t-playground-classes .nnviz-playground-boundary")
    boundary.scroll_into_view_if_needed()
    shot = wait_for_picture(
        boundary, "playground_three_classes", lambda s: min(_share_of_each_class(s)) > 0.03
    )
    assert shot is not None, "the boundary did not show the three class colours"
