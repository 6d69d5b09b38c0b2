"""The network as a graph (bqplot): each neuron's map over the plane, and an edge per weight.

Every neuron's map travels in one transparent PNG (one image swap, not one image widget per
neuron), and the edges in ten line marks, one per sign and width class, so that a redraw is a
handful of messages whatever the architecture. The canvas has one size for every architecture
the Playground allows, so the figure never resizes in the browser.
"""

from __future__ import annotations

from collections.abc import Sequence

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.views.image import ImageSwap
from nnviz_widgets.widgets.playground import forward, graph_layout
from nnviz_widgets.widgets.playground.features import expand

#: The column names: JupyterLab's own text colour (dark grey vanished on the dark theme), the old
#: dark grey where the page has no theme.
TEXT_COLOUR = "var(--jp-ui-font-color1, #444444)"

__all__ = ["NetworkGraph"]

#: Pixels beside the nodes on each side, so the first and last column names fit.
LABEL_ROOM = 14

#: ReLU and linear maps are coloured over plus or minus this percentile of the unit's magnitude
#: over the plane: a few large values in a corner no longer pale the whole map.
ROBUST_PERCENTILE = 75.0

#: What the colours of the neuron maps mean, shown under the graph.
LEGEND = (
    "Neuron maps: orange low, white 0, blue high. tanh and sigmoid on their own fixed range; "
    f"inputs, ReLU and linear units each on \u00b1 its {ROBUST_PERCENTILE:.0f}th percentile "
    "magnitude over the plane (full colour beyond it)."
)


