"""The Playground's other kinds of task: 3 to 5 classes (softmax) and regression (MSE).

Each kind reaches the model (its output size and loss), the pictures (a colour per class, a
diverging map of the prediction) and everything that replays the past: scrubbing, kept runs,
edited weights and presets.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.datasets import MULTICLASS_DATASETS, own_data
from nnviz_widgets.widgets.playground.boundary import PALETTE
from nnviz_widgets.widgets.playground.presets import PRESETS
from tests.test_playground import decode_png, picture, torch_model
from tests.test_playground_editing import click

SMALL = {"n": 120, "seed": 1, "resolution": 24, "node_resolution": 8}


@pytest.fixture
def three():
    widget = nv.Playground("gaussians", classes=3, hidden=(4,), **SMALL)
    yield widget
    widget.close()


@pytest.fixture
def regression():
    widget = nv.Playground("multi-gaussian", hidden=(4,), **SMALL)
    yield widget
    widget.close()


def recorded_loss_is(widget: nv.Playground, loss) -> bool:
    """Whether the recorded train loss of the newest snapshot is ``loss`` of the model's output."""
    run = widget._run
    with torch.no_grad():
        output = torch_model(widget, widget.epochs)(run.inputs["train"])
    expected = float(loss(output, run.data.train_y))
    return widget.recording.metric("train_loss")[-1] == pytest.approx(expected, rel=1e-5)


def test_the_kind_reaches_the_model_its_output_size_and_its_loss(three):
    assert three.model[-1].out_features == 3 and three.data.classes == 3
    three.train(2, timeout=60)
    assert recorded_loss_is(three, F.cross_entropy)
    assert 0.0 <= three.accuracy() <= 1.0
    three.classes = 5  # a new run, five logits
    assert three.model[-1].out_features == 5 and set(three.data.train_y.tolist()) == set(range(5))
    three.classes = 2  # two classes: one logit, binary cross-entropy, as always
    three.train(1, timeout=60)
    assert three.model[-1].out_features == 1
    assert recorded_loss_is(
        three, lambda z, y: F.binary_cross_entropy_with_logits(z[:, 0], y.float())
    )
    three.dataset = "plane"  # a regression: one linear output, MSE, no accuracy
    three.train(1, timeout=60)
    assert three.model[-1].out_features == 1 and three.data.regression
    assert recorded_loss_is(three, lambda z, y: F.mse_loss(z[:, 0], y))
    assert "test_accuracy" not in three.recording.metric_names
    assert "test MSE" in three._figures.losses.readout.value
    with pytest.raises(ValueError, match="a regression .* has no accuracy"):
        three.accuracy()


def test_the_classes_control_is_usable_only_where_the_data_set_takes_classes(three):
    control = three._controls.classes
    assert not control.disabled and control.value == 3
    control.value = 4
    assert three.classes == 4 and three.model[-1].out_features == 4
    three.dataset = "xor"
    assert control.disabled and three.model[-1].out_features == 1


def test_a_three_class_boundary_is_the_softmax_coloured_by_class(three):
    three.train(20, timeout=60)
    points = torch.from_numpy(three.grid_points())
    with torch.no_grad():
        expected = torch.softmax(torch_model(three, 20)(points), dim=1).numpy()
    values = three.boundary()
    assert values.shape == (24, 24, 3)
    np.testing.assert_allclose(values.reshape(-1, 3), expected, atol=1e-5)
    # each pixel leans to the colour of its likeliest class
    sent = decode_png(three._figures.boundary.image.value).astype(np.float32)
    palette = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in PALETTE[:3]])
    likeliest = expected.argmax(axis=1).reshape(24, 24)
    sure = expected.max(axis=1).reshape(24, 24) > 0.9
    nearest = np.abs(sent[:, :, None, :] - palette[None, None]).sum(axis=-1).argmin(axis=-1)
    assert np.array_equal(nearest[sure], likeliest[sure]) and sure.sum() > 50
    # discretized: exactly one colour per class called, no shade between
    three.discretize = True
    colours = {tuple(p) for p in decode_png(three._figures.boundary.image.value).reshape(-1, 3)}
    assert len(colours) == len(np.unique(likeliest)) == 3
    # the points: one colour per class, each exactly its class's
    scale = three._figures.boundary.train_points.scales["color"]
    assert list(scale.colors) == list(PALETTE[:3]) and (scale.min, scale.max) == (0.0, 2.0)


def test_a_regression_boundary_is_the_prediction_and_discretize_takes_its_sign(regression):
    regression.train(5, timeout=60)
    points = torch.from_numpy(regression.grid_points())
    with torch.no_grad():
        expected = torch_model(regression, 5)(points)[:, 0].numpy().reshape(24, 24)
    np.testing.assert_allclose(regression.boundary(), expected, atol=1e-5)
    scale = regression._figures.boundary.train_points.scales["color"]
    assert (scale.min, scale.max) == (-1.0, 1.0)  # the points by target, on the same map
    regression.discretize = True
    colours = {
        tuple(p) for p in decode_png(regression._figures.boundary.image.value).reshape(-1, 3)
    }
    assert len(colours) == len(np.unique(np.sign(expected))) <= 2


@pytest.mark.parametrize("kind", ["three", "regression"])
def test_a_rewound_run_shows_the_past_exactly(kind, request):
    widget = request.getfixturevalue(kind)
    widget.train(2, timeout=60)
    widget.snapshot = 1
    shown, values = picture(widget), widget.boundary(1)
    widget.train(3, timeout=60)
    widget.snapshot = 1
    assert picture(widget)[:3] == shown[:3] and np.array_equal(widget.boundary(1), values)


