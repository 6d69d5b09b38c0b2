"""One training run of the Playground, in torch: the data, the MLP, its optimizer and recording.

A :class:`PlaygroundRun` holds a toy data set, a ``torch.nn.Sequential`` MLP whose output
follows the data's kind (:mod:`.objective`), its optimizer, a :class:`~nnviz_widgets.Recorder`
that snapshots every Linear layer once per epoch (snapshot 0 is the initial network) and a
:class:`~nnviz_widgets.TrainingLoop` that trains it in a background thread. The widget owns one
run at a time and makes a new one to start again. Nothing here draws: the pictures are made
from the run's Recording, which is numpy and safe to read from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnviz_widgets.datasets import MULTICLASS_DATASETS, TOY_DATASETS, ToyData, own_data
from nnviz_widgets.record import Recorder
from nnviz_widgets.recording import Recording
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.widgets.playground.features import expand
from nnviz_widgets.widgets.playground.objective import Objective
from nnviz_widgets.widgets.playground.settings import PlaygroundSettings

__all__ = [
    "SETTINGS",
    "PlaygroundRun",
    "SeededDropout",
    "build_model",
    "build_optimizer",
    "make_data",
]

#: The settings a run is made from (the Playground's traits of the same names).
SETTINGS = (
    "dataset",
    "n",
    "noise",
    "seed",
    "test_fraction",
    "features",
    "hidden",
    "activation",
    "activations",
    "optimizer",
    "learning_rate",
    "regularization",
    "regularizer",
    "batch_size",
    "dropout",
    "classes",
)

#: The settings :meth:`PlaygroundRun.tune` changes while the run trains.
TUNED = ("learning_rate", "regularization", "regularizer", "batch_size")

_ACTIVATION_MODULES = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": None}


class PlaygroundRun:
    """A small MLP learning a 2-D toy data set, recorded once per epoch.

    Parameters
    ----------
    dataset, n, noise, seed, test_fraction, classes
        The toy data set and how it is drawn (see :mod:`nnviz_widgets.datasets`; ``classes``
        where the set takes it); ``seed`` also seeds the initial weights and the batch order.
    features
        The input features the network is fed (:mod:`.features`), in order.
    hidden, activation, activations
        Neurons per hidden layer and the activation after each: ``activations``, one per hidden
        layer, or (when empty) ``activation`` after every one.
    optimizer, learning_rate, regularization, regularizer, batch_size
        How it trains: ``"adam"`` or ``"sgd"``, the step size, the penalty's rate and kind
        (``"L2"``: weight decay; ``"L1"``: the rate times the sum of the weights' magnitudes,
        added to the loss; ``"none"``) and the training points per step.
    own : (X, y) or DataFrame, optional
        The user's own points, used when ``dataset`` is ``"own"`` (see
        :func:`~nnviz_widgets.datasets.own_data`).
    on_epoch : callable, optional
        ``on_epoch(run)``, called in the training thread once each epoch's snapshot of ``run``
        is recorded; an exception in it fails the loop.

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
    settings : dict
        The settings it was made with (:data:`SETTINGS`), kept up to date by :meth:`tune`.
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
        test_fraction: float = 0.5,
        features: Sequence[str] = ("x1", "x2"),
        regularizer: str = "L2",
        dropout: float = 0.0,
        activations: Sequence[str] = (),
        classes: int = 2,
        own: object = None,
        on_epoch: Callable[[PlaygroundRun], None] | None = None,
    ) -> None:
        self.settings = {name: value for name, value in locals().items() if name in SETTINGS}
        self.settings["features"] = list(features)
        self.settings["hidden"] = list(hidden)
        self.data: ToyData = make_data(dataset, n, noise, seed, test_fraction, classes, own)
        #: what the network learns: the output size, the loss and the metrics follow it
        self.objective = Objective(self.data.classes)
        self.features = tuple(features)
        self.inputs = {
            split: torch.from_numpy(expand(getattr(self.data, f"{split}_x").numpy(), features))
            for split in ("train", "test")
        }
        self.hidden = tuple(hidden)
        self.activation = activation
        #: the activation after each hidden layer
        self.activations = per_layer(activation, activations, len(hidden))
        self.settings["activations"] = list(activations)
        # dropout draws its masks from a generator of the run's: the user's RNG is untouched
        self._dropout_masks = torch.Generator().manual_seed(seed + 1)
        self.model, self.layers = build_model(
            hidden, self.activations, seed, inputs=len(features), dropout=dropout,
            generator=self._dropout_masks, outputs=self.objective.outputs,
        )  # fmt: skip
        self._start_recording(optimizer, seed, on_epoch)

    @classmethod
    def from_settings(
        cls,
        settings: PlaygroundSettings,
        on_epoch: Callable[[PlaygroundRun], None] | None = None,
    ) -> PlaygroundRun:
        """A run as ``settings`` (a Playground) say, their values read once, now."""
        return cls(
            **{name: getattr(settings, name) for name in SETTINGS},
            own=settings.own_data,
            on_epoch=on_epoch,
        )

    def _start_recording(
        self, optimizer: str, seed: int, on_epoch: Callable[[PlaygroundRun], None] | None
    ) -> None:
        """The optimizer, the Recorder with snapshot 0, and the (idle) training loop."""
        learning_rate = self.settings["learning_rate"]
        self.optimizer = build_optimizer(optimizer, self.model, learning_rate, 0.0)
        self.recorder = Recorder(
            self.model, optimizer=self.optimizer, layers=nn.Linear, flush_every=1000
        )
        self._l1 = 0.0
        self.tune(**{name: self.settings[name] for name in TUNED})
        self._batch_order = torch.Generator().manual_seed(seed)
        self._on_epoch = on_epoch
        self.recorder.snapshot(epoch=0, **self.evaluate())
        self.loop = TrainingLoop(
            self._train_epoch, optimizer=self.optimizer, on_epoch=self._record, first_epoch=1
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

    def tune(
        self,
        *,
        learning_rate: float,
        regularization: float,
        batch_size: int,
        regularizer: str | None = None,
    ) -> None:
        """Change how the run trains, while it trains.

        The learning rate and the L2 rate are plain floats in the optimizer's parameter groups,
        and the L1 rate a float of the run's, which the training thread reads at its next step;
        the batch size is read at the start of each epoch. ``regularizer`` None keeps the kind.
        """
        kind = self.settings["regularizer"] if regularizer is None else regularizer
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
            group["weight_decay"] = regularization if kind == "L2" else 0.0
        self._l1 = regularization if kind == "L1" else 0.0
        self.batch_size = batch_size
        self.settings.update(
            learning_rate=learning_rate,
            regularization=regularization,
            regularizer=kind,
            batch_size=batch_size,
        )

    def describe(self, number: int) -> str:
        """The run in words for the run list, e.g. "run 2: spirals, tanh, 4-2, 300 epochs"."""
        shape = "-".join(map(str, self.hidden)) or "linear"
        kind = "/".join(self.activations) if self.settings["activations"] else self.activation
        extra = "" if self.features == ("x1", "x2") else f", inputs {' '.join(self.features)}"
        if self.settings["dropout"]:
            extra += f", dropout {self.settings['dropout']:g}"
        if self.objective.classes >= 3:
            extra += f", {self.objective.classes} classes"
        return f"run {number}: {self.data.name}, {kind}, {shape}{extra}, {self.epochs} epochs"

    def edit_weight(self, layer: int, out: int, into: int, value: float) -> float:
        """Set one weight of the model (training paused) and record a snapshot; the old value.

        The snapshot carries the label of the one before (the same epoch, edited) and the
        losses of the edited network.
        """
        weight = self.model.get_submodule(self.layers[layer]).weight
        with torch.no_grad():
            old = float(weight[out, into])
            weight[out, into] = value
        self.recorder.snapshot(epoch=self.recording.snapshots[-1], **self.evaluate())
        return old

    def plane_inputs(self, points: np.ndarray) -> np.ndarray:
        """What the network is fed for ``points`` of the plane: their chosen features."""
        return expand(points, self.features)

    def close(self) -> None:
        """Stop training and release the Recorder's hooks; the Recording stays readable."""
        self.loop.close()
        self.recorder.close()

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        # runs in the training thread
        x, y = self.inputs["train"], self.objective.targets(self.data.train_y)
        order = torch.randperm(len(y), generator=self._batch_order)
        size = self.batch_size  # read once: a change applies from the next epoch
        self.model.train()
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            self.optimizer.zero_grad()
            loss = self.objective.loss(self.model(x[batch]), y[batch])
            l1 = self._l1  # read once per step: the user may change it meanwhile
            if l1:
                weights = [self.model.get_submodule(name).weight for name in self.layers]
                loss = loss + l1 * sum(w.abs().sum() for w in weights)
            loss.backward()
            self.optimizer.step()
        return self.evaluate()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy of the model as it is now, on the train and the test points.

        In eval mode (no dropout), as the pictures draw it; the mode is put back after.
        """
        training = self.model.training
        self.model.eval()
        try:
            return self._losses()
        finally:
            self.model.train(training)

    def _losses(self) -> dict[str, float]:
        metrics = {}
        for split in ("train", "test"):
            y = getattr(self.data, f"{split}_y")
            metrics.update(self.objective.metrics(split, self.model(self.inputs[split]), y))
        return metrics

    def _record(self, epoch: int, metrics: dict) -> None:
        # runs in the training thread, after each epoch
        self.recorder.snapshot(epoch=epoch, **metrics)
        if self._on_epoch is not None:
            self._on_epoch(self)


def per_layer(activation: str, activations: Sequence[str], layers: int) -> tuple[str, ...]:
    """The activation after each of ``layers`` hidden layers: ``activations`` if given (one
    per layer), else ``activation`` after every one."""
    if activations and len(activations) != layers:
        raise ValueError(
            f"activations must name one activation per hidden layer ({layers}), or "
            f"none; got {len(activations)}: {list(activations)}"
        )
    return tuple(activations) if activations else (activation,) * layers


def make_data(
    dataset: str, n: int, noise: float, seed: int, test_fraction: float, classes: int, own: object
) -> ToyData:
    """The data set of a run: a toy set (``classes`` where it takes them) or the user's own."""
    if dataset == "own":  # the user's points: n and classes do not apply
        return own_data(own, noise=noise, test_fraction=test_fraction, seed=seed)
    extra = {"classes": classes} if dataset in MULTICLASS_DATASETS else {}
    return TOY_DATASETS[dataset](n=n, noise=noise, seed=seed, test_fraction=test_fraction, **extra)


def build_model(
    hidden: Sequence[int],
    activation: str | Sequence[str],
    seed: int,
    inputs: int = 2,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
    outputs: int = 1,
) -> tuple[nn.Module, tuple]:
    """The MLP (Linear, activation, ..., Linear to ``outputs`` units) and its Linear layers'
    names.

    ``inputs`` is the number of input features the first layer takes; with ``dropout`` above 0,
    a :class:`SeededDropout` drawing from ``generator`` follows each hidden layer.
    ``activation`` is one name for every hidden layer, or one per hidden layer.
    """
    per_layer = [activation] * len(hidden) if isinstance(activation, str) else list(activation)
    modules: list[nn.Module] = []
    names = []
    width = inputs
    # the same seed, the same initial weights; forked so that the user's own RNG is untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for units in [*hidden, outputs]:
            names.append(str(len(modules)))
            modules.append(nn.Linear(width, units))
            width = units
            if len(names) > len(hidden):  # the output layer: no activation, no dropout
                continue
            factory = _ACTIVATION_MODULES[per_layer[len(names) - 1]]
            if factory is not None:
                modules.append(factory())
            if dropout > 0:
                modules.append(SeededDropout(dropout, generator or torch.Generator()))
    return nn.Sequential(*modules), tuple(names)


def build_optimizer(
    kind: str, model: nn.Module, learning_rate: float, regularization: float
) -> torch.optim.Optimizer:
    """Adam or plain SGD (no momentum) over ``model``'s parameters."""
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=regularization)
    return torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=regularization)


class SeededDropout(nn.Module):
    """Dropout whose masks come from a generator of its own, not from torch's global RNG.

    As ``nn.Dropout``: in training, each value is zeroed with probability ``p`` and the rest
    scaled by ``1 / (1 - p)``; in eval mode it passes values through.
    """

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator) >= self.p
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"
