"""Adversarial examples: a small change to an input, along the loss's gradient, that changes
the model's prediction.

FGSM (Goodfellow et al. 2015) takes one step of size ``epsilon`` along the sign of the
gradient of the loss with respect to the input; PGD (Madry et al. 2018) takes several smaller
steps from a random start, each projected back into the ``epsilon`` box around the input. Both
keep the input in the data's value range. They run on a copy of the model (at its weights or a
recorded snapshot's, :func:`~nnviz_widgets.understand.weights.working_copy`) with their own
random generator (``docs/understanding.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnviz_widgets.understand.inputs import input_range
from nnviz_widgets.understand.weights import working_copy

__all__ = ["AdversarialExample", "adversarial"]

METHODS = ("fgsm", "pgd")


@dataclass(frozen=True)
class AdversarialExample:
    """What :func:`adversarial` found, for each input of the batch (numpy, float32).

    Attributes
    ----------
    original, adversarial, perturbation : np.ndarray
        The inputs, the perturbed inputs and their difference (``adversarial - original``),
        each shaped like the inputs.
    saliency : np.ndarray
        The gradient of the loss with respect to the original input (its size says where a
        change matters most), shaped like the inputs.
    probabilities_before, probabilities_after : np.ndarray
        ``(N, classes)`` softmax of the model's output on the original and perturbed inputs.
    labels : np.ndarray
        int64 ``(N,)``: the true classes.
    epsilon : float
        The largest change allowed to any input value.
    method : str
        ``"fgsm"`` or ``"pgd"``.
    snapshot : int or None
        The recorded snapshot whose weights were used (None: the model's own).
    """

    original: np.ndarray
    adversarial: np.ndarray
    perturbation: np.ndarray
    saliency: np.ndarray
    probabilities_before: np.ndarray
    probabilities_after: np.ndarray
    labels: np.ndarray
    epsilon: float
    method: str
    snapshot: int | None

    @property
    def predicted_before(self) -> np.ndarray:
        """The predicted class of each original input."""
        return self.probabilities_before.argmax(axis=1)

    @property
    def predicted_after(self) -> np.ndarray:
        """The predicted class of each perturbed input."""
        return self.probabilities_after.argmax(axis=1)


def adversarial(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    method: str = "fgsm",
    epsilon: float = 0.1,
    steps: int = 10,
    step_size: float | None = None,
    value_range: tuple[float, float] | None = None,
    recording: object | None = None,
    snapshot: int = -1,
    seed: int = 0,
) -> AdversarialExample:
    """Perturb ``images`` by at most ``epsilon`` per value so that the model misclassifies them.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits ``(N, classes)`` (left untouched: the work runs on a copy
        in eval mode).
    images : torch.Tensor
        Inputs ``(N, ...)``, e.g. the probe's digits; or one input with an int ``labels``
        (a batch of one: the results then have N = 1).
    labels : torch.Tensor or int
        Their true classes, int64 ``(N,)``.
    method : {"fgsm", "pgd"}
        One signed-gradient step, or ``steps`` projected steps from a random start.
    epsilon : float
        The largest change of any input value (the L-infinity radius).
    steps, step_size : int, float
        PGD's number of steps and step (default ``2.5 * epsilon / steps``).
    value_range : (float, float), optional
        Keep the perturbed values in this range (default: the images' smallest and largest).
    recording, snapshot : Recording, int
        Use the weights this recording holds at that snapshot (whole weights needed, as for
        :func:`~nnviz_widgets.understand.feature_visualization`).
    seed : int
        Seeds PGD's random start.

    Returns
    -------
    AdversarialExample
    """
    _check_options(method, epsilon, steps)
    images, labels = _check_batch(images, labels)
    low, high = input_range(images, value_range)
    copied = working_copy(model, recording, snapshot)
    device = next((p.device for p in copied.parameters()), torch.device("cpu"))
    original = images.to(device)
    target = labels.to(device)

    saliency = _input_gradient(copied, original, target)
    if method == "fgsm":
        perturbed = (original + epsilon * saliency.sign()).clamp(low, high)
    else:
        step = 2.5 * epsilon / steps if step_size is None else float(step_size)
        box = (epsilon, low, high)
        perturbed = _pgd(copied, original, target, box, steps, step, seed)
    with torch.no_grad():
        before = F.softmax(copied(original), dim=1)
        after = F.softmax(copied(perturbed), dim=1)
    return AdversarialExample(
        original=_numpy(original),
        adversarial=_numpy(perturbed),
        perturbation=_numpy(perturbed - original),
        saliency=_numpy(saliency),
        probabilities_before=_numpy(before),
        probabilities_after=_numpy(after),
        labels=labels.numpy().astype(np.int64),
        epsilon=float(epsilon),
        method=method,
        snapshot=None if recording is None else snapshot % len(recording.snapshots),
    )


def _check_options(method: object, epsilon: object, steps: object) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not (isinstance(epsilon, (int, float)) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    if method == "pgd" and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")


def _pgd(
    model: nn.Module,
    original: torch.Tensor,
    target: torch.Tensor,
    box: tuple[float, float, float],
    steps: int,
    step: float,
    seed: int,
) -> torch.Tensor:
    """PGD: from a random start in the box, ``steps`` signed-gradient steps of size ``step``,
    each projected back into it; ``box``: (epsilon, low, high), the largest change of a value
    and the range values stay in."""
    epsilon, low, high = box
    generator = torch.Generator().manual_seed(seed)
    start = (torch.rand(original.shape, generator=generator) * 2 - 1).to(original.device)
    perturbed = (original + epsilon * start).clamp(low, high)
    for _ in range(steps):
        gradient = _input_gradient(model, perturbed, target)
        perturbed = perturbed + step * gradient.sign()
        perturbed = torch.min(torch.max(perturbed, original - epsilon), original + epsilon)
        perturbed = perturbed.clamp(low, high)
    return perturbed


def _check_batch(images: object, labels: object) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(images, torch.Tensor) or images.ndim < 2 or not images.is_floating_point():
        raise ValueError("images must be a floating-point tensor of inputs, shape (N, ...)")
    labels = torch.as_tensor(labels)
    if labels.ndim == 0:  # one image and its class: a batch of one
        images, labels = images[None], labels[None]
    if labels.shape != images.shape[:1] or labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"labels must be integer classes, one per image: shape ({images.shape[0]},), "
            f"got {tuple(labels.shape)} {labels.dtype}"
        )
    return images.detach().to("cpu", torch.float32), labels.detach().to("cpu", torch.int64)


def _input_gradient(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The gradient of the summed cross-entropy with respect to ``inputs`` (each sample's own)."""
    leaf = inputs.detach().requires_grad_(True)
    loss = F.cross_entropy(model(leaf), labels, reduction="sum")
    (gradient,) = torch.autograd.grad(loss, leaf)
    return gradient.detach()


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)
