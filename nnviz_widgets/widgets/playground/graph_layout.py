"""The network graph's geometry in numpy: where each node sits, and each edge's width and colour.

One column of square nodes per layer (inputs, hidden layers, output), each column centred
vertically; one edge per weight, its width stepping up at fixed weight magnitudes so that the
same width means the same weight at every snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nnviz_widgets.render.colour import CLASSES

__all__ = [
    "EDGE_COLOURS",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "WIDTHS",
    "WIDTH_THRESHOLDS",
    "GraphLayout",
    "edge_width",
    "fixed_layout",
    "layout",
]

#: The largest network the graph has room for: hidden layers, and neurons in each.
MAX_LAYERS = 6
MAX_NEURONS = 8

#: Edge colours by the weight's sign, negative then positive: the colour of the class (0, 1)
#: that the weight pushes towards, the ends of the class colour map.
EDGE_COLOURS = (CLASSES.anchors[0], CLASSES.anchors[-1])

#: Weight magnitudes at which the edge width steps up, and the widths (one more than thresholds).
WIDTH_THRESHOLDS = np.array([0.1, 0.5, 1.0, 2.0])
WIDTHS = np.array([0.5, 1.0, 2.0, 3.5, 5.0])


def edge_width(magnitude: np.ndarray) -> np.ndarray:
    """Stroke width (px) of an edge whose weight has absolute value ``magnitude``.

    Fixed thresholds on the weight itself, not on the largest weight of the moment, so that the
    same width means the same weight at every snapshot: 0.5 px below 0.1, then 1, 2, 3.5 and
    5 px from 0.1, 0.5, 1 and 2.
    """
    return WIDTHS[np.searchsorted(WIDTH_THRESHOLDS, np.asarray(magnitude), side="right")]


@dataclass(frozen=True)
class GraphLayout:
    """Where each node of the network graph sits, in the pixels of the graph's canvas.

    Attributes
    ----------
    sizes : tuple of int
        Units per column: inputs, each hidden layer, output.
    node : int
        Side of a node's square, in canvas pixels.
    width, height : int
        Canvas size in pixels.
    left, top : list of arrays
        Per column, the canvas pixel of each node's left and top edge.
    """

    sizes: tuple[int, ...]
    node: int
    width: int
    height: int
    left: list[np.ndarray]
    top: list[np.ndarray]

    def centre(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """The centres ``(x, y)`` of a column's nodes, in canvas pixels (y downwards)."""
        half = self.node / 2
        return self.left[column] + half, self.top[column] + half

    def edges(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """Line end points of every edge from ``column`` to ``column + 1``.

        Returns ``(x, y)``, each ``(n_out * n_in, 2)`` in canvas pixels (y downwards); edge
        ``o * n_in + i`` joins node ``i`` of ``column`` to node ``o`` of the next, which is the
        order of ``weight.ravel()`` for a ``(out, in)`` weight matrix.
        """
        n_in, n_out = self.sizes[column], self.sizes[column + 1]
        x_in = np.full(n_in, self.left[column][0] + self.node, dtype=np.float64)
        x_out = np.full(n_out, self.left[column + 1][0], dtype=np.float64)
        y_in = self.top[column] + self.node / 2
        y_out = self.top[column + 1] + self.node / 2
        x = np.stack([np.tile(x_in, n_out), np.repeat(x_out, n_in)], axis=1)
        y = np.stack([np.tile(y_in, n_out), np.repeat(y_out, n_in)], axis=1)
        return x, y


def layout(
    sizes: Sequence[int],
    *,
    node: int = 28,
    gap: int = 10,
    spacing: int = 70,
    width: int | None = None,
    rows: int | None = None,
) -> GraphLayout:
    """Place the nodes: one column per layer, each column centred vertically.

    Parameters
    ----------
    sizes : sequence of int
        Units per column (inputs, hidden layers, output).
    node : int
        Side of a node's square, in pixels.
    gap : int
        Vertical space between two nodes of a column.
    spacing : int
        Horizontal space between columns, where the edges run; ignored when ``width`` is given.
    width : int, optional
        A fixed canvas width: the columns spread evenly across it. With ``rows``, this keeps the
        picture one size whatever the architecture, so the figure never needs resizing.
    rows : int, optional
        Room for this many nodes in height (at least the tallest column).
    """
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"a graph needs at least two columns of at least one node, got {sizes}")
    tallest = max(max(sizes), rows or 0)
    margin = 4
    height = 2 * margin + tallest * node + (tallest - 1) * gap
    if width is not None:
        spacing = (width - 2 * margin - len(sizes) * node) // (len(sizes) - 1)
        if spacing < 4:
            raise ValueError(f"{len(sizes)} columns of {node} px do not fit in {width} px")
    width = 2 * margin + len(sizes) * node + (len(sizes) - 1) * spacing
    left, top = [], []
    for column, count in enumerate(sizes):
        column_height = count * node + (count - 1) * gap
        first = margin + (height - 2 * margin - column_height) // 2
        left.append(np.full(count, margin + column * (node + spacing), dtype=np.int64))
        top.append(first + np.arange(count, dtype=np.int64) * (node + gap))
    return GraphLayout(sizes, node, width, height, left, top)


def fixed_layout(
    hidden: Sequence[int], resolution: int, inputs: int = 2, outputs: int = 1
) -> GraphLayout:
    """The graph of an MLP with ``hidden`` layers, on a canvas with room for the largest one.

    One canvas size for every architecture the Playground allows, so that the figure never
    resizes in the browser. ``resolution`` is the side of a neuron's map; its node is 2 pixels
    more, for a frame; ``inputs`` is the number of input features (nodes of the first column),
    ``outputs`` that of output units (one per class for 3 to 5 classes).
    """
    return layout(
        [inputs, *hidden, outputs],
        node=resolution + 2,
        gap=resolution // 3,
        width=(MAX_LAYERS + 2) * (resolution + 2) + (MAX_LAYERS + 1) * (3 * resolution // 2),
        rows=MAX_NEURONS,
    )
