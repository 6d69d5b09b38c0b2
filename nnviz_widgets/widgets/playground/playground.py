"""The Playground: a teaching widget that trains a small MLP on 2-D toy data and shows it think.

It owns one training run at a time: the data set, a ``torch.nn.Sequential`` MLP with one output
logit, its optimizer, a :class:`~nnviz_widgets.Recorder` that snapshots every Linear layer once
per epoch, and a :class:`~nnviz_widgets.TrainingLoop` that trains in a background
thread so the widget stays live. Everything it draws comes from the Recording of the selected
snapshot: the weights are read back and pushed through a numpy forward pass over a grid of the
input plane (``drawing``), so scrubbing back to epoch 3 shows epoch 3 exactly, with no
torch model state involved.

One trait, :attr:`Playground.snapshot`, drives the whole picture: the graph (neuron maps and
weight-coloured edges), the decision boundary and the marker on the loss curves.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence

import bqplot
import ipywidgets as widgets
import numpy as np
import torch
import traitlets
from torch import nn
from torch.nn import functional as F

from nnviz_widgets.datasets import TOY_DATASETS, ToyData
from nnviz_widgets.record import Recorder
from nnviz_widgets.recording import Recording
from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.threads.controls import LockedIntSlider
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.views.image import ImageSwap
from nnviz_widgets.widgets.playground import drawing as render

__all__ = ["Playground"]

_ACTIVATION_MODULES = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": None}
_OPTIMIZERS = ("adam", "sgd")
_LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
_REGULARIZATIONS = (0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1)
_BATCH_SIZES = (1, 5, 10, 20, 50, 100)
MAX_LAYERS = 6
MAX_NEURONS = 8
_EXTENT = 1.5  # the plane shown: the toy sets lie in [-1, 1]^2 before noise
_REDRAW_INTERVAL = 0.1  # seconds: while training, redraw at most this often (bqplot #1600)


class Playground(widgets.VBox):
    """Train a small MLP on a 2-D toy data set and watch it learn; scrub back through epochs.

    Parameters
    ----------
    dataset : {"circles", "xor", "gaussians", "spirals"}
        The toy data set (see :mod:`nnviz_widgets.datasets`).
    hidden : sequence of int
        Neurons in each hidden layer, e.g. ``(4, 4)``; ``()`` is a linear model (logistic
        regression). At most 6 layers of 1 to 8 neurons.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The activation after each hidden layer.
    learning_rate, batch_size, regularization, optimizer, noise, n, seed
        See the traits of the same names.
    resolution : int
        Grid points per side of the decision-boundary picture.
    node_resolution : int
        Pixels per side of each neuron's map in the graph.

    Examples
    --------
    >>> pg = Playground("spirals", hidden=(8, 8))  # doctest: +SKIP
    >>> pg  # shows the widget; press Play, or from Python:
    >>> pg.train(100)  # 100 epochs in the background, waiting for them
    >>> pg.snapshot = 10  # the picture at epoch 10
    """

    dataset = traitlets.Unicode(
        "spirals", help="The toy data set: circles, xor, gaussians or spirals."
    )
    noise = traitlets.Float(0.05, help="Standard deviation of the jitter added to the points.")
    n = traitlets.Int(400, help="Number of points, train and test together.")
    hidden = traitlets.List(
        traitlets.Int(), default_value=[4, 4], help="Neurons per hidden layer; [] is linear."
    )
    activation = traitlets.Unicode(
        "tanh", help="Activation after each hidden layer: tanh, relu, sigmoid or linear."
    )
    optimizer = traitlets.Unicode("adam", help="The optimizer: adam or sgd (plain, no momentum).")
    learning_rate = traitlets.Float(0.01, help="The optimizer's learning rate; applies at once.")
    batch_size = traitlets.Int(10, help="Training points per step; applies from the next epoch.")
    regularization = traitlets.Float(
        0.0, help="L2 penalty on the weights (the optimizer's weight_decay); applies at once."
    )
    seed = traitlets.Int(0, help="Seeds the data, the initial weights and the batch order.")
    snapshot = traitlets.Int(
        0, help="The recorded epoch shown: 0 is the initial network, one snapshot per epoch."
    )
    show_test = traitlets.Bool(True, help="Whether the test points are drawn on the boundary.")

    def __init__(
        self,
        dataset: str = "spirals",
        *,
        hidden: Sequence[int] = (4, 4),
        activation: str = "tanh",
        learning_rate: float = 0.01,
        batch_size: int = 10,
        regularization: float = 0.0,
        optimizer: str = "adam",
        noise: float = 0.05,
        n: int = 400,
        seed: int = 0,
        resolution: int = 96,
        node_resolution: int = 28,
    ) -> None:
        for name, value, low in (
            ("resolution", resolution, 8),
            ("node_resolution", node_resolution, 8),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 512:
                raise ValueError(f"{name} must be an integer from {low} to 512, got {value!r}")
        super().__init__()
        self._building = True
        self._draw_lock = threading.RLock()
        # the slider, ``snapshot`` and the slider's range change from two threads: the kernel's
        # (the user's key presses) and training's (a new epoch). One lock orders them; taken
        # before _draw_lock, never after.
        self._state_lock = threading.RLock()
        self._resolution = resolution
        self._node = node_resolution
        self._showing_shape = False
        # whether the picture follows the newest epoch: set by every move of the snapshot (to
        # the newest or away from it); training's own moves go to the newest, so they keep it
        self._follow_newest = True
        self._last_follow = 0.0
        self._last_curves = 0.0
        self._curves_pending = False
        self._loop: TrainingLoop | None = None
        self._recorder: Recorder | None = None
        # every trait at once, validated, before anything is built or trained
        with self.hold_trait_notifications():
            self.dataset = dataset
            self.hidden = list(hidden)
            self.activation = activation
            self.learning_rate = learning_rate
            self.batch_size = batch_size
            self.regularization = regularization
            self.optimizer = optimizer
            self.noise = noise
            self.n = n
            self.seed = seed
        self._build_controls()
        self._build_figures()
        self.children = [self._controls, self._status, self._body]
        self._building = False
        self._reset("")

    # ------------------------------------------------------------------ validation
    @traitlets.validate("dataset")
    def _validate_dataset(self, proposal: dict) -> str:
        return _one_of("dataset", proposal["value"], TOY_DATASETS)

    @traitlets.validate("activation")
    def _validate_activation(self, proposal: dict) -> str:
        return _one_of("activation", proposal["value"], _ACTIVATION_MODULES)

    @traitlets.validate("optimizer")
    def _validate_optimizer(self, proposal: dict) -> str:
        return _one_of("optimizer", proposal["value"], _OPTIMIZERS)

    @traitlets.validate("hidden")
    def _validate_hidden(self, proposal: dict) -> list[int]:
        value = list(proposal["value"])
        if len(value) > MAX_LAYERS or any(not 1 <= v <= MAX_NEURONS for v in value):
            raise traitlets.TraitError(
                f"hidden must list at most {MAX_LAYERS} layers of 1 to {MAX_NEURONS} neurons "
                f"each (e.g. [4, 4], or [] for a linear model), got {value}"
            )
        return value

    @traitlets.validate("learning_rate")
    def _validate_learning_rate(self, proposal: dict) -> float:
        value = proposal["value"]
        if not 0.0 < value <= 10.0:
            raise traitlets.TraitError(
                f"learning_rate must be above 0 and at most 10 (e.g. 0.03), got {value!r}"
            )
        return value

    @traitlets.validate("regularization")
    def _validate_regularization(self, proposal: dict) -> float:
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise traitlets.TraitError(
                f"regularization must be from 0 (none) to 1 (e.g. 0.001), got {value!r}"
            )
        return value

    @traitlets.validate("batch_size")
    def _validate_batch_size(self, proposal: dict) -> int:
        value = proposal["value"]
        if value < 1:
            raise traitlets.TraitError(f"batch_size must be a positive integer, got {value!r}")
        return value

    @traitlets.validate("noise")
    def _validate_noise(self, proposal: dict) -> float:
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise traitlets.TraitError(f"noise must be from 0 to 1 (e.g. 0.05), got {value!r}")
        return value

    @traitlets.validate("n")
    def _validate_n(self, proposal: dict) -> int:
        value = proposal["value"]
        if not 8 <= value <= 100_000:
            raise traitlets.TraitError(f"n must be from 8 to 100000 points, got {value!r}")
        return value

    @traitlets.validate("seed")
    def _validate_seed(self, proposal: dict) -> int:
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"seed must be >= 0, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("snapshot")
    def _validate_snapshot(self, proposal: dict) -> int:
        value = proposal["value"]
        count = len(self._recorder.recording) if self._recorder is not None else 1
        if not 0 <= value < count:
            raise traitlets.TraitError(
                f"snapshot must be a recorded epoch, from 0 to {count - 1}, got {value!r}"
            )
        return value

    # ------------------------------------------------------------------ observers
    @traitlets.observe("dataset")
    def _on_dataset_change(self, change: dict) -> None:
        self._reset(f"Data set changed to {change['new']!r}")

    @traitlets.observe("noise")
    def _on_noise_change(self, change: dict) -> None:
        self._reset(f"Noise changed to {change['new']:g}")

    @traitlets.observe("n")
    def _on_n_change(self, change: dict) -> None:
        self._reset(f"Number of points changed to {change['new']}")

    @traitlets.observe("seed")
    def _on_seed_change(self, change: dict) -> None:
        self._reset(f"Seed changed to {change['new']}")

    @traitlets.observe("hidden")
    def _on_hidden_change(self, change: dict) -> None:
        if self._building:
            return
        self._show_shape(change["new"])
        self._reset(f"Architecture changed to {_describe_hidden(change['new'])}")

    @traitlets.observe("activation")
    def _on_activation_change(self, change: dict) -> None:
        self._reset(f"Activation changed to {change['new']}")

    @traitlets.observe("optimizer")
    def _on_optimizer_change(self, change: dict) -> None:
        self._reset(f"Optimizer changed to {change['new']}")

    @traitlets.observe("learning_rate")
    def _on_learning_rate_change(self, change: dict) -> None:
        # a plain float in the optimizer's dict: the training thread reads it at its next step
        if self._recorder is not None:
            for group in self._optimizer_object.param_groups:
                group["lr"] = change["new"]

    @traitlets.observe("regularization")
    def _on_regularization_change(self, change: dict) -> None:
        if self._recorder is not None:
            for group in self._optimizer_object.param_groups:
                group["weight_decay"] = change["new"]

    @traitlets.observe("snapshot")
    def _on_snapshot_change(self, change: dict) -> None:
        with self._state_lock:
            index = self.snapshot  # now, not the change's: another thread may have moved it
            if self._recorder is not None:
                self._follow_newest = index == len(self._recorder.recording) - 1
            if self._slider.value != index:
                self._slider.value = index
            if not self._building:
                self.redraw()

    def _on_slider_value(self, change: dict) -> None:
        with self._state_lock:
            value = self._slider.value  # as above: the latest value wins, in both places
            if self.snapshot != value:
                self.snapshot = value

    @traitlets.observe("show_test")
    def _on_show_test_change(self, change: dict) -> None:
        if not self._building:
            self._test_points.visible = change["new"]

    # ------------------------------------------------------------------ public API
    @property
    def recording(self) -> Recording:
        """The Recording of the current run: one snapshot per epoch, 0 the initial network."""
        return self._recorder.recording

    @property
    def data(self) -> ToyData:
        """The current data set."""
        return self._data

    @property
    def model(self) -> nn.Module:
        """The torch model being trained (its weights are those of the newest epoch)."""
        return self._model

    @property
    def loop(self) -> TrainingLoop:
        """The background training loop of the current run."""
        return self._loop

    @property
    def epochs(self) -> int:
        """Epochs trained so far in the current run."""
        return len(self.recording) - 1

    @property
    def layers(self) -> tuple[str, ...]:
        """Names of the Linear layers in the model, as in the Recording."""
        return self._layer_names

    def play(self) -> None:
        """Train in the background until paused (the Play button)."""
        self._tell("")
        self._loop.start()

    def pause(self) -> None:
        """Pause training at the next optimizer step (the Pause button)."""
        self._loop.pause()

    def step(self) -> None:
        """Train exactly one more epoch in the background, then pause (the Step button)."""
        self._tell("")
        self._loop.step()

    def train(self, epochs: int, *, timeout: float | None = None) -> None:
        """Train ``epochs`` more epochs in the background and wait for them to finish.

        Meant for notebooks and scripts; the widget stays live meanwhile, its picture following.

        Raises
        ------
        RuntimeError
            Training failed (the message holds the error) or did not finish within ``timeout``.
        """
        self._tell("")
        self._loop.start(epochs)
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> None:
        """Wait until training pauses or stops, then show the newest snapshot if following."""
        if not self._loop.wait(timeout):
            raise RuntimeError(f"training was still running after {timeout} s")
        if self._loop.state == "failed":
            raise RuntimeError(f"training failed: {self._loop.error!r}\n{self._loop.traceback}")
        self._flush_redraw()

    def reset(self) -> None:
        """Start again from new initial weights (the Reset button); the recording is discarded."""
        self._reset("Reset")

    def close(self) -> None:
        """Stop training, release the Recorder's hooks, close the widgets."""
        self._stop_run()
        for child in getattr(self, "_owned", []):
            child.close()
        super().close()

    def weights(self, index: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The recorded weights and biases of every Linear layer at snapshot ``index``.

        ``index`` defaults to the selected :attr:`snapshot`.
        """
        index = self.snapshot if index is None else index
        rec = self.recording
        weights = [rec.frame(name, "weight", index) for name in self._layer_names]
        biases = [rec.frame(name, "bias", index) for name in self._layer_names]
        return weights, biases

    def boundary(self, index: int | None = None) -> np.ndarray:
        """The model's probability of class 1 over the grid at snapshot ``index``.

        Returns a ``(resolution, resolution)`` float32 array in image order (top row: largest
        second coordinate); the points are :func:`grid_points`.
        """
        weights, biases = self.weights(index)
        logits = render.forward(weights, biases, self.activation, self.grid_points())[-1]
        return render.activate("sigmoid", logits[:, 0]).reshape(self._resolution, -1)

    def grid_points(self) -> np.ndarray:
        """The input points of the decision-boundary picture, ``(resolution**2, 2)``."""
        return render.grid(_EXTENT, self._resolution)

    def accuracy(self, split: str = "test", index: int = -1) -> float:
        """The recorded accuracy on ``"train"`` or ``"test"`` at snapshot ``index``."""
        if split not in ("train", "test"):
            raise ValueError(f'split must be "train" or "test", got {split!r}')
        return float(self.recording.metric(f"{split}_accuracy")[index])

    # ------------------------------------------------------------------ a run
    def _reset(self, reason: str) -> None:
        if self._building:
            return
        previous = self.epochs if self._recorder is not None else 0
        self._stop_run()
        self._data = TOY_DATASETS[self.dataset](n=self.n, noise=self.noise, seed=self.seed)
        self._model, self._layer_names = _build_model(self.hidden, self.activation, self.seed)
        self._optimizer_object = _build_optimizer(
            self.optimizer, self._model, self.learning_rate, self.regularization
        )
        self._recorder = Recorder(
            self._model, optimizer=self._optimizer_object, layers=nn.Linear, flush_every=1000
        )
        self._batch_order = torch.Generator().manual_seed(self.seed)
        self._recorder.snapshot(epoch=0, **self._evaluate())
        self._loop = TrainingLoop(
            self._train_epoch,
            optimizer=self._optimizer_object,
            on_epoch=self._on_epoch,
            first_epoch=1,
        )
        self._loop.add_listener(self._on_loop_event)
        # one canvas size for every architecture: the figure never resizes in the browser
        self._layout = render.layout(
            [2, *self.hidden, 1],
            node=self._node + 2,
            gap=self._node // 3,
            width=(MAX_LAYERS + 2) * (self._node + 2) + (MAX_LAYERS + 1) * (3 * self._node // 2),
            rows=MAX_NEURONS,
        )
        with self._state_lock:
            self.snapshot = 0
            self._slider.max = 0
        self._draw_static()
        self.redraw()
        self._update_buttons()
        if reason:
            discarded = (
                f" (the {previous} epoch(s) trained before were discarded)" if previous else ""
            )
            self._tell(f"{reason}: training restarted from epoch 0{discarded}.")
        else:
            self._tell("Ready: press Play to train, or Step for one epoch.")

    def _stop_run(self) -> None:
        # getattr: close() may run from __del__ of a widget whose construction failed
        loop, recorder = getattr(self, "_loop", None), getattr(self, "_recorder", None)
        if loop is not None:
            loop.remove_listener(self._on_loop_event)
            loop.close()
        if recorder is not None:
            recorder.close()

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        # runs in the training thread
        x, y = self._data.train_x, self._data.train_y.float()
        order = torch.randperm(len(y), generator=self._batch_order)
        size = self.batch_size  # read once: a change applies from the next epoch
        self._model.train()
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            self._optimizer_object.zero_grad()
            loss = F.binary_cross_entropy_with_logits(self._model(x[batch])[:, 0], y[batch])
            loss.backward()
            self._optimizer_object.step()
        return self._evaluate()

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        metrics = {}
        for split in ("train", "test"):
            x = getattr(self._data, f"{split}_x")
            y = getattr(self._data, f"{split}_y")
            logits = self._model(x)[:, 0]
            metrics[f"{split}_loss"] = float(F.binary_cross_entropy_with_logits(logits, y.float()))
            metrics[f"{split}_accuracy"] = float(((logits > 0).long() == y).float().mean())
        return metrics

    def _on_epoch(self, epoch: int, metrics: dict) -> None:
        # training thread: record, then let the slider (and the picture, if following) move on
        self._recorder.snapshot(epoch=epoch, **metrics)
        # Not hold_trait_notifications: it holds *every* thread's notifications on this object,
        # so a key press arriving meanwhile was redrawn here, as a throttled training redraw,
        # and could stay off screen until training stopped.
        # Following moves the slider at most once per _REDRAW_INTERVAL, not every epoch: each
        # move is a value update that the browser applies even over a key press of the user's
        # still on its way to the kernel (ipywidgets keeps no pending edit), so fewer moves
        # mean fewer presses computed from a value that just jumped. wait() catches up.
        with self._state_lock:
            self._slider.max = len(self._recorder.recording) - 1
            if time.monotonic() - self._last_follow >= _REDRAW_INTERVAL:
                self._follow()
        # the curves grow with every epoch: resend them at most once per interval
        if time.monotonic() - self._last_curves >= _REDRAW_INTERVAL:
            self._draw_curves()
        else:
            self._curves_pending = True

    def _on_loop_event(self, loop: TrainingLoop, event: str) -> None:
        if event == "state":
            self._update_buttons()
            if loop.state != "running":
                self._flush_redraw()
            if loop.state == "failed":
                self._tell(f"Training failed: {loop.error!r}. Press Reset to start again.")

    @property
    def _node_image(self) -> widgets.Image:
        """The image widget the graph shows now (one of two, see ``ImageSwap``)."""
        return self._nodes.shown

    @property
    def _boundary_image(self) -> widgets.Image:
        """The image widget the decision boundary shows now."""
        return self._boundary_pictures.shown

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Redraw everything for the selected snapshot, at once.

        Training does not call this every epoch: it moves the snapshot (and so redraws) at most
        once per ``_REDRAW_INTERVAL`` while following, and catches up when it pauses or stops
        (see ``_follow``). A move by the user always draws: the picture must show what the
        slider says.
        """
        self._draw()

    def _follow(self) -> None:
        """Move to the newest snapshot if following (training's move; it redraws)."""
        with self._state_lock:
            newest = len(self._recorder.recording) - 1
            if self._follow_newest and self.snapshot != newest:
                self._last_follow = time.monotonic()
                self.snapshot = newest

    def _flush_redraw(self) -> None:
        self._follow()  # training paused or stopped: catch up with the newest epoch
        if self._curves_pending:
            self._draw_curves()

    def _draw(self) -> None:
        with self._draw_lock:
            index = self.snapshot
            weights, biases = self.weights(index)
            with self.hold_sync():
                self._draw_nodes(weights, biases)
                self._draw_edges(weights)
                self._draw_boundary(weights, biases)
                self._draw_marker(index)

    def _draw_nodes(self, weights: list, biases: list) -> None:
        lay = self._layout
        size = self._node
        points = render.grid(_EXTENT, size)
        outputs = render.forward(weights, biases, self.activation, points)
        canvas = np.zeros((lay.height, lay.width, 4), dtype=np.uint8)  # transparent
        last = len(outputs) - 1
        for column, values in enumerate(outputs):
            if column == last:  # the output node shows the probability, like the boundary
                values = render.activate("sigmoid", values)
                low, high = np.zeros(1), np.ones(1)
            else:
                low, high = _neuron_range(self.activation if column > 0 else "linear", values)
            for unit in range(values.shape[1]):
                top, left = lay.top[column][unit], lay.left[column][unit]
                tile = colourize(
                    values[:, unit].reshape(size, size), low[unit], high[unit], CLASSES
                )
                canvas[top : top + size + 2, left : left + size + 2, :3] = 90  # a grey frame
                canvas[top : top + size + 2, left : left + size + 2, 3] = 255
                canvas[top + 1 : top + 1 + size, left + 1 : left + 1 + size, :3] = tile
        self._nodes.show(encode_png(canvas))

    def _draw_edges(self, weights: list) -> None:
        lay = self._layout
        xs, ys, ws = [], [], []
        for column, w in enumerate(weights):
            x, y = lay.edges(column)
            xs.append(x)
            ys.append(lay.height - y)  # canvas y runs down, the figure's y up
            ws.append(np.asarray(w, dtype=np.float64).ravel())
        # float32 on the wire: positions in canvas pixels need no more
        x = np.concatenate(xs).astype(np.float32)
        y = np.concatenate(ys).astype(np.float32)
        w = np.concatenate(ws)
        width = render.edge_width(np.abs(w))
        for (sign, level), mark in self._edge_marks.items():
            chosen = (np.signbit(w) == (sign < 0)) & (width == render.WIDTHS[level])
            with mark.hold_sync():  # one message per mark, not one per trait
                if chosen.any():
                    mark.x, mark.y = x[chosen], y[chosen]
                mark.visible = bool(chosen.any())

    def _draw_boundary(self, weights: list, biases: list) -> None:
        logits = render.forward(weights, biases, self.activation, self.grid_points())[-1]
        probability = render.activate("sigmoid", logits[:, 0]).reshape(self._resolution, -1)
        pixels = colourize(probability, 0.0, 1.0, CLASSES)
        # paler than the points drawn on it, so that they stand out
        pixels = (255 - (255 - pixels.astype(np.float32)) * 0.7).astype(np.uint8)
        self._boundary_pictures.show(encode_png(pixels))

    def _draw_marker(self, index: int) -> None:
        rec = self.recording
        self._marker.x = np.array([index, index], dtype=np.float32)
        metrics = {name: rec.metric(name)[index] for name in rec.metric_names}
        self._readout.value = (
            f"<b>epoch {index}</b> of {len(rec) - 1} &nbsp; train loss "
            f"{metrics['train_loss']:.3f} &nbsp; test loss {metrics['test_loss']:.3f} &nbsp; "
            f"test accuracy {metrics['test_accuracy']:.2f}"
        )

    def _draw_curves(self) -> None:
        self._curves_pending = False
        self._last_curves = time.monotonic()
        rec = self.recording
        epochs = np.arange(len(rec), dtype=np.float32)
        train, test = rec.metric("train_loss"), rec.metric("test_loss")
        with self._loss_lines.hold_sync():
            self._loss_lines.x = epochs
            self._loss_lines.y = np.stack([train, test]).astype(np.float32)
        top = float(np.nanmax([train.max(), test.max()])) if len(rec) else 1.0
        self._marker.y = np.array([0.0, top * 1.05], dtype=np.float32)
        self._loss_x.max = float(max(len(rec) - 1, 5))

    def _draw_static(self) -> None:
        """What changes only with the architecture or the data: graph frame, points, labels."""
        lay = self._layout
        with self.hold_sync():
            # room above the nodes for the column names
            self._graph_x.max, self._graph_y.max = float(lay.width), float(lay.height + 16)
            self._nodes.mark.x = np.array([0.0, lay.width])
            self._nodes.mark.y = np.array([0.0, lay.height])
            self._graph.layout.width = f"{lay.width + 8}px"
            self._graph.layout.height = f"{lay.height + 16 + 8}px"
            names = ["input", *[f"hidden {i + 1}" for i in range(len(self.hidden))], "output"]
            self._column_labels.x = np.array(
                [lay.left[c][0] + lay.node / 2 for c in range(len(names))], dtype=np.float64
            )
            self._column_labels.y = np.full(len(names), lay.height + 4.0)
            self._column_labels.text = names
            data = self._data
            for mark, x, y in (
                (self._train_points, data.train_x, data.train_y),
                (self._test_points, data.test_x, data.test_y),
            ):
                mark.x = x[:, 0].numpy().copy()
                mark.y = x[:, 1].numpy().copy()
                mark.color = y.numpy().astype(np.float32)
        self._draw_curves()

    def _update_buttons(self) -> None:
        state = self._loop.state if self._loop is not None else "idle"
        running = state == "running"
        usable = state in ("idle", "paused", "running")
        self._play_button.disabled = running or not usable
        self._pause_button.disabled = not running
        self._step_button.disabled = running or not usable
        self._state_label.value = f"training: {state}"

    def _tell(self, message: str) -> None:
        self._status.value = f"<i>{html.escape(message, quote=False)}</i>" if message else ""

    # ------------------------------------------------------------------ building
    def _build_controls(self) -> None:
        def dropdown(description: str, options: Sequence, trait: str) -> widgets.Dropdown:
            control = widgets.Dropdown(
                options=options,
                value=getattr(self, trait),
                description=description,
                layout=widgets.Layout(width="205px"),
                style={"description_width": "95px"},
            )
            traitlets.link((control, "value"), (self, trait))
            return control

        learning_rates = sorted({*_LEARNING_RATES, self.learning_rate})
        regularizations = sorted({*_REGULARIZATIONS, self.regularization})
        batch_sizes = sorted({*_BATCH_SIZES, self.batch_size})
        data_box = widgets.VBox(
            [
                dropdown("data", list(TOY_DATASETS), "dataset"),
                dropdown("activation", list(_ACTIVATION_MODULES), "activation"),
                dropdown("optimizer", list(_OPTIMIZERS), "optimizer"),
            ]
        )
        rates_box = widgets.VBox(
            [
                dropdown("learning rate", [(f"{v:g}", v) for v in learning_rates], "learning_rate"),
                dropdown("L2", [(f"{v:g}", v) for v in regularizations], "regularization"),
                dropdown("batch size", batch_sizes, "batch_size"),
            ]
        )
        self._layers_control = widgets.BoundedIntText(
            value=len(self.hidden),
            min=0,
            max=MAX_LAYERS,
            description="hidden layers",
            layout=widgets.Layout(width="160px"),
            style={"description_width": "95px"},
        )
        self._neurons_control = widgets.BoundedIntText(
            value=max(self.hidden, default=4),
            min=1,
            max=MAX_NEURONS,
            description="neurons each",
            layout=widgets.Layout(width="160px"),
            style={"description_width": "95px"},
        )
        self._layers_control.observe(self._on_shape_control_change, "value")
        self._neurons_control.observe(self._on_shape_control_change, "value")
        test_box = widgets.Checkbox(
            value=self.show_test, description="show test points", indent=False
        )
        traitlets.link((test_box, "value"), (self, "show_test"))
        shape_box = widgets.VBox([self._layers_control, self._neurons_control, test_box])

        self._play_button = widgets.Button(
            description="Play", icon="play", tooltip="Train until paused"
        )
        self._pause_button = widgets.Button(
            description="Pause", icon="pause", tooltip="Pause at the next step"
        )
        self._step_button = widgets.Button(
            description="Step", icon="step-forward", tooltip="Train one epoch"
        )
        self._reset_button = widgets.Button(
            description="Reset", icon="undo", tooltip="New initial weights; discards the recording"
        )
        for button in (
            self._play_button,
            self._pause_button,
            self._step_button,
            self._reset_button,
        ):
            button.layout = widgets.Layout(width="90px")
        self._play_button.on_click(lambda _: self.play())
        self._pause_button.on_click(lambda _: self.pause())
        self._step_button.on_click(lambda _: self.step())
        self._reset_button.on_click(lambda _: self.reset())
        self._state_label = widgets.Label("training: idle")
        buttons = widgets.VBox(
            [
                widgets.HBox([self._play_button, self._pause_button]),
                widgets.HBox([self._step_button, self._reset_button]),
                self._state_label,
            ]
        )
        self._controls = widgets.HBox([buttons, data_box, rates_box, shape_box])
        self._status = widgets.HTML()
        self._owned = [self._layers_control, self._neurons_control, test_box]

    def _on_shape_control_change(self, change: dict) -> None:
        if self._showing_shape:  # the boxes are being set from the trait, not by the user
            return
        wanted = [self._neurons_control.value] * self._layers_control.value
        if wanted != self.hidden:
            self.hidden = wanted

    def _show_shape(self, hidden: list[int]) -> None:
        """Set the two shape boxes from ``hidden`` without them writing back a uniform shape."""
        self._showing_shape = True
        try:
            self._layers_control.value = len(hidden)
            if hidden:
                self._neurons_control.value = max(hidden)
        finally:
            self._showing_shape = False

    def _build_figures(self) -> None:
        # the network graph: one transparent PNG holding every neuron's map, edges as lines
        self._graph_x = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self._graph_y = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        graph_scales = {"x": self._graph_x, "y": self._graph_y}
        self._nodes = ImageSwap(x=[0.0, 1.0], y=[0.0, 1.0], scales=graph_scales)
        self._edge_marks = {}
        for sign in (-1, 1):
            for level, width in enumerate(render.WIDTHS):
                self._edge_marks[(sign, level)] = bqplot.Lines(
                    x=np.zeros((1, 2)),
                    y=np.zeros((1, 2)),
                    scales=graph_scales,
                    colors=[render.EDGE_COLOURS[sign > 0]],
                    stroke_width=float(width),
                    opacities=[0.75],
                    visible=False,
                )
        self._column_labels = bqplot.Label(
            x=[0.0],
            y=[0.0],
            text=[""],
            scales=graph_scales,
            align="middle",
            font_weight="normal",
            default_size=12,
            colors=["#444444"],
        )
        self._graph = bqplot.Figure(
            marks=[*self._edge_marks.values(), self._nodes.mark, self._column_labels],
            fig_margin={"top": 4, "bottom": 4, "left": 4, "right": 4},
            padding_x=0.0,
            padding_y=0.0,
            min_aspect_ratio=0.1,
            max_aspect_ratio=10.0,
            title="",
        )
        self._graph.add_class("nnviz-playground-graph")

        # the decision boundary with the points
        extent = _EXTENT
        bx = bqplot.LinearScale(min=-extent, max=extent, allow_padding=False)
        by = bqplot.LinearScale(min=-extent, max=extent, allow_padding=False)
        classes = bqplot.ColorScale(colors=list(render.CLASS_COLOURS), min=0.0, max=1.0)
        self._boundary_pictures = ImageSwap(
            x=[-extent, extent],
            y=[-extent, extent],
            scales={"x": bx, "y": by},
        )
        point_scales = {"x": bx, "y": by, "color": classes}
        self._train_points = bqplot.Scatter(
            x=[0.0],
            y=[0.0],
            color=[0.0],
            scales=point_scales,
            default_size=22,
            stroke="white",
            stroke_width=1.0,
        )
        self._test_points = bqplot.Scatter(
            x=[0.0],
            y=[0.0],
            color=[0.0],
            scales=point_scales,
            default_size=22,
            stroke="black",
            stroke_width=1.0,
            visible=self.show_test,
        )
        self._boundary = bqplot.Figure(
            marks=[self._boundary_pictures.mark, self._train_points, self._test_points],
            axes=[
                bqplot.Axis(scale=bx, label="x₁", tick_values=[-1.0, 0.0, 1.0], tick_format=".0f"),
                bqplot.Axis(
                    scale=by,
                    side="left",
                    label="x₂",
                    tick_values=[-1.0, 0.0, 1.0],
                    tick_format=".0f",
                ),
            ],
            fig_margin={"top": 30, "bottom": 40, "left": 45, "right": 10},
            padding_x=0.0,
            padding_y=0.0,
            title="output",
            title_style={"font-size": "14px"},
            layout=widgets.Layout(width="330px", height="340px"),
            min_aspect_ratio=1.0,
            max_aspect_ratio=1.0,
        )
        self._boundary.add_class("nnviz-playground-boundary")

        # the loss curves with a marker at the selected snapshot
        self._loss_x = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        loss_y = bqplot.LinearScale(min=0.0, allow_padding=False)
        loss_scales = {"x": self._loss_x, "y": loss_y}
        self._loss_lines = bqplot.Lines(
            x=np.zeros(1),
            y=np.zeros((2, 1)),
            scales=loss_scales,
            colors=["#333333", "#c0392b"],
            labels=["train loss", "test loss"],
        )
        self._marker = bqplot.Lines(
            x=np.zeros(2),
            y=np.array([0.0, 1.0]),
            scales=loss_scales,
            colors=["#888888"],
            line_style="dashed",
        )
        self._losses = bqplot.Figure(
            marks=[self._loss_lines, self._marker],
            axes=[
                bqplot.Axis(scale=self._loss_x, label="epoch", num_ticks=5, tick_format="d"),
                bqplot.Axis(scale=loss_y, side="left", num_ticks=4, tick_format=".1f"),
            ],
            fig_margin={"top": 30, "bottom": 40, "left": 45, "right": 10},
            title="loss: train (black), test (red)",
            title_style={"font-size": "13px"},
            padding_x=0.0,
            layout=widgets.Layout(width="330px", height="200px"),
        )
        self._losses.add_class("nnviz-playground-losses")

        # browser moves apply under _state_lock: never between training's steps (see _sync)
        self._slider = LockedIntSlider(
            self._state_lock,
            value=0,
            min=0,
            max=0,
            description="epoch",
            continuous_update=True,
            layout=widgets.Layout(width="540px"),
        )
        # not traitlets.link: its guard against loops is one flag shared by all threads
        self._slider.observe(self._on_slider_value, "value")
        self._readout = widgets.HTML()
        left = widgets.VBox([self._graph, self._slider, self._readout])
        right = widgets.VBox([self._boundary, self._losses])
        self._body = widgets.HBox([left, right])
        self._owned += [*self._nodes.widgets, *self._boundary_pictures.widgets]


# ---------------------------------------------------------------------- helpers
def _one_of(name: str, value: str, valid: Sequence[str]) -> str:
    if value not in valid:
        raise traitlets.TraitError(
            f"{name} must be one of {', '.join(map(repr, valid))}, got {value!r}"
        )
    return value


def _describe_hidden(hidden: Sequence[int]) -> str:
    if not hidden:
        return "no hidden layer (a linear model)"
    return f"{len(hidden)} hidden layer(s) of {', '.join(map(str, hidden))} neurons"


def _build_model(hidden: Sequence[int], activation: str, seed: int) -> tuple[nn.Module, tuple]:
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


def _build_optimizer(
    kind: str, model: nn.Module, learning_rate: float, regularization: float
) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=regularization)
    return torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=regularization)


def _neuron_range(activation: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colour range per unit: the activation's own range where it has one, else symmetric.

    tanh and sigmoid have fixed ranges, so a colour means the same value at every snapshot.
    ReLU and linear units are unbounded: each is scaled by its largest magnitude over the plane
    at this snapshot, so that its shape stays visible whatever its size.
    """
    units = values.shape[1]
    if activation == "tanh":
        return np.full(units, -1.0), np.full(units, 1.0)
    if activation == "sigmoid":
        return np.zeros(units), np.ones(units)
    largest = np.abs(values).max(axis=0)
    largest = np.where(np.isfinite(largest) & (largest > 0), largest, 1.0)
    return -largest, largest
