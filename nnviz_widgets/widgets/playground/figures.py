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

__all__ = ["PlaygroundFigures"]


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
        points = expand(self.grid_points(), features)
        probability = forward.probability(weights, biases, activation, points)
        return probability.reshape(self.resolution, -1)

    def show_run(self, run: PlaygroundRun) -> None:
        """Draw what changes only with the run: the graph's frame, the points, the curves."""
        self.graph.set_architecture(run.hidden, len(run.features))
        self.boundary.show_data(run.data)
        self.losses.draw(run.recording)

    def draw(self, run: PlaygroundRun, index: int) -> None:
        """Draw snapshot ``index`` of ``run``: neuron maps, edges, boundary, marker and readout."""
        weights, biases = run.weights(index)
        self.graph.draw_nodes(weights, biases, run.activations, run.features)
        self.graph.draw_edges(weights)
        probability = self.probability(weights, biases, run.activations, run.features)
        if self.discretize:  # each point's class, as the model would call it
            probability = (probability > 0.5).astype(np.float32)
        self.boundary.draw(probability)
        self.inspector.draw(weights, biases, run.activations, run.features)
        self.losses.show_epoch(run.recording, index)

    def close(self) -> None:
        """Close the image widgets the pictures travel through."""
        self.graph.close()
        self.boundary.close()
        self.inspector.close()