class NetworkGraph:
    """The graph figure: neuron maps as nodes, weights as coloured edges of stepped widths.

    Parameters
    ----------
    node_resolution : int
        Pixels per side of each neuron's map.

    Attributes
    ----------
    figure : bqplot.Figure
        The figure to show (CSS class ``nnviz-playground-graph``).
    nodes : ImageSwap
        The one picture of every neuron's map.
    edge_marks : dict
        ``(sign, level) -> bqplot.Lines``: the edges whose weight has that sign (-1, 1) and
        whose width is ``graph_layout.WIDTHS[level]``.
    column_labels : bqplot.Label
        "input", "hidden 1", ..., "output" above the columns.
    layout : GraphLayout or None
        Where the nodes sit, from :meth:`set_architecture` on.
    """

    def __init__(self, node_resolution: int) -> None:
        self.node_resolution = node_resolution
        self.layout: graph_layout.GraphLayout | None = None
        self._x = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self._y = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        scales = {"x": self._x, "y": self._y}
        self.nodes = ImageSwap(x=[0.0, 1.0], y=[0.0, 1.0], scales=scales)
        self.edge_marks = _edge_marks(scales)
        self.column_labels = bqplot.Label(
            x=[0.0],
            y=[0.0],
            text=[""],
            scales=scales,
            align="middle",
            font_weight="normal",
            default_size=12,
            colors=[TEXT_COLOUR],
        )
        # Click targets, invisible: a square over each node, a dot at each edge's middle. One
        # Scatter each, so that a click names its element by index (node_at, edge_at).
        self.node_hits = _hits(scales, "square")
        self.edge_hits = _hits(scales, "circle")
        self._node_keys: list[tuple[int, int]] = []
        self._edge_keys: list[tuple[int, int, int]] = []
        self.figure = bqplot.Figure(
            marks=[
                *self.edge_marks.values(),
                self.nodes.mark,
                self.column_labels,
                self.edge_hits,
                self.node_hits,
            ],
            fig_margin={"top": 4, "bottom": 4, "left": 4, "right": 4},
            padding_x=0.0,
            padding_y=0.0,
            min_aspect_ratio=0.1,
            max_aspect_ratio=10.0,
            title="",
        )
        self.figure.add_class("nnviz-playground-graph")
        self.legend = ipywidgets.HTML(
            f"<small>{LEGEND}</small>", layout=ipywidgets.Layout(max_width="560px")
        )

    @property
    def image(self) -> ipywidgets.Image:
        """The image widget on screen now (its value is the PNG of every neuron's map)."""
        return self.nodes.shown

    def close(self) -> None:
        """Close the image widgets the figure's picture travels through."""
        self.nodes.close()

    def set_architecture(self, hidden: Sequence[int], inputs: int = 2, outputs: int = 1) -> None:
        """Lay the graph out for ``inputs`` features, ``hidden`` layers and ``outputs`` output
        units: frame, column names."""
        lay = self.layout = graph_layout.fixed_layout(hidden, self.node_resolution, inputs, outputs)
        # room above the nodes for the column names, and beside them: "output" is centred
        # over the last node and was cut at the figure's edge
        side = float(LABEL_ROOM)
        with self._x.hold_sync():
            self._x.min, self._x.max = -side, float(lay.width) + side
        self._y.max = float(lay.height + 16)
        self.nodes.mark.x = np.array([0.0, lay.width])
        self.nodes.mark.y = np.array([0.0, lay.height])
        self.figure.layout.width = f"{lay.width + 2 * LABEL_ROOM + 8}px"
        self.figure.layout.height = f"{lay.height + 16 + 8}px"
        names = ["input", *[f"hidden {i + 1}" for i in range(len(hidden))], "output"]
        self.column_labels.x = np.array(
            [lay.left[c][0] + lay.node / 2 for c in range(len(names))], dtype=np.float64
        )
        self.column_labels.y = np.full(len(names), lay.height + 4.0)
        self.column_labels.text = names
        self._place_hits(lay)

    def node_at(self, index: int) -> tuple[int, int]:
        """``(column, unit)`` of the node whose click target is number ``index``."""
        return self._node_keys[index]

    def edge_at(self, index: int) -> tuple[int, int, int]:
        """``(layer, out, in)`` of the weight whose click target is number ``index``."""
        return self._edge_keys[index]

    def _place_hits(self, lay: graph_layout.GraphLayout) -> None:
        nodes, edges = [], []
        self._node_keys, self._edge_keys = [], []
        for column, count in enumerate(lay.sizes):
            cx, cy = lay.centre(column)
            nodes += [(cx[u], lay.height - cy[u]) for u in range(count)]
            self._node_keys += [(column, u) for u in range(count)]
            if column + 1 < len(lay.sizes):
                x, y = lay.edges(column)
                edges += list(zip(x.mean(axis=1), lay.height - y.mean(axis=1)))
                n_in, n_out = count, lay.sizes[column + 1]
                self._edge_keys += [(column, o, i) for o in range(n_out) for i in range(n_in)]
        for mark, points, size in (
            (self.node_hits, nodes, lay.node**2),
            (self.edge_hits, edges, 40),
        ):
            xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
            with mark.hold_sync():
                mark.x, mark.y, mark.default_size = xy[:, 0], xy[:, 1], int(size)

    def draw_nodes(
        self,
        weights: list,
        biases: list,
        activation: str | Sequence[str],
        features: Sequence[str] = ("x1", "x2"),
        classes: int = 2,
    ) -> None:
        """Draw every neuron's output over the plane, each in a grey frame, in one PNG.

        The input column shows each input feature of ``features`` over the plane; the output
        column what the output means for ``classes`` (:func:`.forward.output_values`).
        """
        lay = self.layout
        size = self.node_resolution
        points = expand(forward.grid(forward.EXTENT, size), features)
        outputs = forward.forward(weights, biases, activation, points)
        kinds = column_kinds(activation, len(weights))
        canvas = np.zeros((lay.height, lay.width, 4), dtype=np.uint8)  # transparent
        last = len(outputs) - 1
        for column, values in enumerate(outputs):
            if column == last:  # the output nodes show what the boundary shows
                values = forward.output_values(values, classes)
                low, high = (np.full(values.shape[1], v) for v in forward.output_range(classes))
            else:
                low, high = colour_range(kinds[column], values)
            for unit in range(values.shape[1]):
                top, left = lay.top[column][unit], lay.left[column][unit]
                tile = colourize(
                    values[:, unit].reshape(size, size), low[unit], high[unit], CLASSES
                )
                canvas[top : top + size + 2, left : left + size + 2, :3] = 90  # a grey frame
                canvas[top : top + size + 2, left : left + size + 2, 3] = 255
                canvas[top + 1 : top + 1 + size, left + 1 : left + 1 + size, :3] = tile
        self.nodes.show(encode_png(canvas))

    def draw_edges(self, weights: list) -> None:
        """Draw an edge per weight, its colour by sign and its width by magnitude."""
        lay = self.layout
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
        width = graph_layout.edge_width(np.abs(w))
        for (sign, level), mark in self.edge_marks.items():
            chosen = (np.signbit(w) == (sign < 0)) & (width == graph_layout.WIDTHS[level])
            with mark.hold_sync():  # one message per mark, not one per trait
                if chosen.any():
                    mark.x, mark.y = x[chosen], y[chosen]
                mark.visible = bool(chosen.any())


