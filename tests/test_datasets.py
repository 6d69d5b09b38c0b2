"""Bundled data and models: offline, deterministic, the right shapes."""

from __future__ import annotations

import pytest
import torch

import nnviz_widgets as nv


def test_digits_split_is_deterministic_and_stratified():
    a, b = nv.datasets.digits(seed=3), nv.datasets.digits(seed=3)
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    c = nv.datasets.digits(seed=4)
    assert not torch.equal(a.test_labels, c.test_labels) or not torch.equal(
        a.test_images, c.test_images
    )
    assert a.train_images.shape[1:] == (1, 8, 8) and a.train_images.dtype == torch.float32
    assert len(a.train_labels) + len(a.test_labels) == 1797
    assert float(a.train_images.min()) >= 0.0 and float(a.train_images.max()) <= 1.0
    counts = torch.bincount(a.test_labels, minlength=10)
    assert int(counts.min()) >= 40  # every digit in the test set
    assert a.probe_labels.tolist() == [d for d in range(10) for _ in range(2)]


def test_digits_resized_for_lenet5():
    data = nv.datasets.digits(size=28, probe_per_class=1)
    assert data.train_images.shape[1:] == (1, 28, 28)
    assert data.probe_images.shape == (10, 1, 28, 28)
    logits = nv.models.LeNet5()(data.probe_images)
    assert logits.shape == (10, 10)


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="size must be an integer >= 8"):
        nv.datasets.digits(size=4)
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        nv.datasets.digits(test_fraction=1.5)


def test_train_loader_order_is_fixed_by_its_seed():
    data = nv.datasets.digits()
    first = next(iter(data.train_loader(batch_size=16, seed=1)))[1]
    again = next(iter(data.train_loader(batch_size=16, seed=1)))[1]
    assert torch.equal(first, again)


def test_mlp_shapes_and_validation():
    model = nv.models.MLP((2, 8, 8, 1), activation=torch.nn.Tanh)
    assert model(torch.zeros(5, 2)).shape == (5, 1)
    assert sum(isinstance(m, torch.nn.Tanh) for m in model) == 2
    with pytest.raises(ValueError, match="at least two positive widths"):
        nv.models.MLP((3,))
