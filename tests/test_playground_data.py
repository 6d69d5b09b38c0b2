"""The user's own data in the Playground: (X, y) arrays or a DataFrame, checked with clear
errors, scaled into the plane, trained on and kept across runs like a toy set."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import nnviz_widgets as nv
from nnviz_widgets.datasets import own_data


def two_blobs(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(10.0, 1.0, (n // 2, 2)), rng.normal(20.0, 1.0, (n // 2, 2))])
    y = np.array(["cat"] * (n // 2) + ["dog"] * (n // 2))
    return x, y


def test_own_arrays_are_trained_on_scaled_into_the_plane():
    x, y = two_blobs()
    widget = nv.Playground(data=(x, y), hidden=(2,), noise=0.0, learning_rate=0.1, resolution=16)
    try:
        data = widget.data
        assert widget.dataset == "own" and data.name == "own"
        assert len(data.train_y) + len(data.test_y) == 60
        points = np.concatenate([data.train_x.numpy(), data.test_x.numpy()])
        assert points.min() == pytest.approx(-1.0) and points.max() == pytest.approx(1.0)
        assert set(np.unique(data.train_y.numpy())) == {0, 1}
        menu = next(c for c in widget._controls._widgets if c.description == "data")
        assert menu.options[-1] == "own" and menu.value == "own"
        widget.train(10, timeout=60)
        assert widget.accuracy("test") > 0.9
        widget.dataset = "xor"  # a toy set, and back to the user's points: both kept
        widget.run = 1
        assert widget.dataset == "own" and widget.epochs == 10
    finally:
        widget.close()


def test_a_dataframe_with_two_features_and_a_label_column():
    pandas = pytest.importorskip("pandas")
    x, y = two_blobs()
    frame = pandas.DataFrame({"height": x[:, 0], "weight": x[:, 1], "label": y})
    data = own_data(frame, seed=1)
    assert len(data.train_y) == 30 and data.train_x.shape == (30, 2)
    with pytest.raises(ValueError, match=r"two feature columns and a label column .* got columns"):
        own_data(frame.assign(extra=1.0).drop(columns="label").assign(label=y))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ((np.zeros((10, 3)), np.arange(10) % 2), r"X must have shape \(n, 2\).*got \(10, 3\)"),
        ((np.zeros((10, 2)), np.arange(9) % 2), r"y must hold one label per point, shape \(10,\)"),
        (
            (np.where(np.eye(10, 2) > 0, np.nan, 0.0), np.arange(10) % 2),
            r"2 point\(s\) have a NaN or infinite value \(rows 0, 1",
        ),
        ((np.zeros((10, 2)), np.zeros(10)), "2 to 5 classes .* got 1"),
        ((np.zeros((100, 2)), np.arange(100) % 50), "2 to 5 classes .* got 50"),
        ((np.zeros((10, 2)), np.array([0] * 9 + [1])), "each class needs at least 2 points"),
        ("points.csv", "data must be \\(X, y\\)"),
    ],
)
def test_hostile_data_gets_a_clear_error(data, words):
    with pytest.raises((ValueError, TypeError), match=words):
        nv.Playground(data=data)


def test_own_without_data_is_refused():
    widget = nv.Playground("xor", hidden=(2,), n=40, resolution=8, node_resolution=8)
    try:
        with pytest.raises(traitlets.TraitError, match="dataset 'own' is the data given"):
            widget.dataset = "own"
    finally:
        widget.close()


def test_a_preset_sets_its_settings_in_one_new_run_and_makes_its_point():
    widget = nv.Playground("spirals", hidden=(3,), n=200, resolution=16, node_resolution=8)
    try:
        widget.train(1, timeout=60)
        widget._controls.presets.value = "XOR with x1*x2"
        assert (widget.dataset, widget.features, widget.hidden) == ("xor", ["x1*x2"], [])
        assert widget.run == 2 and len(widget.runs) == 2  # one run for the whole preset
        assert widget.model[0].in_features == 1 and widget.epochs == 0
        assert "Preset 'XOR with x1*x2'" in widget._controls.status.value
        widget.train(15, timeout=60)
        assert widget.accuracy("test") > 0.95  # a linear model on x1*x2 separates XOR
        widget.run = 1  # the run before keeps its settings
        assert (widget.dataset, widget.learning_rate, widget.hidden) == ("spirals", 0.01, [3])
        with pytest.raises(ValueError, match="preset must be one of 'XOR with x1\\*x2'"):
            widget.apply_preset("magic")
    finally:
        widget.close()
