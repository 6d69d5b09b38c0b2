"""Per-layer activations in the Playground: the model, the pictures and the controls follow
them, a wrong count is refused in words, and a changed architecture lets them go."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

import nnviz_widgets as nv
from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.widgets.playground import forward
from tests.test_playground import decode_png


@pytest.fixture
def playground():
    widget = nv.Playground(
        "circles", hidden=(3, 2), activations=["relu", "tanh"], n=80, seed=4,
        resolution=16, node_resolution=8,
    )  # fmt: skip
    yield widget
    widget.close()


def test_each_layer_has_its_activation_in_the_model_and_the_pictures(playground):
    kinds = [type(m).__name__ for m in playground.model if not isinstance(m, torch.nn.Linear)]
    assert kinds == ["ReLU", "Tanh"]
    playground.train(2, timeout=60)
    points = torch.from_numpy(playground.grid_points())
    with torch.no_grad():
        expected = torch.sigmoid(playground.model(points)[:, 0]).numpy().reshape(16, 16)
    assert np.abs(playground.boundary(2) - expected).max() < 1e-5
    # the second hidden layer's maps are tanh: on the fixed range -1 to 1
    weights, biases = playground.weights(2)
    grid = forward.grid(forward.EXTENT, 8)
    second = forward.forward(weights, biases, ["relu", "tanh"], grid)[2]
    canvas = decode_png(playground._figures.graph.image.value)
    lay = playground._figures.graph.layout
    top, left = lay.top[2][0] + 1, lay.left[2][0] + 1
    tile = canvas[top : top + 8, left : left + 8, :3].astype(np.int16)
    reference = colourize(second[:, 0].reshape(8, 8), -1.0, 1.0, CLASSES).astype(np.int16)
    assert np.abs(tile - reference).max() <= 2
    assert playground.runs == ["run 1: circles, relu/tanh, 3-2, 2 epochs"]


def test_the_text_box_sets_them_and_a_wrong_count_is_refused_in_words(playground):
    playground._controls.per_layer.value = "sigmoid, linear"
    assert playground.activations == ["sigmoid", "linear"] and playground.run == 2
    playground._controls.per_layer.value = "relu"
    assert playground.activations == ["sigmoid", "linear"]
    assert "one activation per hidden layer (2)" in playground._controls.status.value
    with pytest.raises(traitlets.TraitError, match="list activations of 'tanh', 'relu'"):
        playground.activations = ["softmax", "relu"]
    with pytest.raises(traitlets.TraitError, match="one activation per hidden layer"):
        nv.Playground(hidden=(4,), activations=["relu", "tanh"])


def test_a_new_architecture_lets_them_go_and_a_kept_run_brings_them_back(playground):
    playground.hidden = [2]
    assert playground.activations == [] and "no longer fit" in playground._controls.status.value
    playground.run = 1
    assert playground.activations == ["relu", "tanh"] and playground.hidden == [3, 2]
