"""One training run of the Playground, in torch: the data, the MLP, its optimizer and recording.

A :class:`PlaygroundRun` holds a toy data set, a ``torch.nn.Sequential`` MLP with one output
logit, its optimizer, a :class:`~nnviz_widgets.Recorder` that snapshots every Linear layer once
per epoch (snapshot 0 is the initial network) and a :class:`~nnviz_widgets.TrainingLoop` that
trains it in a background thread. The widget owns one run at a time and makes a new one to start
again. Nothing here draws: the pictures are made from the run's Recording, which is numpy and
safe to read from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nnviz_widgets.datasets import TOY_DATASETS, ToyData
from nnviz_widgets.record import Recorder
from nnviz_widgets.recording import Recording
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.widgets.playground.settings import PlaygroundSettings

__all__ = ["PlaygroundRun", "build_model", "build_optimizer"]

_ACTIVATION_MODULES = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": None}


class PlaygroundRun:
    """A small MLP learning a 2-D toy data set, recorded once per epoch.

    Parameters
    ----------
    dataset, n, noise, seed
        The toy data set and how it is drawn (see :mod:`nnviz_widgets.datasets`); ``seed`` also
        seeds the initial weights and the batch order.
    hidden, activation
        Neurons per hidden layer and the activation after each.
    optimizer, learning_rate, regularization, batch_size
        How it trains: ``"adam"`` or ``"sgd"``, the step size, the L2 penalty (weight decay)
        and the training points per step.
    on_epoch : callable, optional
        ``on_epoch()``, called in the training thread once each epoch's snapshot is recorded;
        an exception in it fails the loop.

    Attributes
    ----------
    data : ToyData
    model : torch.nn.Sequential
        Its weights are those of the newest epoch.
    optimizer : torch.optim.Optimizer
    recorder : Recorder
    loop : TrainingLoop
        Trains with ``first_epoch=1``; its state says whether the run trains.
    layers : tuple of str
        Names of the Linear layers, as in the Recording.
    """

    def __init__(
        self,
        *,
        dataset: str,
        n: int,
        noise: float,
        seed: int,
        hidden: Sequence[int],
        activation: str,
        optimizer: str,
        learning_rate: float,
        regularization: float,
        batch_size: int,
        on_epoch: Callable[[], None] | None = None,
    ) -> None:
        self.data: ToyData = TOY_DATASETS[dataset](n=n, noise=noise, seed=seed)
        self.hidden = tuple(hidden)
        self.activation = activation
        self.model, self.layers = build_model(hidden, activation, seed)
        self.optimizer = build_optimizer(optimizer, self.model, learning_rate, regularization)
        self.recorder = Recorder(
            self.model, optimizer=self.optimizer, layers=nn.Linear, flush_every=1000
        )
        self.batch_size = batch_size
        self._batch_order = torch.Generator().manual_seed(seed)
        self._on_epoch = on_epoch
        self.recorder.snapshot(epoch=0, **self.evaluate())
        self.loop = TrainingLoop(
            self._train_epoch, optimizer=self.optimizer, on_epoch=self._record, first_epoch=1
        )

    @classmethod
    def from_settings(
        cls, settings: PlaygroundSettings, on_epoch: Callable[[], None] | None = None
    ) -> PlaygroundRun:
        """A run as ``settings`` (a Playground) say, their values read once, now."""
        return cls(
            dataset=settings.dataset,
            n=settings.n,
            noise=settings.noise,
            seed=settings.seed,
            hidden=settings.hidden,
            activation=settings.activation,
            optimizer=settings.optimizer,
            learning_rate=settings.learning_rate,
            regularization=settings.regularization,
            batch_size=settings.batch_size,
            on_epoch=on_epoch,
        )

    @property
    def recording(self) -> Recording:
        """One snapshot per epoch, 0 the initial network."""
        return self.recorder.recording

    @property
    def epochs(self) -> int:
        """Epochs trained so far (the newest snapshot's index)."""
        return len(self.recording) - 1

    def weights(self, index: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The recorded weights and biases of every Linear layer at snapshot ``index``."""
        rec = self.recording
        weights = [rec.frame(name, "weight", index) for name in self.layers]
        biases = [rec.frame(name, "bias", index) for name in self.layers]
        return weights, biases

    def tune(self, *, learning_rate: float, regularization: float, batch_size: int) -> None:
        """Change how the run trains, while it trains.

        The learning rate and L2 penalty are plain floats in the optimizer's parameter groups,
        which the training thread reads at its next step; the batch size is read at the start
        of each epoch.
        """
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
            group["weight_decay"] = regularization
        self.batch_size = batch_size

    def close(self) -> None:
        """Stop training and release the Recorder's hooks; the Recording stays readable."""
        self.loop.close()
        self.recorder.close()

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        # runs in the training thread
        x, y = self.data.train_x, self.data.train_y.float()
        order = torch.randperm(len(y), generator=self._batch_order)
        size = self.batch_size  # read once: a change applies from the next epoch
        self.model.train()
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            self.optimizer.zero_grad()
            loss = F.binary_cross_entropy_with_logits(self.model(x[batch])[:, 0], y[batch])
            loss.backward()
            self.optimizer.step()
        return self.evaluate()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy of the model as it is now, on the train and the test points."""
        metrics = {}
        for split in ("train", "test"):
            x = getattr(self.data, f"{split}_x")
            y = getattr(self.data, f"{split}_y")
            logits = self.model(x)[:, 0]
            metrics[f"{split}_loss"] = float(F.binary_cross_entropy_with_logits(logits, y.float()))
            metrics[f"{split}_accuracy"] = float(((logits > 0).long() == y).float().mean())
        return metrics

    def _record(self, epoch: int, metrics: dict) -> None:
        # runs in the training thread, after each epoch
        self.recorder.snapshot(epoch=epoch, **metrics)
        if self._on_epoch is not None:
            self._on_epoch()


def build_model(hidden: Sequence[int], activation: str, seed: int) -> tuple[nn.Module, tuple]:
    """The MLP (Linear, activation, ..., Linear to one logit) and its Linear layers' names."""
    modules: list[nn.Module] = []
    names = []
    width = 2
    # the same seed, the same initial weights; forked so that the user's own RNG is untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for units in [*hidden, 1]:
            names.append(str(len(modules)))
            modules.append(nn.Linear(width, units))
            width = units
            factory = _ACTIVATION_MODULES[activation]
            if len(names) <= len(hidden) and factory is not None:
                modules.append(factory())
    return nn.Sequential(*modules), tuple(names)


def build_optimizer(
    kind: str, model: nn.Module, learning_rate: float, regularization: float
) -> torch.optim.Optimizer:
    """Adam or plain SGD (no momentum) over ``model``'s parameters."""
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=regularization)
    return torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=regularization)