def _edge_marks(scales: dict) -> dict[tuple[int, int], bqplot.Lines]:
    """A line mark per sign and width class of the weights, ``(sign, level)`` -> mark."""
    return {
        (sign, level): bqplot.Lines(
            x=np.zeros((1, 2)),
            y=np.zeros((1, 2)),
            scales=scales,
            colors=[graph_layout.EDGE_COLOURS[sign > 0]],
            stroke_width=float(width),
            opacities=[0.75],
            visible=False,
        )
        for sign in (-1, 1)
        for level, width in enumerate(graph_layout.WIDTHS)
    }


def _hits(scales: dict, marker: str) -> bqplot.Scatter:
    # transparent, but there: an SVG shape at opacity 0 still takes the pointer's clicks
    return bqplot.Scatter(
        x=[0.0],
        y=[0.0],
        scales=scales,
        marker=marker,
        opacities=[0.0],
        stroke_width=0.0,
    )


def column_kinds(activation: str | Sequence[str], layers: int) -> list[str]:
    """What each column of the graph holds, for its colours: "linear" inputs, then each hidden
    layer's activation (``activation``: one name for all, or one per hidden layer)."""
    per_layer = [activation] * (layers - 1) if isinstance(activation, str) else list(activation)
    return ["linear", *per_layer]


def colour_range(activation: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colour range per unit: the activation's own range where it has one, else symmetric.

    tanh and sigmoid have fixed ranges, so a colour means the same value at every snapshot.
    ReLU and linear units (and the inputs) are unbounded: each is scaled by a robust magnitude
    over the plane at this snapshot (the :data:`ROBUST_PERCENTILE` of its non-zero magnitudes),
    so that its shape stays visible whatever its size. A ReLU is zero over much of the plane:
    zeros left in, they would pull the percentile down to nothing; left out, the part where it
    fires shows its slope (docs/playground.md, "What it shows").
    """
    units = values.shape[1]
    if activation == "tanh":
        return np.full(units, -1.0), np.full(units, 1.0)
    if activation == "sigmoid":
        return np.zeros(units), np.ones(units)
    magnitude = np.abs(np.where(np.isfinite(values), values, 0.0))
    # per unit, the percentile of its non-zero magnitudes (the lower of two neighbours): they
    # are the last ones once sorted. A sort, not np.nanpercentile: 100 times faster, and this
    # runs for every column at every scrub step.
    ordered = np.sort(magnitude, axis=0)
    nonzero = np.count_nonzero(magnitude, axis=0)
    rank = len(magnitude) - nonzero + ((nonzero - 1) * ROBUST_PERCENTILE / 100.0).astype(int)
    rank = np.clip(rank, 0, len(magnitude) - 1)
    largest = ordered[rank, np.arange(units)].astype(np.float64)
    largest = np.where((nonzero > 0) & (largest > 0), largest, 1.0)
    return -largest, largest
