"""Bundled data for demos and benchmarks, available offline.

``digits()`` gives the 8x8 handwritten digits that scikit-learn ships (1,797 images, from the UCI
"Optical Recognition of Handwritten Digits" set), optionally resized to the 28x28 that LeNet-5
expects, split into train and test sets deterministically, with a fixed probe batch.

``circles()``, ``xor()``, ``gaussians()`` and ``spirals()`` make the 2-D toy classification sets
the :class:`~nnviz_widgets.Playground` trains on (two classes; ``gaussians`` and ``spirals`` also 3
to 5, with ``classes=``); ``plane()`` and ``multi_gaussian()`` the regression sets, a target in
[-1, 1] for each point. Every point lies in about [-1, 1] x [-1, 1] (before noise), the classes
share the points equally, and the same arguments always give the same points. ``own_data()``
makes the same kind of set from a user's own two-feature points and their labels or targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nnviz_widgets.datasets.own import own_data
from nnviz_widgets.datasets.toy import (
    CLASS_RANGE,
    MULTICLASS_DATASETS,
    REGRESSION_DATASETS,
    TOY_DATASETS,
    ToyData,
    circles,
    gaussians,
    multi_gaussian,
    plane,
    spirals,
    xor,
)

__all__ = [
    "CLASS_RANGE",
    "MULTICLASS_DATASETS",
    "REGRESSION_DATASETS",
    "TOY_DATASETS",
    "Digits",
    "ToyData",
    "circles",
    "digits",
    "gaussians",
    "multi_gaussian",
    "own_data",
    "plane",
    "spirals",
    "xor",
]


@dataclass(frozen=True)
class Digits:
    """The digits data set, as float32 image tensors in [0, 1] and int64 labels.

    Attributes
    ----------
    train_images, test_images : torch.Tensor
        Shape ``(n, 1, size, size)``.
    train_labels, test_labels : torch.Tensor
        Shape ``(n,)``, values 0 to 9.
    probe_images, probe_labels : torch.Tensor
        A fixed batch from the test set with ``probe_per_class`` images of each digit, in
        digit order: pass ``(probe_images, probe_labels)`` as a Recorder's probe.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    probe_images: torch.Tensor
    probe_labels: torch.Tensor

    def train_loader(self, batch_size: int = 64, *, seed: int = 0) -> torch.utils.data.DataLoader:
        """A shuffling loader over the train set, its order fixed by ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        dataset = torch.utils.data.TensorDataset(self.train_images, self.train_labels)
        return torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=True, generator=generator
        )


def digits(
    *,
    size: int = 8,
    test_fraction: float = 0.25,
    probe_per_class: int = 2,
    seed: int = 0,
) -> Digits:
    """Load scikit-learn's 8x8 handwritten digits, split and ready for training.

    Parameters
    ----------
    size : int
        Side of the returned images: 8 (as shipped) or larger, resized bilinearly (28 suits
        LeNet-5).
    test_fraction : float
        Share of each digit's images put in the test set, strictly between 0 and 1.
    probe_per_class : int
        Images per digit in the probe batch (taken from the test set).
    seed : int
        Seeds the split; the same seed always gives the same split.

    Returns
    -------
    Digits
    """
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8 (the digits are 8x8), got {size!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    if not isinstance(probe_per_class, int) or probe_per_class < 1:
        raise ValueError(f"probe_per_class must be a positive integer, got {probe_per_class!r}")
    from sklearn.datasets import load_digits  # shipped with scikit-learn: no download

    raw = load_digits()
    images = torch.from_numpy((raw.images / 16.0).astype(np.float32)).unsqueeze(1)
    labels = torch.from_numpy(raw.target.astype(np.int64))
    if size != 8:
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        ).clamp_(0.0, 1.0)

    train_index, test_index, probe_index = _stratified_split(
        raw.target, test_fraction, probe_per_class, seed
    )
    return Digits(
        train_images=images[train_index].contiguous(),
        train_labels=labels[train_index].contiguous(),
        test_images=images[test_index].contiguous(),
        test_labels=labels[test_index].contiguous(),
        probe_images=images[probe_index].contiguous(),
        probe_labels=labels[probe_index].contiguous(),
    )


def _stratified_split(
    targets: np.ndarray, test_fraction: float, probe_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, test and probe indices: the same share of every digit in the test set, and the
    probe taken from the test set in digit order (0, 0, 1, 1, ...)."""
    rng = np.random.default_rng(seed)
    train_index, test_index, probe_index = [], [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(targets == digit))
        n_test = max(probe_per_class, round(len(members) * test_fraction))
        test_index.extend(members[:n_test])
        probe_index.extend(members[:probe_per_class])
        train_index.extend(members[n_test:])
    return (
        np.sort(np.asarray(train_index)),
        np.sort(np.asarray(test_index)),
        np.asarray(probe_index),
    )
