"""The 2-D toy data sets of the Playground: the generators, their classes or targets, the split.

``circles``, ``xor``, ``gaussians`` and ``spirals`` are classification sets (two classes;
``gaussians`` and ``spirals`` also 3 to 5, with ``classes=``); ``plane`` and ``multi_gaussian``
regression sets, a target in [-1, 1] for each point (as TF Playground's, in our own code). Every
point lies in about [-1, 1] x [-1, 1] before noise; the same arguments give the same points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "CLASS_RANGE",
    "MULTICLASS_DATASETS",
    "REGRESSION_DATASETS",
    "STREAMS",
    "TOY_DATASETS",
    "ToyData",
    "circles",
    "gaussians",
    "multi_gaussian",
    "plane",
    "spirals",
    "split_classes",
    "split_targets",
    "xor",
]


@dataclass(frozen=True)
class ToyData:
    """A 2-D toy data set, split into train and test points.

    Attributes
    ----------
    name : str
        Which generator made it (``"circles"``, ``"xor"``, ``"gaussians"``, ``"spirals"``,
        ``"plane"``, ``"multi-gaussian"``, or ``"own"``).
    train_x, test_x : torch.Tensor
        float32 points, shape ``(n, 2)``; before noise they lie in [-1, 1] x [-1, 1].
    train_y, test_y : torch.Tensor
        Shape ``(n,)``: int64 class labels 0 to ``classes - 1``, or, for a regression set,
        float32 targets in [-1, 1].
    noise : float
        The standard deviation of the Gaussian jitter that was added to every point.
    seed : int
        The seed the points were drawn with.
    classes : int
        The number of classes (2 to 5); 0 for a regression set.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    noise: float
    seed: int
    classes: int = 2

    @property
    def regression(self) -> bool:
        """Whether the targets are numbers to predict (a linear output, MSE) not classes."""
        return self.classes == 0

    def __repr__(self) -> str:
        kind = "regression" if self.regression else f"{self.classes} classes"
        return (
            f"ToyData({self.name!r}, {kind}, {len(self.train_y)} train and {len(self.test_y)} "
            f"test points, noise={self.noise:g}, seed={self.seed})"
        )


def circles(
    n: int = 400, *, noise: float = 0.05, test_fraction: float = 0.5, seed: int = 0
) -> ToyData:
    """A disc of class 0 inside a ring of class 1: a linear model cannot separate them.

    Parameters
    ----------
    n : int
        Total number of points (train and test), at least 8; each class gets half.
    noise : float
        Standard deviation of the Gaussian jitter added to each coordinate, 0 to 1 (the data's
        radius is 1).
    test_fraction : float
        Share of each class put in the test set, strictly between 0 and 1.
    seed : int
        Seeds the points and the split; the same seed always gives the same data.

    Returns
    -------
    ToyData
    """
    return _toy("circles", n, noise, test_fraction, seed)


def xor(n: int = 400, *, noise: float = 0.05, test_fraction: float = 0.5, seed: int = 0) -> ToyData:
    """Four quadrants: class 1 where both coordinates have the same sign, class 0 elsewhere.

    The arguments and the result are those of :func:`circles`.
    """
    return _toy("xor", n, noise, test_fraction, seed)


def gaussians(
    n: int = 400,
    *,
    noise: float = 0.05,
    test_fraction: float = 0.5,
    seed: int = 0,
    classes: int = 2,
) -> ToyData:
    """Gaussian clouds, one per class: with two, class 0 around (-0.5, -0.5), class 1 around
    (0.5, 0.5).

    The easy case: straight lines separate them. The arguments and the result are those of
    :func:`circles`; each cloud has a spread of 0.2 before ``noise`` is added. ``classes`` 3 to
    5 puts the clouds' centres evenly on a circle of radius 0.6.
    """
    return _toy("gaussians", n, noise, test_fraction, seed, classes)


def spirals(
    n: int = 400,
    *,
    noise: float = 0.05,
    test_fraction: float = 0.5,
    seed: int = 0,
    classes: int = 2,
) -> ToyData:
    """Interleaved spiral arms of one and a half turns each, one per class: the hard case.

    The arguments and the result are those of :func:`circles`; two arms are about 0.3 apart,
    so a ``noise`` near that blurs them together. ``classes`` 3 to 5 makes that many arms,
    each the first turned by a k-th of a turn (closer together: harder).
    """
    return _toy("spirals", n, noise, test_fraction, seed, classes)