@pytest.mark.parametrize("kind", ["three", "regression"])
def test_a_kept_run_comes_back_exactly(kind, request):
    widget = request.getfixturevalue(kind)
    widget.train(2, timeout=60)
    before = [widget.boundary(i) for i in range(3)]
    widget.snapshot = 1
    shown = picture(widget)
    widget.dataset = "spirals" if kind == "regression" else "plane"
    widget.train(1, timeout=60)
    widget.run = 1
    assert widget.model[-1].out_features == (3 if kind == "three" else 1)
    assert all(np.array_equal(a, widget.boundary(i)) for i, a in enumerate(before))
    widget.snapshot = 1
    assert picture(widget)[:3] == shown[:3]


def test_an_edge_into_a_class_output_is_edited_and_the_past_kept(three):
    three.train(2, timeout=60)
    past = [three.boundary(i) for i in range(3)]
    graph, inspector = three._figures.graph, three._figures.inspector
    assert graph.layout.sizes[-1] == 3  # a node per class
    click(graph.edge_hits, graph._edge_keys.index((1, 2, 0)))
    inspector.weight.value = 3.0
    inspector.set_button.click()
    assert three.model[-1].weight[2, 0].item() == 3.0
    assert all(np.array_equal(a, three.boundary(i)) for i, a in enumerate(past))
    assert not np.array_equal(three.boundary(3), past[2])
    # the large map of output 3 is that class's probability
    click(graph.node_hits, graph._node_keys.index((2, 2)))
    assert inspector.figure.title == "output, class 2"
    assert "colours from 0 to 1" in inspector.range_label.value
    assert "weight from hidden 1, neuron 1 to output, class 2" in inspector.weight_label.value


def test_presets_still_make_their_runs_from_a_three_class_playground(three):
    for name, preset in PRESETS.items():
        three.apply_preset(name)
        assert (
            all(getattr(three, key) == value for key, value in preset.items()) and not three.epochs
        )
        takes = three.dataset in MULTICLASS_DATASETS
        assert three.model[-1].out_features == (three.classes if takes and three.classes > 2 else 1)
    assert PRESETS["spiral that works"]["classes"] == 2  # whatever was set before it
    assert three.data.regression  # the last: "regression on bumps"


def test_own_data_with_three_classes_and_with_float_targets():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (90, 2))
    labels = np.array(["a", "b", "c"])[np.arange(90) % 3]
    widget = nv.Playground(data=(x, labels), hidden=(3,), resolution=8, node_resolution=8)
    try:
        assert widget.model[-1].out_features == 3 and widget.data.classes == 3
        widget.train(1, timeout=60)
        widget.close()
        widget = nv.Playground(data=(x, x[:, 0] * 0.3 + 2.0), hidden=(3,), resolution=8,
                               node_resolution=8)  # fmt: skip
        assert widget.data.regression and widget.model[-1].out_features == 1
        y = torch.cat([widget.data.train_y, widget.data.test_y])
        assert y.dtype == torch.float32 and y.min() == -1.0 and y.max() == 1.0
    finally:
        widget.close()


@pytest.mark.parametrize(
    ("y", "words"),
    [
        (np.zeros(40), r"2 to 5 classes .*got 1"),
        (np.arange(40) % 9, r"2 to 5 classes .*got 9"),
        (np.array([f"c{i % 9}" for i in range(40)]), r"2 to 5 classes .*got 9"),
        (np.where(np.arange(40) == 3, np.nan, np.linspace(0, 1, 40)), r"1 point\(s\) have a NaN"),
    ],
)
def test_hostile_labels_and_targets_get_clear_errors(y, words):
    x = np.random.default_rng(1).normal(size=(40, 2))
    with pytest.raises(ValueError, match=words):
        nv.Playground(data=(x, y))


def test_a_number_of_classes_out_of_range_is_refused_in_words(three):
    with pytest.raises(Exception, match="classes must be from 2 to 5"):
        three.classes = 6
    assert three.classes == 3 and three.model[-1].out_features == 3


def test_too_few_points_for_the_classes_are_refused_before_a_run_starts(three):
    three.classes = 5
    with pytest.raises(Exception, match="n must be at least 10 for 5 classes"):
        three.n = 8
    assert three.n == 120 and three.data.classes == 5


def test_classes_on_a_set_with_its_own_start_no_run_and_wait_for_one_that_takes_them(three):
    three.dataset = "circles"
    before = three.run
    three.classes = 4
    assert three.run == before and three.model[-1].out_features == 1
    three.dataset = "spirals"
    assert three.model[-1].out_features == 4


def test_a_few_float_labels_stay_classes_and_many_floats_are_targets():
    x = np.random.default_rng(2).normal(size=(60, 2))
    assert own_data((x, np.where(x[:, 0] > 0, 0.5, 1.5))).classes == 2  # as always
    assert own_data((x, (np.arange(60) % 3).astype(float))).classes == 3
    assert own_data((x, x[:, 1])).regression
    assert own_data((x, (np.arange(60) % 3).astype(float)), task="regression").regression
    with pytest.raises(ValueError, match="2 to 5 classes .*got 60"):
        own_data((x, x[:, 1]), task="classes")
    with pytest.raises(ValueError, match='task must be "auto", "classes" or "regression"'):
        own_data((x, x[:, 1]), task="numbers")


def test_a_data_set_that_takes_classes_is_refused_when_too_few_points_for_them():
    widget = nv.Playground("circles", hidden=(2,), n=8, resolution=8, node_resolution=8)
    try:
        widget.classes = 5  # circles have their own two classes: kept for later
        with pytest.raises(Exception, match="n must be at least 10 for 5 classes"):
            widget.dataset = "spirals"
        assert widget.dataset == "circles" and widget.data.classes == 2
    finally:
        widget.close()
