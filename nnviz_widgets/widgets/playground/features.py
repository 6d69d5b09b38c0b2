"""The Playground's input features: what the network sees of a point (x1, x2), in numpy.

As in TensorFlow Playground, the network may be fed more than the two coordinates: their
squares, their product and their sines. :func:`expand` turns points of the plane into the chosen
features, for training (the data) and for drawing (the grid of the plane) alike, so that every
picture is the network's own view of the plane at any snapshot (docs/playground.md, "Input
features").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["DEFAULT_FEATURES", "FEATURES", "check_features", "expand"]

#: Every input feature by name, each a function of the two coordinates (float32 arrays).
FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin x1": lambda x1, x2: np.sin(x1),
    "sin x2": lambda x1, x2: np.sin(x2),
}

#: The features a Playground starts with: the plain coordinates.
DEFAULT_FEATURES = ("x1", "x2")


def check_features(names: Sequence[str]) -> bool:
    """Whether ``names`` is a valid choice: one or more distinct names of :data:`FEATURES`."""
    names = list(names)
    return 0 < len(names) == len(set(names)) and all(name in FEATURES for name in names)


def expand(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The features ``names`` of ``points`` (``(n, 2)``), as an ``(n, len(names))`` float32 array.

    Columns follow the order of ``names``, as the network's first layer sees them.
    """
    points = np.asarray(points, dtype=np.float32)
    x1, x2 = points[:, 0], points[:, 1]
    columns = [np.asarray(FEATURES[name](x1, x2), dtype=np.float32) for name in names]
    return np.stack(columns, axis=1)