def plane(
    n: int = 400, *, noise: float = 0.05, test_fraction: float = 0.5, seed: int = 0
) -> ToyData:
    """Regression: points uniform over [-1, 1]^2, the target ``(x1 + x2) / 2``, a tilted plane.

    As TF Playground's "plane" (its plane over [-6, 6]^2 scaled to ours): a linear model fits
    it. The arguments are those of :func:`circles`, except that the split is not by class; the
    target is computed from the point before ``noise`` jitters it.
    """
    return _toy("plane", n, noise, test_fraction, seed, 0)


def multi_gaussian(
    n: int = 400, *, noise: float = 0.05, test_fraction: float = 0.5, seed: int = 0
) -> ToyData:
    """Regression: six bumps in two rows of three, alternately +1 and -1 at their centres.

    As TF Playground's "multi-gaussian": each bump falls linearly from its sign at the centre
    to 0 at a distance of 1/3 (TF Playground's 2 on its [-6, 6] plane), and a point's target
    is the bump of largest magnitude there; 0 away from all of them. Points uniform over
    [-1, 1]^2; the arguments are those of :func:`plane`.
    """
    return _toy("multi-gaussian", n, noise, test_fraction, seed, 0)


def _circles_points(rng: np.random.Generator, counts: Sequence[int]) -> list[np.ndarray]:
    points = []
    for label, (low, high) in enumerate(((0.0, 0.45), (0.65, 1.0))):
        # sqrt makes the points uniform over the disc's or ring's area, not crowded at the centre
        radius = np.sqrt(rng.uniform(low**2, high**2, counts[label]))
        angle = rng.uniform(0.0, 2 * np.pi, counts[label])
        points.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
    return points


def _xor_points(rng: np.random.Generator, counts: Sequence[int]) -> list[np.ndarray]:
    points = []
    for label in (0, 1):
        # magnitudes away from the axes, then signs chosen per class: equal signs are class 1
        size = rng.uniform(0.05, 1.0, (counts[label], 2))
        first = rng.choice([-1.0, 1.0], counts[label])
        second = first if label == 1 else -first
        points.append(size * np.stack([first, second], axis=1))
    return points


def _gaussians_points(rng: np.random.Generator, counts: Sequence[int]) -> list[np.ndarray]:
    if len(counts) == 2:  # the two-class set as it always was: on the diagonal
        centres = [(-0.5, -0.5), (0.5, 0.5)]
    else:  # evenly on a circle, the first at the top
        turn = 2 * np.pi * np.arange(len(counts)) / len(counts)
        centres = list(zip(0.6 * np.sin(turn), 0.6 * np.cos(turn)))
    return [rng.normal(centres[k], 0.2, (count, 2)) for k, count in enumerate(counts)]


def _spirals_points(rng: np.random.Generator, counts: Sequence[int]) -> list[np.ndarray]:
    points = []
    for label, count in enumerate(counts):
        t = rng.uniform(0.0, 1.0, count)
        radius = 0.08 + 0.92 * t
        # arm k is the first turned by k/len(counts) of a turn (two arms: by pi)
        angle = 1.5 * 2 * np.pi * t + label * 2 * np.pi / len(counts)
        points.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
    return points


def _plane_targets(points: np.ndarray) -> np.ndarray:
    return (points[:, 0] + points[:, 1]) / 2.0


#: The bumps of "multi-gaussian": centre and sign, TF Playground's six scaled from [-6, 6]^2.
_BUMPS = [
    ((cx / 6.0, cy / 6.0), sign)
    for cx, cy, sign in (
        (-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)
    )
]  # fmt: skip


def _multi_gaussian_targets(points: np.ndarray) -> np.ndarray:
    bumps = []
    for (cx, cy), sign in _BUMPS:
        distance = np.hypot(points[:, 0] - cx, points[:, 1] - cy)
        bumps.append(sign * np.clip(1.0 - 3.0 * distance, 0.0, 1.0))
    bumps = np.stack(bumps, axis=1)
    strongest = np.argmax(np.abs(bumps), axis=1)
    return bumps[np.arange(len(points)), strongest]


_GENERATORS = {
    "circles": _circles_points,
    "xor": _xor_points,
    "gaussians": _gaussians_points,
    "spirals": _spirals_points,
}

_TARGETS = {"plane": _plane_targets, "multi-gaussian": _multi_gaussian_targets}

