"""Feature visualization (activation maximization): the input each unit of a layer wants most.

The recipe (``docs/understanding.md``): one image per unit, all optimized together as one batch
with Adam; each image is a scaled Fourier spectrum squashed into the data's range
(:class:`~nnviz_widgets.understand.parameterization.FourierImage`), randomly shifted, scaled and
rotated at each step (:class:`~nnviz_widgets.understand.transforms.RandomTransform`), and its
total variation is penalized. It runs on a copy of the model, at its weights or a recorded
snapshot's (:func:`~nnviz_widgets.understand.weights.working_copy`), with its own random
generator: the caller's model and torch's global random state are left as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nnviz_widgets.understand.inputs import input_batch, input_range
from nnviz_widgets.understand.objective import (
    WHERE,
    check_layer,
    check_units,
    layer_output,
    unit_activations,
)
from nnviz_widgets.understand.parameterization import FourierImage
from nnviz_widgets.understand.transforms import RandomTransform
from nnviz_widgets.understand.weights import working_copy

__all__ = ["Features", "feature_visualization"]


@dataclass(frozen=True)
class Features:
    """What :func:`feature_visualization` found.

    Attributes
    ----------
    layer : str
        The layer's name.
    units : tuple of int
        The units, in the order of ``images``.
    images : np.ndarray
        float32 ``(len(units), channels, height, width)``: the input each unit wants.
    activations : np.ndarray
        float32 ``(len(units),)``: each unit's activation on its image (untransformed).
    value_range : (float, float)
        The range the images' values were kept in.
    snapshot : int or None
        The recorded snapshot whose weights were used (None: the model's own weights).
    """

    layer: str
    units: tuple[int, ...]
    images: np.ndarray
    activations: np.ndarray
    value_range: tuple[float, float]
    snapshot: int | None


def feature_visualization(
    model: nn.Module,
    layer: str,
    units: int | Sequence[int] | None = None,
    *,
    recording: object | None = None,
    snapshot: int = -1,
    probe: torch.Tensor | None = None,
    value_range: tuple[float, float] | None = None,
    steps: int = 128,
    learning_rate: float = 0.1,
    decay: float = 1.0,
    transform: RandomTransform | None = RandomTransform(),  # noqa: B008 (frozen, shared safely)
    total_variation: float = 0.1,
    l2: float = 3.0,
    where: str = "mean",
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Features:
    """Optimize one input per unit of ``layer`` that makes that unit's activation large.

    Parameters
    ----------
    model : nn.Module
        The network (left untouched: the work runs on a copy in eval mode).
    layer : str
        A module name from ``model.named_modules()``; its output is what is maximized.
    units : int or sequence of int, optional
        Indices along the output's dimension 1 (a Linear layer's features, a convolution's
        channels, whose mean over positions is maximized); all of them by default.
    recording : Recording, optional
        Use the weights this recording holds at ``snapshot`` (whole weights are needed: record
        with ``Recorder(path=...)`` or keep them whole in memory). Its probe also gives the
        input's shape and value range.
    snapshot : int
        Position in ``recording.snapshots``; negative counts from the end.
    probe : torch.Tensor, optional
        Sample inputs ``(N, C, H, W)`` giving the shape and value range (without a recording).
    value_range : (float, float), optional
        Keep the input's values in this range (default: the probe's smallest and largest).
    steps, learning_rate : int, float
        Adam steps, and its learning rate on the spectrum.
    decay : float
        The spectrum's scaling ``1 / f ** decay`` (0: no preference for low frequencies).
    transform : RandomTransform or None
        The random jitter/scale/rotation applied each step (None: none).
    total_variation : float
        Weight of the images' total variation (mean absolute difference of neighbouring pixels
        over the value range) in the loss.
    l2 : float
        Weight of the images' mean squared distance from the middle of the value range (over
        the range squared): it keeps pixels off the range's ends, where a channel's mean is
        otherwise maximized by a flat black or white picture.
    where : {"mean", "center"}
        For a layer with positions (a convolution): maximize each channel's mean over
        positions (a texture that fills the input), or its value at the central position (one
        neuron: a pattern within its receptive field, mid-grey around it).
    seed : int
        Seeds this call's own generator: the same seed gives the same images.
    progress : callable, optional
        Called with the fraction done (0 to 1) every few steps.

    Returns
    -------
    Features

    Raises
    ------
    ValueError
        An unknown layer or unit (the message lists the choices), or no way to know the input's
        shape (give ``probe`` or ``recording``).
    SnapshotWeightsError
        The recording does not hold the whole weights of that snapshot.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if where not in WHERE:
        raise ValueError(f"where must be one of {', '.join(WHERE)}, got {where!r}")
    problem = _problem(model, layer, units, recording, snapshot, probe, value_range)
    generator = torch.Generator().manual_seed(seed)
    image = FourierImage(
        problem.shape, (problem.low, problem.high), generator, decay=decay, device=problem.device
    )
    weights = (total_variation, l2)
    _optimize(problem, image, generator, steps, learning_rate, transform, weights, where, progress)
    with torch.no_grad():
        final = image.images()
        reached = unit_activations(problem.output(final), problem.units, where)
    return Features(
        layer=layer,
        units=problem.units,
        images=final.cpu().numpy().astype(np.float32),
        activations=reached.cpu().numpy().astype(np.float32),
        value_range=(problem.low, problem.high),
        snapshot=None if recording is None else snapshot % len(recording.snapshots),
    )


