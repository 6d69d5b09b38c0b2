"""Clicks on the Playground's graph: a neuron shown large with the value under the pointer, and
a weight edited by hand, which reaches the model and is recorded as a snapshot of its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnviz_widgets as nv
from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.widgets.playground import forward
from tests.test_playground import decode_png, torch_model


@pytest.fixture
def playground():
    widget = nv.Playground("xor", hidden=(3,), n=80, seed=3, resolution=16, node_resolution=8)
    yield widget
    widget.close()


def click(mark, index: int, event: str = "element_click") -> None:
    """What the browser sends when an element of a bqplot mark is clicked (or hovered)."""
    mark._handle_custom_msgs(None, {"event": event, "data": {"index": index}})


def test_a_click_on_a_neuron_shows_its_map_large_and_the_value_under_the_pointer(playground):
    playground.train(2, timeout=60)
    playground.snapshot = 1
    graph, inspector = playground._figures.graph, playground._figures.inspector
    click(graph.node_hits, graph._node_keys.index((1, 2)))
    assert inspector.neuron == (1, 2)
    assert inspector.figure.title.startswith("hidden 1, neuron 3")
    size = inspector.resolution
    points = torch.from_numpy(forward.grid(forward.EXTENT, size))
    model = torch_model(playground, 1)
    with torch.no_grad():
        expected = model[1](model[0](points))[:, 2].numpy().reshape(size, size)
    picture = decode_png(inspector.pictures.shown.value)[..., :3].astype(np.int16)
    assert np.abs(picture - colourize(expected, -1.0, 1.0, CLASSES)).max() <= 2
    # hover: the value at that point of the plane, at the snapshot shown
    click(inspector.hover_points, 30, event="hover")
    x1, x2 = inspector._points[30]
    with torch.no_grad():
        value = model[1](model[0](torch.tensor([[x1, x2]])))[0, 2].item()
    assert f"value {value:.4g}" in inspector.value_label.value
    # scrubbing redraws the large map at the new snapshot
    before = bytes(inspector.pictures.shown.value)
    playground.snapshot = 0
    assert bytes(inspector.pictures.shown.value) != before


def test_a_click_on_an_edge_then_a_value_edits_the_model_and_rewind_keeps_the_past(playground):
    playground.train(3, timeout=60)
    past = [playground.boundary(i) for i in range(4)]
    graph, inspector = playground._figures.graph, playground._figures.inspector
    click(graph.edge_hits, graph._edge_keys.index((0, 1, 0)))
    assert inspector.edge == (0, 1, 0)
    assert "weight from input x1 to hidden 1, neuron 2" in inspector.weight_label.value
    assert inspector.weight.value == pytest.approx(float(playground.weights(3)[0][0][1, 0]))
    inspector.weight.value = 2.5
    inspector.set_button.click()
    assert playground.model[0].weight[1, 0].item() == 2.5
    assert playground.epochs == 4 and playground.snapshot == 4
    assert playground.weights(4)[0][0][1, 0] == 2.5
    assert "(weight edited)" in playground._figures.losses.readout.value
    assert "recorded as snapshot 4" in playground._controls.status.value
    assert all(np.array_equal(a, playground.boundary(i)) for i, a in enumerate(past))
    assert not np.array_equal(playground.boundary(4), past[3])
    playground.train(1, timeout=60)  # training goes on from the edited network
    readout = playground._figures.losses.readout.value
    assert playground.epochs == 5 and "<b>epoch 4</b> of 4" in readout


def test_bad_edits_are_refused_in_words(playground):
    with pytest.raises(ValueError, match=r"no weight \(0, 5, 0\): the layers' weights are"):
        playground.set_weight(0, 5, 0, 1.0)
    with pytest.raises(ValueError, match="a weight must be a finite number, got nan"):
        playground.set_weight(0, 0, 0, float("nan"))
    with pytest.raises(ValueError, match="no neuron 4 in column 1"):
        playground.inspect(1, 4)
    assert playground.epochs == 0


def test_the_large_map_of_an_input_and_of_the_output(playground):
    playground.train(1, timeout=60)
    inspector = playground._figures.inspector
    size = inspector.resolution
    points = forward.grid(forward.EXTENT, size)
    playground.inspect(2, 0)  # the output: the probability, as the boundary
    with torch.no_grad():
        logits = torch_model(playground, 1)(torch.from_numpy(points))[:, 0]
    probability = torch.sigmoid(logits).numpy().reshape(size, size)
    picture = decode_png(inspector.pictures.shown.value)[..., :3].astype(np.int16)
    assert np.abs(picture - colourize(probability, 0.0, 1.0, CLASSES)).max() <= 2
    assert inspector.figure.title.startswith("output")
    playground.inspect(0, 1)  # the input x2: its value is the second coordinate
    click(inspector.hover_points, 7, event="hover")
    assert f"value {inspector._points[7][1]:.4g}" in inspector.value_label.value
    assert inspector.figure.title.startswith("input x2")
