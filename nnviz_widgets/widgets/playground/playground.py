"""The Playground: a teaching widget that trains a small MLP on 2-D toy data and shows it think.

It shows one training run at a time (:class:`~.run.PlaygroundRun`: the data, the torch MLP, its
optimizer, a Recorder that snapshots every Linear layer once per epoch, and a TrainingLoop that
trains in a background thread so that the widget stays live) and keeps the runs before it
(:mod:`.runs`), any of which can be brought back; and three figures drawn from the
run's Recording at the selected snapshot: the network graph (neuron maps, weighted edges), the
decision boundary with the points, and the loss curves. The weights are read back and pushed
through a numpy forward pass over the plane (:mod:`.forward`), so scrubbing back to epoch 3 shows
epoch 3 exactly, with no torch model state involved.

One trait, :attr:`Playground.index` (also called ``snapshot``), drives the whole picture. Which
thread touches what, and under which lock, is in ``docs/architecture.md`` ("The Playground").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import ipywidgets as widgets
import traitlets

from nnviz_widgets.datasets import MULTICLASS_DATASETS, own_data
from nnviz_widgets.threads import Throttle
from nnviz_widgets.threads.controls import Link
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.widgets.playground.controls import PlaygroundControls
from nnviz_widgets.widgets.playground.editing import WeightEditing
from nnviz_widgets.widgets.playground.figures import PlaygroundFigures
from nnviz_widgets.widgets.playground.reading import PlaygroundReading
from nnviz_widgets.widgets.playground.run import PlaygroundRun
from nnviz_widgets.widgets.playground.run_switching import RunSwitching
from nnviz_widgets.widgets.playground.runs import RunHistory
from nnviz_widgets.widgets.playground.settings import (
    OWN,
    RESTARTS,
    TUNABLE,
    PlaygroundSettings,
    check_resolution,
)

__all__ = ["Playground"]

#: Seconds: while training, follow the newest epoch and resend the curves at most this often
#: (bqplot #1600: the browser's memory grows under continuous updates).
REDRAW_INTERVAL = 0.1


class Playground(PlaygroundSettings, PlaygroundReading, RunSwitching, WeightEditing, widgets.VBox):
    """Train a small MLP on a 2-D toy data set and watch it learn; scrub back through epochs.

    Parameters
    ----------
    dataset : {"circles", "xor", "gaussians", "spirals", "plane", "multi-gaussian"}
        The toy data set (see :mod:`nnviz_widgets.datasets`): the first four are classes, the
        last two a regression; ``"own"`` with ``data``.
    data : (X, y) or pandas DataFrame, optional
        The user's own 2-D points, instead of a toy set: ``X`` ``(n, 2)`` and ``y`` of ``n``
        labels of 2 to 5 classes or ``n`` float targets (a regression), or a frame with two
        feature columns and a label column (see :func:`nnviz_widgets.datasets.own_data`, which
        also scales them into [-1, 1] and says how classes and targets are told apart).
    classes : int
        For the data sets that take it (gaussians, spirals): 2 to 5 classes. Two train one
        logit with binary cross-entropy; 3 to 5 a logit per class with softmax cross-entropy
        (docs/playground.md, "Classes and regression").
    features : sequence of str
        The input features the network is fed, of "x1", "x2", "x1^2", "x2^2", "x1*x2",
        "sin x1", "sin x2" (default: the two coordinates).
    hidden : sequence of int
        Neurons in each hidden layer, e.g. ``(4, 4)``; ``()`` is a linear model (logistic,
        softmax or linear regression). At most 6 layers of 1 to 8 neurons.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The activation after each hidden layer.
    activations : sequence of str
        One activation per hidden layer, e.g. ``["relu", "tanh"]``; empty (the default) uses
        ``activation`` for all.
    learning_rate, batch_size, regularization, regularizer, optimizer, noise, n, seed,
    test_fraction, discretize, dropout
        See the traits of the same names (declared, with ``show_test``, by
        :class:`~.settings.PlaygroundSettings`).
    resolution : int
        Grid points per side of the decision-boundary picture.
    node_resolution : int
        Pixels per side of each neuron's map in the graph.

    Notes
    -----
    ``index`` and ``snapshot`` are one setting under two names: ``index``, as in the
    TrainingExplorer, and ``snapshot``, its first name here. Setting either sets both, from any
    thread.

    A change of a setting that starts training again (:data:`~.settings.RESTARTS`) or Reset
    starts a new run; the previous runs are kept (at most :data:`~.runs.MAX_KEPT_RUNS`, the
    oldest dropped first) and :attr:`run` brings one back, settings and all.

    Examples
    --------
    >>> pg = Playground("spirals", hidden=(8, 8))  # doctest: +SKIP
    >>> pg  # shows the widget; press Play, or from Python:
    >>> pg.train(100)  # 100 epochs in the background, waiting for them
    >>> pg.index = 10  # the picture at epoch 10
    """

    index = traitlets.Int(
        0,
        help="The recorded epoch shown: 0 is the initial network, one snapshot per epoch. "
        "The same as snapshot.",
    )
    snapshot = traitlets.Int(
        0, help="The recorded epoch shown: 0 is the initial network, one snapshot per epoch."
    )

    def __init__(
        self,
        dataset: str = "spirals",
        *,
        data: object = None,
        hidden: Sequence[int] = (4, 4),
        activation: str = "tanh",
        learning_rate: float = 0.01,
        batch_size: int = 10,
        regularization: float = 0.0,
        optimizer: str = "adam",
        noise: float = 0.05,
        n: int = 400,
        seed: int = 0,
        features: Sequence[str] = ("x1", "x2"),
        regularizer: str = "L2",
        test_fraction: float = 0.5,
        discretize: bool = False,
        dropout: float = 0.0,
        activations: Sequence[str] = (),
        classes: int = 2,
        resolution: int = 96,
        node_resolution: int = 28,
    ) -> None:
        if data is not None:  # checked now, with errors that name what is wrong
            own_data(data, noise=noise, test_fraction=test_fraction, seed=seed)
            self.own_data, dataset = data, OWN
        check_resolution("resolution", resolution, 8)
        check_resolution("node_resolution", node_resolution, 8)
        super().__init__()
        # index, snapshot, the slider, its range and the figures change from several threads:
        # the kernel's (the user), training's (a new epoch) and the throttles' (below)
        self._state_lock = threading.RLock()
        self._make_state()
        first = {
            "dataset": dataset, "hidden": list(hidden), "activation": activation,
            "learning_rate": learning_rate, "batch_size": batch_size,
            "regularization": regularization, "optimizer": optimizer, "noise": noise, "n": n,
            "seed": seed, "features": list(features), "regularizer": regularizer,
            "test_fraction": test_fraction, "discretize": discretize, "dropout": dropout,
            "activations": list(activations), "classes": classes,
        }  # fmt: skip
        with self.hold_trait_notifications():  # validated together, before anything is built
            for name, value in first.items():
                setattr(self, name, value)
        self._build(resolution, node_resolution)

    def _make_state(self) -> None:
        """The current run, the kept runs and the throttles, before any setting."""
        self._run: PlaygroundRun | None = None
        self._history = RunHistory()
        # while a kept run is brought back, its settings are copied into the traits: not changes
        self._restoring = False
        # whether the picture follows the newest epoch (under _state_lock): set by every move of
        # index, to the newest or away from it; training's own moves keep it
        self._follow_newest = True
        # while training: follow, and resend the growing curves, at most once per interval
        self._follower = Throttle(self._follow, REDRAW_INTERVAL)
        self._curves = Throttle(self._draw_curves, REDRAW_INTERVAL)

    def _build(self, resolution: int, node_resolution: int) -> None:
        """Connect what a change does, make the controls and figures, start the first run."""
        # What a later change does. Connected only now: the arguments above are the first
        # run's settings, not changes to it.
        self.observe(self._on_run_setting_change, names=list(RESTARTS))
        self.observe(self._on_tunable_change, names=list(TUNABLE))
        self.observe(self._on_show_test_change, names="show_test")
        self.observe(self._on_discretize_change, names="discretize")
        self._snapshot_link = Link((self, "index"), (self, "snapshot"), self._state_lock)
        self._controls = PlaygroundControls(self, self._state_lock)
        # after the links, so that snapshot and the slider hold a new index before it is drawn
        self.observe(self._on_index_change, names="index")
        self.observe(self._on_run_change, names="run")  # RunSwitching's
        self._figures = PlaygroundFigures(resolution, node_resolution, self.show_test)
        self._figures.discretize = self.discretize
        self.children = [
            self._controls.box,
            self._controls.status,
            self._figures.arrange(self._controls.slider),
        ]
        self.add_class("nnviz-playground")
        self._connect_clicks()  # WeightEditing's
        self._start_run("")

    # ------------------------------------------------------------------ validation
    @traitlets.validate("index", "snapshot")
    def _validate_index(self, proposal: dict) -> int:
        value = proposal["value"]
        count = len(self._run.recording) if self._run is not None else 1
        if not 0 <= value < count:
            raise traitlets.TraitError(
                f"{proposal['trait'].name} must be a recorded epoch, from 0 to {count - 1}, "
                f"got {value!r}"
            )
        return value

    # ------------------------------------------------------------------ observers
    def _on_run_setting_change(self, change: dict) -> None:
        if change["name"] == "classes" and self.dataset not in MULTICLASS_DATASETS:
            return  # the data set has its own classes: kept for the next one that takes them
        if not self._restoring:
            self._start_run(RESTARTS[change["name"]](change["new"]))

    def _on_tunable_change(self, change: dict) -> None:
        if self._restoring:
            return
        self._run.tune(
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            regularizer=self.regularizer,
            batch_size=self.batch_size,
        )

    def _on_discretize_change(self, change: dict) -> None:
        self._figures.discretize = self.discretize
        self.redraw()

    def _on_show_test_change(self, change: dict) -> None:
        self._figures.boundary.test_points.visible = self.show_test

    def _on_index_change(self, change: dict) -> None:
        with self._state_lock:
            # index now, not the change's: another thread may have moved it since. The newest is
            # the end of the slider, where the user sees it.
            self._follow_newest = self.index == self._controls.slider.max
            self.redraw()

    # ------------------------------------------------------------------ public API
    def play(self) -> None:
        """Train in the background until paused (the Play button)."""
        self._controls.tell("")
        self.loop.start()

    def pause(self) -> None:
        """Pause training at the next optimizer step (the Pause button)."""
        self.loop.pause()

    def step(self) -> None:
        """Train exactly one more epoch in the background, then pause (the Step button)."""
        self._controls.tell("")
        self.loop.step()

    def train(self, epochs: int, *, timeout: float | None = None) -> None:
        """Train ``epochs`` more epochs in the background and wait for them to finish.

        Meant for notebooks and scripts; the widget stays live meanwhile, its picture following.

        Raises
        ------
        RuntimeError
            Training failed (the message holds the error) or did not finish within ``timeout``.
        """
        self._controls.tell("")
        self.loop.start(epochs)
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> None:
        """Wait until training pauses or stops, then show the newest snapshot if following."""
        loop = self.loop
        if not loop.wait(timeout):
            raise RuntimeError(f"training was still running after {timeout} s")
        if loop.state == "failed":
            raise RuntimeError(f"training failed: {loop.error!r}\n{loop.traceback}")
        self._catch_up()
        self._follower.wait()
        self._curves.wait()

    def reset(self) -> None:
        """Start a new run from epoch 0 (the Reset button); the run so far stays in the list."""
        self._start_run("Reset")

    def close(self) -> None:
        """Stop training, release the Recorder's hooks (of every kept run), close the widgets."""
        self._stop_run()
        getattr(self, "_history", RunHistory()).close()
        # getattr: close() also runs from __del__ of a Playground whose construction failed
        for part in ("_follower", "_curves", "_controls", "_figures"):
            if getattr(self, part, None) is not None:
                getattr(self, part).close()
        super().close()

    def redraw(self) -> None:
        """Redraw everything for the selected snapshot, at once.

        Training does not call this every epoch: it moves the selected snapshot (and so
        redraws) at most once per ``REDRAW_INTERVAL`` while following, and catches up when it
        pauses or stops. A move by the user always draws: the picture must show what the slider
        says.
        """
        with self._state_lock:
            self._figures.draw(self._run, self.index)

    # ------------------------------------------------------------------ a run's events
    def _on_epoch(self, run: PlaygroundRun) -> None:
        # Training thread, once the epoch's snapshot is recorded. The slider's range grows at
        # once; following moves the slider at most once per REDRAW_INTERVAL, not every epoch:
        # each move is a value update that the browser applies even over a key press of the
        # user's still on its way to the kernel (ipywidgets keeps no pending edit), so fewer
        # moves mean fewer presses computed from a value that just jumped. Not
        # hold_trait_notifications: it holds *every* thread's notifications on this object, so
        # a key press arriving meanwhile would be drawn late, from here.
        with self._state_lock:
            if run is not self._run:  # a run being shelved ends its epoch: not the one shown
                return
            self._controls.slider.max = self._run.epochs
        self._follower()
        self._curves()  # the curves grow with every epoch: resent at most once per interval

    def _on_loop_event(self, loop: TrainingLoop, event: str) -> None:
        if event != "state":
            return
        self._controls.show_state(loop.state)
        if loop.state != "running":
            self._catch_up()
            self._controls.show_runs(self._history.options(), self.run)
        if loop.state == "failed":
            self._controls.tell(f"Training failed: {loop.error!r}. Press Reset to start again.")

    def _follow(self) -> None:
        """Move to the newest snapshot if following (training's move; it redraws)."""
        with self._state_lock:
            newest = self._run.epochs
            if self._follow_newest and self.index != newest:
                self.index = newest

    def _catch_up(self) -> None:
        """Training paused or stopped: follow and resend the curves now, if either is due."""
        self._follower.flush()
        self._curves.flush()

    def _draw_curves(self) -> None:
        with self._state_lock:
            self._figures.losses.draw(self._run.recording)
            # the readout counts the run as it grows, also while scrubbed back
            self._figures.losses.show_epoch(self._run.recording, self.index)
