"""Small trainings for the diagnosis tests: six broken on purpose, three healthy.

Each trains for a few seconds at most on the CPU, on the bundled digits
(:func:`nnviz_widgets.datasets.digits`), with an ordinary loop and a Recorder made the ordinary
way (``nv.Recorder(model, probe=..., optimizer=...)``, ``rec.snapshot(epoch=..., loss=...)``),
and returns the Recording. Every function seeds torch itself, so a training gives the same
recording whichever test asks for it first.

Broken on purpose, and what a diagnosis must find (``docs/diagnosis.md``):

- :func:`deep_sigmoid`: ten sigmoid layers, no normalisation: vanishing gradients in the first
  layers;
- :func:`nan_learning_rate`: a linear model, SGD at lr 1.0 with momentum: the weights overflow to
  Inf then NaN (the training of notebook 04);
- :func:`dead_relu`: the first ReLU's Linear has a bias of -10: every unit of ReLU ``1`` is dead;
- :func:`huge_tanh`: tanh after a Linear initialised a hundred times too large: ``1`` saturates;
- :func:`detached_branch`: a head whose output reaches the loss through ``.detach()``: no
  gradient reaches it;
- :func:`tiny_learning_rate`: Adam at lr 1e-9, a million times its default: nothing moves.

Healthy: :func:`lenet_adam` (LeNet-5, Adam, the 28x28 digits), :func:`mlp_sgd` (an MLP, SGD),
:func:`resnet_sgd` (ResNet-20 on the 8x8 digits, SGD with momentum).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv


@functools.cache
def _digits(size: int) -> nv.datasets.Digits:
    return nv.datasets.digits(size=size)


def _flat():
    """The 8x8 digits flattened to 64 features: train images, labels, and the probe."""
    data = _digits(8)
    probe = (data.probe_images.flatten(1), data.probe_labels)
    return data.train_images.flatten(1), data.train_labels, probe


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    probe: tuple,
    *,
    epochs: int,
    batch: int = 64,
    steps_per_epoch: int | None = None,
    after_step: Callable[[int, nn.Module], None] | None = None,
    after_snapshot: Callable[[nv.Recording], None] | None = None,
    **recorder_options,
) -> nv.Recording:
    """The usual loop: a snapshot before training (epoch 0) and after each epoch, with the
    epoch's mean loss as the metric ``loss``. ``after_step(step, model)`` is called after
    each optimizer step, ``after_snapshot(recording)`` after each snapshot; the other options
    go to the Recorder."""

    def snapshot(**metrics) -> None:
        rec.snapshot(**metrics)
        if after_snapshot is not None:
            after_snapshot(rec.recording)

    with nv.Recorder(model, probe=probe, optimizer=optimizer, **recorder_options) as rec:
        snapshot(epoch=0)
        for epoch in range(1, epochs + 1):
            order = torch.randperm(len(images), generator=torch.Generator().manual_seed(epoch))
            losses = []
            for k, start in enumerate(range(0, len(order) - batch + 1, batch)):
                if steps_per_epoch is not None and k == steps_per_epoch:
                    break
                chosen = order[start : start + batch]
                optimizer.zero_grad()
                loss = F.cross_entropy(model(images[chosen]), labels[chosen])
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
                if after_step is not None:
                    after_step(rec.steps, model)
            snapshot(epoch=epoch, loss=torch.stack(losses).mean())
    return rec.recording


def _mlp_run(model, optimizer, epochs=4, **options) -> nv.Recording:
    x, y, probe = _flat()
    return train(model, optimizer, x, y, probe, epochs=epochs, **options)


# ---------------------------------------------------------------------- broken on purpose
def deep_sigmoid() -> nv.Recording:
    """Ten Linear + Sigmoid layers of 32 units, default initialisation, no normalisation."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, *[32] * 10, 10), activation=nn.Sigmoid)
    return _mlp_run(model, torch.optim.SGD(model.parameters(), lr=0.1))


def nan_learning_rate(**options) -> nv.Recording:
    """Notebook 04's linear model at lr 1.0 with momentum 0.9: Inf, then NaN, in a few dozen
    steps. ``options`` go to :func:`train` (``after_step=``, the Recorder's options)."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 10), activation=nn.Identity)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    return _mlp_run(model, optimizer, **options)


def dead_relu(**options) -> nv.Recording:
    """ReLU ``1`` after a Linear whose bias is -10: no probe image makes any unit positive."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 64, 10))
    with torch.no_grad():
        model[0].bias.fill_(-10.0)
    return _mlp_run(model, torch.optim.Adam(model.parameters(), lr=1e-3), **options)


def huge_tanh() -> nv.Recording:
    """Tanh ``1`` after a Linear initialised a hundred times too large."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 64, 10), activation=nn.Tanh)
    with torch.no_grad():
        model[0].weight.mul_(100.0)
    return _mlp_run(model, torch.optim.Adam(model.parameters(), lr=1e-3))


class TwoHeads(nn.Module):
    """A trunk and two heads; the second head's output is detached before it is added, so no
    gradient ever reaches ``head_b`` (a bug met in real code, e.g. a logged branch)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(64, 32)
        self.relu = nn.ReLU()
        self.head_a = nn.Linear(32, 10)
        self.head_b = nn.Linear(32, 10)

    def forward(self, x):
        hidden = self.relu(self.trunk(x))
        return self.head_a(hidden) + self.head_b(hidden).detach()


def detached_branch() -> nv.Recording:
    """:class:`TwoHeads` with Adam."""
    torch.manual_seed(0)
    model = TwoHeads()
    return _mlp_run(model, torch.optim.Adam(model.parameters(), lr=1e-3))


def tiny_learning_rate() -> nv.Recording:
    """An MLP with Adam at lr 1e-9, a million times Adam's default of 1e-3."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 64, 10))
    return _mlp_run(model, torch.optim.Adam(model.parameters(), lr=1e-9))


# ---------------------------------------------------------------------- healthy
def lenet_adam() -> nv.Recording:
    """LeNet-5 with Adam (lr 1e-3) on the 28x28 digits, three epochs."""
    torch.manual_seed(0)
    data = _digits(28)
    model = nv.models.LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    probe = (data.probe_images, data.probe_labels)
    return train(model, optimizer, data.train_images, data.train_labels, probe, epochs=3)


def mlp_sgd() -> nv.Recording:
    """An MLP (two hidden ReLU layers of 64) with SGD at lr 0.1, eight epochs."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 64, 10))
    return _mlp_run(model, torch.optim.SGD(model.parameters(), lr=0.1), epochs=8)


def resnet_sgd() -> nv.Recording:
    """ResNet-20 on the 8x8 digits, SGD with momentum 0.9 at lr 0.05, four epochs of 8 steps."""
    torch.manual_seed(0)
    data = _digits(8)
    model = nv.models.ResNet20(in_channels=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    probe = (data.probe_images, data.probe_labels)
    return train(
        model,
        optimizer,
        data.train_images,
        data.train_labels,
        probe,
        epochs=4,
        steps_per_epoch=8,
    )


BROKEN = {
    "deep_sigmoid": deep_sigmoid,
    "nan_learning_rate": nan_learning_rate,
    "dead_relu": dead_relu,
    "huge_tanh": huge_tanh,
    "detached_branch": detached_branch,
    "tiny_learning_rate": tiny_learning_rate,
}
HEALTHY = {"lenet_adam": lenet_adam, "mlp_sgd": mlp_sgd, "resnet_sgd": resnet_sgd}
