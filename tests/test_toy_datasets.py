"""The 2-D toy data sets: deterministic, well-formed, separable as described, clear errors."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch

import nnviz_widgets as nv

NAMES = ["circles", "xor", "gaussians", "spirals"]


def make(name, **kwargs):
    return getattr(nv.datasets, name)(**kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_points_other_seed_other_points(name):
    a, b = make(name, seed=7), make(name, seed=7)
    for field in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    c = make(name, seed=8)
    assert not torch.equal(a.train_x, c.train_x)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("n", "test_fraction"), [(400, 0.5), (101, 0.2), (8, 0.9)])
def test_shapes_types_balance_and_split(name, n, test_fraction):
    data = make(name, n=n, test_fraction=test_fraction, noise=0.1)
    assert data.name == name
    assert data.train_x.dtype == torch.float32 and data.test_x.dtype == torch.float32
    assert data.train_y.dtype == torch.int64 and data.test_y.dtype == torch.int64
    assert data.train_x.ndim == 2 and data.train_x.shape[1] == 2
    assert data.train_x.shape[0] == data.train_y.shape[0]
    assert data.test_x.shape == (data.test_y.shape[0], 2)
    assert len(data.train_y) + len(data.test_y) == n
    labels = torch.cat([data.train_y, data.test_y])
    assert set(labels.tolist()) == {0, 1}
    assert abs(int(labels.sum()) - n / 2) <= 0.5  # half of the points in each class
    for split in (data.train_y, data.test_y):  # both classes on both sides
        assert set(split.tolist()) == {0, 1}
    expected_test = n * test_fraction
    assert abs(len(data.test_y) - expected_test) <= 2
    assert torch.isfinite(data.train_x).all() and torch.isfinite(data.test_x).all()


@pytest.mark.parametrize("name", NAMES)
def test_points_without_noise_lie_in_the_unit_square(name):
    data = make(name, noise=0.0)
    points = torch.cat([data.train_x, data.test_x])
    limit = 1.0 if name != "gaussians" else 2.0  # Gaussian tails are unbounded, but rarely far
    assert float(points.abs().max()) <= limit


def test_the_shapes_are_what_their_names_say():
    circles = make("circles", noise=0.0)
    radius = circles.train_x.norm(dim=1)
    assert float(radius[circles.train_y == 0].max()) < float(radius[circles.train_y == 1].min())

    xor = make("xor", noise=0.0)
    same_sign = (xor.train_x[:, 0] * xor.train_x[:, 1] > 0).long()
    assert torch.equal(same_sign, xor.train_y)

    gaussians = make("gaussians", noise=0.0)
    for label, sign in ((0, -1), (1, 1)):
        centre = gaussians.train_x[gaussians.train_y == label].mean(dim=0)
        assert torch.allclose(centre, torch.full((2,), 0.5 * sign), atol=0.08)

    spirals = make("spirals", noise=0.0)
    # the second arm is the first turned by half a turn: every point of class 1 turned back by pi
    # lies on class 0's curve r = 0.08 + 0.92 t, angle = 3 pi t
    turned = -spirals.train_x[spirals.train_y == 1].double()
    radius = turned.norm(dim=1)
    t = (radius - 0.08) / 0.92
    angle = torch.atan2(turned[:, 1], turned[:, 0])
    expected = 3 * np.pi * t
    difference = torch.remainder(angle - expected + np.pi, 2 * np.pi) - np.pi
    assert float(difference.abs().max()) < 1e-4


def test_noise_moves_points_by_about_its_size():
    clean = make("circles", noise=0.0, n=2000, seed=3)
    noisy = make("circles", noise=0.2, n=2000, seed=3)
    radius_clean = clean.train_x.norm(dim=1)
    radius_noisy = noisy.train_x.norm(dim=1)
    # jitter of 0.2 per coordinate blurs the gap between disc (<= 0.45) and ring (>= 0.65)
    assert float(radius_clean[clean.train_y == 0].max()) < 0.46
    assert float(radius_noisy[noisy.train_y == 0].max()) > 0.6


def test_the_result_is_frozen_and_describes_itself():
    data = make("xor", seed=2, noise=0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.noise = 0.3
    assert "xor" in repr(data) and "seed=2" in repr(data)
    assert data.noise == 0.1 and data.seed == 2
    assert set(nv.datasets.TOY_DATASETS) == {*NAMES, "plane", "multi-gaussian"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"n": 3}, ValueError, "n must be an integer of at least 8"),
        ({"n": 10.5}, ValueError, "n must be an integer"),
        ({"noise": -0.1}, ValueError, "noise must be from 0 to 1"),
        ({"noise": 2.0}, ValueError, "noise must be from 0 to 1"),
        ({"noise": "high"}, TypeError, "noise must be a number"),
        ({"test_fraction": 0.0}, ValueError, "strictly between 0 and 1"),
        ({"test_fraction": 1.0}, ValueError, "strictly between 0 and 1"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"seed": 1.5}, ValueError, "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments_are_named(name, kwargs, error, words):
    with pytest.raises(error, match=words):
        make(name, **kwargs)


def fingerprint(data) -> str:
    digest = hashlib.sha256()
    for field in ("train_x", "train_y", "test_x", "test_y"):
        digest.update(getattr(data, field).numpy().tobytes())
    return digest.hexdigest()[:16]


def test_the_two_class_sets_are_the_points_they_always_were():
    # digests of the points before 3-5 classes and regression sets were added
    assert {name: fingerprint(make(name, n=101, noise=0.1, seed=3)) for name in NAMES} == {
        "circles": "28954fb85efa1510",
        "xor": "fa5be2be3471003e",
        "gaussians": "10632c4c8e8be787",
        "spirals": "8ebed41829b1869d",
    }
    x = np.random.default_rng(0).normal(size=(50, 2))
    own = nv.datasets.own_data((x, (x[:, 0] > 0).astype(int)), seed=2)
    assert fingerprint(own) == "8d1d3ca43d680374" and own.classes == 2


@pytest.mark.parametrize("name", ["gaussians", "spirals"])
@pytest.mark.parametrize("classes", [3, 4, 5])
def test_k_class_sets_have_k_equal_classes_in_both_splits_and_repeat(name, classes):
    data = make(name, n=203, classes=classes, seed=4)
    assert data.classes == classes and not data.regression
    assert data.train_x.shape[1] == 2 and len(data.train_x) + len(data.test_x) == 203
    for split in (data.train_y, data.test_y):
        assert split.dtype == torch.int64 and set(split.tolist()) == set(range(classes))
    counts = np.bincount(np.concatenate([data.train_y, data.test_y]))
    assert counts.max() - counts.min() <= 1
    again = make(name, n=203, classes=classes, seed=4)
    assert torch.equal(data.train_x, again.train_x) and torch.equal(data.test_y, again.test_y)
    assert f"{classes} classes" in repr(data)


def test_k_gaussian_clouds_sit_apart_on_a_circle():
    data = make("gaussians", n=500, classes=4, noise=0.0)
    centres = np.stack([data.train_x[data.train_y == k].mean(dim=0).numpy() for k in range(4)])
    assert np.allclose(np.hypot(*centres.T), 0.6, atol=0.06)


@pytest.mark.parametrize("name", ["plane", "multi_gaussian"])
def test_regression_sets_have_float_targets_in_range_and_repeat(name):
    data = make(name, n=300, seed=5)
    assert data.regression and data.classes == 0 and "regression" in repr(data)
    y = torch.cat([data.train_y, data.test_y])
    assert y.dtype == torch.float32 and y.min() >= -1.0 and y.max() <= 1.0 and y.std() > 0.1
    assert len(data.test_y) == 150 and torch.equal(data.train_x, make(name, n=300, seed=5).train_x)
    assert not torch.equal(data.train_y, make(name, n=300, seed=6).train_y)


def test_regression_targets_follow_tf_playgrounds_shapes():
    plane = make("plane", n=200, noise=0.0)
    x, y = plane.train_x.numpy(), plane.train_y.numpy()
    np.testing.assert_allclose(y, (x[:, 0] + x[:, 1]) / 2, atol=1e-6)
    bumps = make("multi_gaussian", n=4000, noise=0.0)
    x, y = bumps.train_x.numpy(), bumps.train_y.numpy()
    near = np.hypot(x[:, 0] - 0.0, x[:, 1] - 2.5 / 6) < 0.05  # the top middle bump: -1
    far = np.abs(x[:, 1]) < 0.05  # between the rows, over 1/3 from every centre
    assert (y[near] < -0.8).all() and (y[far] == 0.0).all()


@pytest.mark.parametrize(
    ("name", "kwargs", "words"),
    [
        ("gaussians", {"classes": 6}, "classes must be 2 to 5 for 'gaussians', got 6"),
        ("spirals", {"classes": 1}, "classes must be 2 to 5"),
        ("spirals", {"classes": 5, "n": 9}, "n must be an integer of at least 10"),
    ],
)
def test_a_number_of_classes_that_will_not_do_is_refused(name, kwargs, words):
    with pytest.raises(ValueError, match=words):
        make(name, **kwargs)
