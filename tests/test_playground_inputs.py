"""The Playground's inputs and training controls: input features, noise, test share, L1/L2,
discretized output, and neuron-map colour ranges; each reaches the model or the data, and
rewind still shows the past exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

import nnviz_widgets as nv
from nnviz_widgets.widgets.playground import features, forward
from nnviz_widgets.widgets.playground.network_graph import ROBUST_PERCENTILE
from tests.test_playground import decode_png, torch_model

ALL = list(features.FEATURES)


@pytest.fixture
def playground():
    widget = nv.Playground("circles", hidden=(3,), n=80, seed=1, resolution=16, node_resolution=8)
    yield widget
    widget.close()


def test_the_features_are_what_the_first_layer_takes_and_what_is_drawn(playground):
    playground.features = ALL
    assert playground.model[0].in_features == 7 and playground.weights(0)[0][0].shape == (3, 7)
    assert playground._figures.graph.layout.sizes == (7, 3, 1)
    assert playground._controls.features["sin x2"].value
    playground.train(2, timeout=60)
    # the boundary is an independent torch model on the features of the grid
    points = playground.grid_points()
    x1, x2 = points[:, 0], points[:, 1]
    expanded = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    with torch.no_grad():
        logits = torch_model(playground, 2)(torch.from_numpy(expanded.astype(np.float32)))
    expected = torch.sigmoid(logits[:, 0]).numpy().reshape(16, 16)
    assert np.abs(playground.boundary(2) - expected).max() < 1e-5
    # the toggles set the trait, in the order of the feature list
    playground._controls.features["x1^2"].value = False
    assert playground.features == [f for f in ALL if f != "x1^2"]
    assert playground.model[0].in_features == 6


def test_the_features_of_the_circles_let_a_linear_model_separate_them():
    widget = nv.Playground(
        "circles", hidden=(), features=["x1^2", "x2^2"], n=200, learning_rate=0.1, seed=0
    )
    widget.train(30, timeout=120)
    assert widget.accuracy("test") > 0.9
    widget.close()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([], "features must list one or more"),
        (["x3"], "'x1', 'x2', 'x1"),
        (["x1", "x1"], "distinct"),
    ],
)
def test_bad_features_are_refused_naming_the_valid_ones(playground, value, words):
    with pytest.raises(traitlets.TraitError, match=words):
        playground.features = value
    assert playground.features == ["x1", "x2"]


def test_the_last_feature_switched_off_is_refused_in_words(playground):
    playground._controls.features["x1"].value = False
    playground._controls.features["x2"].value = False
    assert playground.features == ["x2"] and playground._controls.features["x2"].value
    assert "features must list one or more" in playground._controls.status.value


def test_noise_and_test_share_reach_the_data(playground):
    noise = next(c for c in _dropdowns(playground) if c.description == "noise")
    noise.value = 0.2
    assert playground.data.noise == 0.2 and playground.epochs == 0
    share = next(c for c in _dropdowns(playground) if c.description == "test share")
    share.value = 0.2
    assert len(playground.data.test_y) == 16 and len(playground.data.train_y) == 64
    with pytest.raises(traitlets.TraitError, match="test_fraction must be from 0.1 to 0.9"):
        playground.test_fraction = 0.95


def _dropdowns(widget):
    return [c for c in widget._controls._widgets if hasattr(c, "options")]


def one_full_batch_sgd_epoch(regularizer: str) -> np.ndarray:
    widget = nv.Playground(
        "xor", hidden=(3,), n=40, optimizer="sgd", learning_rate=0.1, batch_size=1000,
        regularization=0.05, regularizer=regularizer, resolution=8, node_resolution=8,
    )  # fmt: skip
    widget.train(1, timeout=60)
    weights = [np.array(w) for w in widget.weights(1)[0]], widget.weights(0)[0]
    widget.close()
    return weights


def test_l1_adds_rate_times_the_sign_to_the_gradient_and_l2_the_weight():
    (none, start) = one_full_batch_sgd_epoch("none")
    (l1, _) = one_full_batch_sgd_epoch("L1")
    (l2, _) = one_full_batch_sgd_epoch("L2")
    for w_none, w_l1, w_l2, w0 in zip(none, l1, l2, start):
        # one SGD step of 0.1 on the full batch: the penalty's gradient, times the rate 0.05
        assert np.allclose(w_l1 - w_none, -0.1 * 0.05 * np.sign(w0), atol=1e-6)
        assert np.allclose(w_l2 - w_none, -0.1 * 0.05 * np.asarray(w0), atol=1e-6)


def test_the_penalty_kind_applies_at_once_and_rewind_still_shows_the_past(playground):
    playground.train(2, timeout=60)
    past = playground.boundary(2)
    playground.regularizer = "L1"
    playground.regularization = 0.01
    group = playground._run.optimizer.param_groups[0]
    assert group["weight_decay"] == 0.0 and playground.epochs == 2
    playground.train(2, timeout=60)
    playground.discretize = True
    playground.snapshot = 2
    assert np.array_equal(playground.boundary(2), past)
    playground.regularizer = "L2"
    assert group["weight_decay"] == 0.01


def test_discretize_draws_the_class_and_leaves_the_probability(playground):
    playground.train(3, timeout=60)
    smooth = decode_png(playground._figures.boundary.image.value)
    playground.discretize = True
    flat = decode_png(playground._figures.boundary.image.value)
    assert len(np.unique(flat.reshape(-1, flat.shape[-1]), axis=0)) <= 2
    assert len(np.unique(smooth.reshape(-1, smooth.shape[-1]), axis=0)) > 2
    assert playground._controls.discretize.value
    playground.discretize = False
    assert np.array_equal(decode_png(playground._figures.boundary.image.value), smooth)


def test_relu_maps_use_a_robust_range_so_their_pattern_shows():
    # where a ReLU fires its map is coloured, not a pale ramp up to one bright corner
    widget = nv.Playground("spirals", hidden=(6, 6), activation="relu", seed=0, node_resolution=24)
    widget.train(20, timeout=120)
    canvas = decode_png(widget._figures.graph.image.value)[..., :3].astype(np.float32)
    lay = widget._figures.graph.layout
    weights, biases = widget.weights()
    outputs = forward.forward(weights, biases, "relu", forward.grid(forward.EXTENT, 24))
    strength = []
    for column in (1, 2):
        for unit in range(6):
            firing = (outputs[column][:, unit] > 0).reshape(24, 24)
            if firing.sum() < 20:  # a dead unit is white: nothing to show
                continue
            top, left = lay.top[column][unit] + 1, lay.left[column][unit] + 1
            tile = canvas[top : top + 24, left : left + 24]
            strength.append(float((255.0 - tile[firing]).mean()))
    widget.close()
    assert len(strength) >= 6 and min(strength) > 85.0, strength
    assert ROBUST_PERCENTILE < 100
