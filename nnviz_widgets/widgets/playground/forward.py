"""The Playground's network over the input plane, in numpy, from recorded weights.

A forward pass of a small MLP over a grid of points of the plane, so that any recorded snapshot
can be drawn (the decision boundary, each neuron's map) without a torch model: scrubbing back to
epoch 3 shows epoch 3 exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "EXTENT",
    "activate",
    "forward",
    "grid",
    "output_range",
    "output_values",
    "prediction",
    "probability",
]

#: Half the side of the square of the plane shown: the toy sets lie in [-1, 1]^2 before noise.
EXTENT = 1.5

#: Activation functions by name, in numpy (float32 in, float32 out).
ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, np.float32(0.0)),
    "sigmoid": lambda z: _sigmoid(z),
    "linear": lambda z: z,
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # split by sign so that exp never overflows
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """Apply the activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        function = ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid: {', '.join(map(repr, ACTIVATIONS))}"
        ) from None
    return function(z)


def grid(extent: float, resolution: int) -> np.ndarray:
    """Points of a square grid over ``[-extent, extent]^2``, shape ``(resolution**2, 2)``.

    Row-major in image order: the first row is the top of the picture (largest second
    coordinate), each row runs left to right (increasing first coordinate). Points sit at pixel
    centres, so an image of the values covers exactly the square.
    """
    step = 2.0 * extent / resolution
    centres = -extent + step * (np.arange(resolution) + 0.5)
    first, second = np.meshgrid(centres, centres[::-1])
    return np.stack([first.ravel(), second.ravel()], axis=1).astype(np.float32)


def forward(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: str | Sequence[str],
    points: np.ndarray,
) -> list[np.ndarray]:
    """Every layer's output for ``points``: an MLP with ``activation`` between Linear layers.

    Parameters
    ----------
    weights, biases : sequences of arrays
        Per Linear layer, ``(out, in)`` and ``(out,)``, as ``torch.nn.Linear`` stores them.
    activation : str or sequence of str
        Applied after each layer but the last, as in the Playground's model: one name for
        every layer, or one per hidden layer.
    points : array
        ``(n, 2)`` inputs.

    Returns
    -------
    list of arrays
        ``[points, hidden_1, ..., hidden_k, logits]``, each ``(n, units)`` float32.
    """
    outputs = [np.asarray(points, dtype=np.float32)]
    last = len(weights) - 1
    per_layer = [activation] * last if isinstance(activation, str) else list(activation)
    for i, (w, b) in enumerate(zip(weights, biases)):
        # einsum, not @: no BLAS call while a run trains (docs/architecture.md, "Facts")
        z = np.einsum("nk,jk->nj", outputs[-1], np.asarray(w, dtype=np.float32))
        z += np.asarray(b, dtype=np.float32)
        outputs.append(z if i == last else activate(per_layer[i], z).astype(np.float32))
    return outputs


def probability(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: str | Sequence[str],
    points: np.ndarray,
) -> np.ndarray:
    """The network's probability of class 1 at each of ``points``: the sigmoid of its logit."""
    logits = forward(weights, biases, activation, points)[-1]
    return activate("sigmoid", logits[:, 0])


def output_values(logits: np.ndarray, classes: int = 2) -> np.ndarray:
    """What the output layer's ``(n, units)`` values mean, as the pictures show them.

    Two classes: the probability of class 1 (the sigmoid of the one logit); 3 to 5 classes:
    each class's probability (the softmax over the logits); ``classes`` 0, a regression: the
    prediction itself. See :mod:`.objective` for the same in torch.
    """
    z = np.asarray(logits, dtype=np.float32)
    if classes == 0:
        return z
    if classes == 2:
        return activate("sigmoid", z)
    shifted = np.exp(z - z.max(axis=1, keepdims=True))  # shifted: exp never overflows
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def output_range(classes: int = 2) -> tuple[float, float]:
    """The range of :func:`output_values`' colours: [0, 1] for probabilities, [-1, 1] for a
    regression's prediction (its targets' range)."""
    return (-1.0, 1.0) if classes == 0 else (0.0, 1.0)


def prediction(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activation: str | Sequence[str],
    points: np.ndarray,
    classes: int = 2,
) -> np.ndarray:
    """The network's answer at each of ``points``: ``(n,)`` for two classes (the probability
    of class 1, as :func:`probability`) and a regression (the prediction), ``(n, classes)``
    for 3 to 5 classes (each class's probability)."""
    values = output_values(forward(weights, biases, activation, points)[-1], classes)
    return values if classes >= 3 else values[:, 0]
