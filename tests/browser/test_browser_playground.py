"""The Playground's graph in JupyterLab, clicked as a person would: a neuron, then an edge.

The click targets are invisible shapes over the nodes and at the middle of each edge (one
bqplot Scatter each, edges first in the page): a real click in Chromium must reach the kernel,
show the neuron's map large, and put the weight in the editor, whose new value changes the model.
"""

from __future__ import annotations

import re

from tests.browser.helpers import expect, open_notebook, rendered, run_all, shoot, slider_handle

#: The test notebook's network: 2 inputs, 4 hidden neurons, 1 output: 2*4 + 4*1 edges.
EDGES = 12


def test_a_click_on_a_neuron_shows_it_large_and_an_edge_edits_its_weight(page, lab_kernels):
    open_notebook(page, lab_kernels, "playground.ipynb")
    run_all(page, timeout=240_000)
    root = page.locator(".t-playground")
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(r"^6"))
    graph = root.locator(".nnviz-playground-graph")
    graph.scroll_into_view_if_needed()
    targets = graph.locator(".dot")
    expect(targets).to_have_count(EDGES + 7)
    # a hidden neuron: inputs are node targets 0 and 1, hidden 1 starts at 2
    targets.nth(EDGES + 3).click(force=True)
    inspector = root.locator(".nnviz-playground-inspector")
    expect(inspector).to_contain_text("hidden 1, neuron 2")
    rendered(inspector.locator("image").first, "playground_inspector_map")
    # the first edge: from input x1 to hidden neuron 1
    targets.nth(0).click(force=True)
    box = root.locator(".nnviz-playground-inspector-box")
    expect(box).to_contain_text("weight from input x1 to hidden 1, neuron 1")
    field = box.locator("input").first
    field.fill("2.5")
    field.press("Enter")
    box.locator("button:has-text('set')").click()
    expect(root).to_contain_text("to 2.5, recorded as snapshot 7")
    expect(root).to_contain_text("(weight edited)")
    expect(slider_handle(root)).to_have_attribute("aria-valuenow", re.compile(r"^7"))
    shoot(root, "lab_playground_edited")