@dataclass(frozen=True)
class _Problem:
    """What is optimized: a layer of a working copy, its chosen units, and the images' shape,
    value range and device."""

    model: nn.Module
    module: nn.Module
    units: tuple[int, ...]
    shape: tuple[int, ...]
    low: float
    high: float
    device: torch.device

    def output(self, images: torch.Tensor) -> torch.Tensor:
        """The layer's output on ``images``."""
        return layer_output(self.model, self.module, images)


def _problem(
    model: nn.Module,
    layer: str,
    units: int | Sequence[int] | None,
    recording: object | None,
    snapshot: int,
    probe: torch.Tensor | None,
    value_range: tuple[float, float] | None,
) -> _Problem:
    """The working copy at the chosen weights, the layer and units checked against it, and the
    input's shape and range from the probe or the recording."""
    copied = working_copy(model, recording, snapshot)
    module = check_layer(copied, layer)
    examples = input_batch(probe, recording)
    low, high = input_range(examples, value_range)
    device = next((p.device for p in copied.parameters()), torch.device("cpu"))
    with torch.no_grad():
        count = layer_output(copied, module, examples[:1].to(device)).shape[1]
    chosen = check_units(units, count, layer)
    shape = (len(chosen), *examples.shape[1:])
    return _Problem(copied, module, chosen, shape, low, high, device)


def _optimize(
    problem: _Problem,
    image: FourierImage,
    generator: torch.Generator,
    steps: int,
    learning_rate: float,
    transform: RandomTransform | None,
    weights: tuple[float, float],
    where: str,
    progress: Callable[[float], None] | None,
) -> None:
    """Adam on the image's spectrum for ``steps`` steps; ``weights``: the total variation's and
    the l2 term's."""
    optimizer = torch.optim.Adam(image.parameters(), lr=learning_rate)
    for step in range(steps):
        optimizer.zero_grad()
        pictures = image.images()
        seen = pictures if transform is None else transform(pictures, generator)
        _loss(problem, pictures, seen, weights, where).backward()
        optimizer.step()
        if progress is not None and (step % 8 == 7 or step == steps - 1):
            progress((step + 1) / steps)


def _loss(
    problem: _Problem,
    pictures: torch.Tensor,
    seen: torch.Tensor,
    weights: tuple[float, float],
    where: str,
) -> torch.Tensor:
    """Minus the units' activations on the transformed images (``seen``), plus the penalties
    on the images themselves (``pictures``)."""
    low, high = problem.low, problem.high
    total_variation, l2 = weights
    activation = unit_activations(problem.output(seen), problem.units, where)
    variation = _total_variation(pictures) / (high - low)
    spread = ((pictures - (low + high) / 2) / (high - low)).square().flatten(1).mean(dim=1)
    return -activation.sum() + total_variation * variation.sum() + l2 * spread.sum()


def _total_variation(images: torch.Tensor) -> torch.Tensor:
    """Each image's mean absolute difference between neighbouring pixels, ``(N,)``."""
    rows = (images[:, :, 1:, :] - images[:, :, :-1, :]).abs().flatten(1).mean(dim=1)
    columns = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().flatten(1).mean(dim=1)
    return rows + columns
