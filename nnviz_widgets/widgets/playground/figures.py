"""The Playground's picture: its three figures, drawn together from one snapshot of a run.

The network graph, the decision boundary and the loss curves each draw from numpy alone: the
recorded weights of the snapshot go through the forward pass over the plane (:mod:`.forward`).
Nothing here takes a lock; the Playground draws under its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ipywidgets
import numpy as np

from nnviz_widgets.widgets.playground import forward
from nnviz_widgets.widgets.playground.boundary import BoundaryFigure
from nnviz_widgets.widgets.playground.features import expand
from nnviz_widgets.widgets.playground.inspector import NeuronInspector
from nnviz_widgets.widgets.playground.loss_curves import LossCurves
from nnviz_widgets.widgets.playground.network_graph import NetworkGraph

if TYPE_CHECKING:  # for annotations only: the figures draw from numpy and never need torch
    from nnviz_widgets.widgets.playground.run import PlaygroundRun

__all__ = ["PlaygroundFigures", "discrete"]


def discrete(values: np.ndarray, classes: int) -> np.ndarray:
    """The answer as the model would call it ("discretize output"): two classes, 0 or 1;
    3 to 5, the likeliest class at probability 1; a regression, the sign of the prediction
    (-1 or 1), as TF Playground rounds it."""
    if classes == 0:
        return np.where(values >= 0, np.float32(1.0), np.float32(-1.0))
    if classes == 2:
        return (values > 0.5).astype(np.float32)
    return (values.argmax(axis=-1)[..., None] == np.arange(classes)).astype(np.float32)


class PlaygroundFigures:
    """The network graph, the decision boundary with the points, and the loss curves.

    Parameters
    ----------
    resolution : int
        Grid points per side of the decision-boundary picture.
    node_resolution : int
        Pixels per side of each neuron's map in the graph.
    show_test : bool
        Whether the test points are drawn at first.

    Attributes
    ----------
    graph : NetworkGraph
    boundary : BoundaryFigure
    losses : LossCurves
    inspector : NeuronInspector
        The neuron and the weight picked in the graph.
    """

    def __init__(self, resolution: int, node_resolution: int, show_test: bool) -> None:
        self.resolution = resolution
        #: whether the output is drawn as its class (probability above 0.5) or its probability
        self.discretize = False
        self.graph = NetworkGraph(node_resolution)
        self.boundary = BoundaryFigure(show_test)
        self.losses = LossCurves()
        # 64 pixels a side: a large map, at a third of the boundary's forward pass
        self.inspector = NeuronInspector(min(resolution, 64))

    def arrange(self, slider: ipywidgets.Widget) -> ipywidgets.HBox:
        """The figures side by side: the graph over ``slider``, the readout and the inspector,
        then the boundary over the losses."""
        # each column keeps its width: squeezed, the graph lost its last column's name
        keep = {"flex": "0 0 auto"}
        left = ipywidgets.VBox(
            [self.graph.figure, self.graph.legend, slider, self.losses.readout, self.inspector.box],
            layout=ipywidgets.Layout(**keep),
        )
        right = ipywidgets.VBox(
            [self.boundary.figure, self.losses.figure], layout=ipywidgets.Layout(**keep)
        )
        return ipywidgets.HBox([left, right], layout=ipywidgets.Layout(flex_flow="row wrap"))

    def grid_points(self) -> np.ndarray:
        """The input points of the decision-boundary picture, ``(resolution**2, 2)``."""
        return forward.grid(forward.EXTENT, self.resolution)

    def probability(
        self,
        weights: list,
        biases: list,
        activation: str | Sequence[str],
        features: Sequence[str] = ("x1", "x2"),
    ) -> np.ndarray:
        """The probability of class 1 over :meth:`grid_points`, a square in image order.

        ``features`` are the input features the network is fed (:mod:`.features`).
        """
        return self.prediction(weights, biases, activation, features, 2)

    def prediction(
        self,
        weights: list,
        biases: list,
        activation: str | Sequence[str],
        features: Sequence[str] = ("x1", "x2"),
        classes: int = 2,
    ) -> np.ndarray:
        """The network's answer over :meth:`grid_points` (:func:`.forward.prediction`), a
        square in image order: ``(resolution, resolution)``, or with a last axis of one
        probability per class for 3 to 5 ``classes``."""
        points = expand(self.grid_points(), features)
        values = forward.prediction(weights, biases, activation, points, classes)
        return values.reshape(self.resolution, self.resolution, *values.shape[1:])

    def show_run(self, run: PlaygroundRun) -> None:
        """Draw what changes only with the run: the graph's frame, the points, the curves."""
        self.graph.set_architecture(run.hidden, len(run.features), run.objective.outputs)
        self.boundary.show_data(run.data)
        self.losses.draw(run.recording)

    def draw(self, run: PlaygroundRun, index: int) -> None:
        """Draw snapshot ``index`` of ``run``: neuron maps, edges, boundary, marker and readout."""
        weights, biases = run.weights(index)
        classes = run.objective.classes
        self.graph.draw_nodes(weights, biases, run.activations, run.features, classes)
        self.graph.draw_edges(weights)
        values = self.prediction(weights, biases, run.activations, run.features, classes)
        if self.discretize:
            values = discrete(values, classes)
        self.boundary.draw(values, classes)
        self.inspector.draw(weights, biases, run.activations, run.features, classes)
        self.losses.show_epoch(run.recording, index)

    def close(self) -> None:
        """Close the image widgets the pictures travel through."""
        self.graph.close()
        self.boundary.close()
        self.inspector.close()