#: The toy data sets by name, as :class:`~nnviz_widgets.Playground` offers them.
TOY_DATASETS = {
    "circles": circles,
    "xor": xor,
    "gaussians": gaussians,
    "spirals": spirals,
    "plane": plane,
    "multi-gaussian": multi_gaussian,
}
#: The toy sets that take ``classes=`` (2 to 5).
MULTICLASS_DATASETS = ("gaussians", "spirals")
#: The toy sets whose targets are numbers in [-1, 1] (a regression), not classes.
REGRESSION_DATASETS = ("plane", "multi-gaussian")
#: The numbers of classes a classification set may have.
CLASS_RANGE = (2, 5)
#: The random stream of each generator (the seed's second word): fixed, so that adding a set
#: changes none of the others' points.
STREAMS = {"circles": 0, "xor": 1, "gaussians": 2, "spirals": 3, "own": 4, "plane": 5,
            "multi-gaussian": 6}  # fmt: skip


def _toy(
    name: str, n: object, noise: object, test_fraction: object, seed: object, classes: object = 2
) -> ToyData:
    low, high = CLASS_RANGE
    if name in _GENERATORS and (
        isinstance(classes, bool) or not isinstance(classes, int | np.integer)
        or not low <= classes <= high or (classes != 2 and name not in MULTICLASS_DATASETS)
    ):  # fmt: skip
        allowed = f"{low} to {high}" if name in MULTICLASS_DATASETS else "2"
        raise ValueError(f"classes must be {allowed} for {name!r}, got {classes!r}")
    least = max(8, 2 * int(classes))
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < least:
        raise ValueError(
            f"n must be an integer of at least {least} (every class in both splits), got {n!r}"
        )
    if isinstance(noise, bool) or not isinstance(noise, int | float | np.number):
        raise TypeError(f"noise must be a number from 0 to 1, got {type(noise).__name__}")
    if not 0.0 <= float(noise) <= 1.0:
        raise ValueError(f"noise must be from 0 to 1 (a standard deviation), got {noise!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float | np.number):
        raise TypeError(
            f"test_fraction must be a number between 0 and 1, got {type(test_fraction).__name__}"
        )
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n, noise, seed = int(n), float(noise), int(seed)
    rng = np.random.default_rng([seed, STREAMS[name]])
    if name in _TARGETS:
        points = rng.uniform(-1.0, 1.0, (n, 2))
        targets = _TARGETS[name](points)  # from the point before it is jittered
        return split_targets(name, points, targets, rng, noise, float(test_fraction), seed)
    k = int(classes)
    # equal shares, the remainder to the last classes (two classes: n // 2 and the rest)
    counts = [n // k + (1 if label >= k - n % k else 0) for label in range(k)]
    groups = _GENERATORS[name](rng, counts)
    return split_classes(name, groups, rng, noise, float(test_fraction), seed)


def split_classes(
    name: str,
    classes: list[np.ndarray],
    rng: np.random.Generator,
    noise: float,
    test_fraction: float,
    seed: int,
) -> ToyData:
    """Jitter each class's points, split each into train and test, mix: a ToyData."""
    train, test = [], []
    for label, points in enumerate(classes):
        if noise > 0:
            points = points + rng.normal(0.0, noise, points.shape)
        # a stratified split, at least one point of each class on each side
        n_test = min(max(1, round(len(points) * test_fraction)), len(points) - 1)
        order = rng.permutation(len(points))
        labels = np.full(len(points), label, dtype=np.int64)
        test.append((points[order[:n_test]], labels[order[:n_test]]))
        train.append((points[order[n_test:]], labels[order[n_test:]]))

    def join(parts: list) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.concatenate([p for p, _ in parts]).astype(np.float32)
        y = np.concatenate([labels for _, labels in parts])
        order = rng.permutation(len(y))  # mixed classes: a loader without shuffling still works
        return torch.from_numpy(x[order].copy()), torch.from_numpy(y[order].copy())

    train_x, train_y = join(train)
    test_x, test_y = join(test)
    return ToyData(name, train_x, train_y, test_x, test_y, noise, seed, len(classes))


def split_targets(
    name: str,
    points: np.ndarray,
    targets: np.ndarray,
    rng: np.random.Generator,
    noise: float,
    test_fraction: float,
    seed: int,
) -> ToyData:
    """Jitter the points, split them at random into train and test: a regression ToyData."""
    if noise > 0:
        points = points + rng.normal(0.0, noise, points.shape)
    n_test = min(max(1, round(len(points) * test_fraction)), len(points) - 1)
    order = rng.permutation(len(points))
    x = torch.from_numpy(points.astype(np.float32))
    y = torch.from_numpy(targets.astype(np.float32))
    test, train = torch.from_numpy(order[:n_test]), torch.from_numpy(order[n_test:])
    return ToyData(name, x[train], y[train], x[test], y[test], noise, seed, 0)
