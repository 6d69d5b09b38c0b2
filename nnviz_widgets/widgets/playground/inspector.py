"""The Playground's inspector: one neuron's map, large, with the value under the pointer, and an
editor for one weight.

A click on a neuron in the graph shows its output over the plane here, at the snapshot shown,
coloured as in the graph; the pointer over it says the value there (a grid of invisible squares
under the picture answers hovers, in the browser's tooltip and in a line of text). A click on an
edge puts that weight in the editor; setting it is the Playground's (:mod:`.editing`).
"""

from __future__ import annotations

from collections.abc import Sequence

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.views.chart import themed
from nnviz_widgets.views.image import ImageSwap
from nnviz_widgets.widgets.playground import forward
from nnviz_widgets.widgets.playground.features import expand
from nnviz_widgets.widgets.playground.network_graph import colour_range, column_kinds

__all__ = ["HOVER_POINTS", "NeuronInspector", "node_name"]

#: Hover targets per side of the large map: the value is read at the nearest of these points.
HOVER_POINTS = 24


def node_name(
    column: int, unit: int, columns: int, features: Sequence[str], outputs: int = 1
) -> str:
    """A neuron in words: "input x1^2", "hidden 2, neuron 3", "output" (of ``outputs`` units:
    "output, class 3", counting classes from 0 as the labels do)."""
    if column == 0:
        return f"input {features[unit]}"
    if column == columns - 1:
        return "output" if outputs == 1 else f"output, class {unit}"
    return f"hidden {column}, neuron {unit + 1}"


class NeuronInspector:
    """The large map of the neuron picked in the graph, and the weight editor.

    Parameters
    ----------
    resolution : int
        Pixels per side of the large map.

    Attributes
    ----------
    figure : bqplot.Figure
        The large map (CSS class ``nnviz-playground-inspector``).
    hover_points : bqplot.Scatter
        Invisible squares over the map, one per hover point, coloured by the value there.
    range_label : ipywidgets.HTML
        The range the picked neuron's colours span.
    value_label : ipywidgets.HTML
        The value under the pointer.
    weight : ipywidgets.FloatText
        The picked weight's value at the snapshot shown; editable once a weight is picked.
    set_button : ipywidgets.Button
    weight_label : ipywidgets.HTML
        Which weight is picked, or how to pick one.
    neuron : tuple or None
        ``(column, unit)`` of the neuron shown.
    edge : tuple or None
        ``(layer, out, in)`` of the weight picked.
    box : ipywidgets.HBox
        The large map, and beside it the value line and the editor.
    """

    def __init__(self, resolution: int) -> None:
        self.resolution = resolution
        self.neuron: tuple[int, int] | None = None
        self.edge: tuple[int, int, int] | None = None
        extent = forward.EXTENT
        x = bqplot.LinearScale(min=-extent, max=extent, allow_padding=False)
        y = bqplot.LinearScale(min=-extent, max=extent, allow_padding=False)
        self.pictures = ImageSwap(x=[-extent, extent], y=[-extent, extent], scales={"x": x, "y": y})
        self._points = forward.grid(extent, HOVER_POINTS)
        self._values = np.zeros(len(self._points), dtype=np.float32)
        self.hover_points = bqplot.Scatter(
            x=self._points[:, 0],
            y=self._points[:, 1],
            color=self._values,
            scales={"x": x, "y": y, "color": bqplot.ColorScale(colors=["white", "white"])},
            marker="square",
            default_size=int((200 / HOVER_POINTS) ** 2),
            opacities=[0.0],
            stroke_width=0.0,
            tooltip=bqplot.Tooltip(
                fields=["x", "y", "color"],
                labels=["x₁", "x₂", "value"],
                formats=[".2f", ".2f", ".3g"],
            ),
        )
        self.hover_points.on_hover(self._on_hover)
        self.figure = _figure([self.pictures.mark, self.hover_points], x, y)
        self.box = ipywidgets.HBox([self.figure, self._make_words()])
        self.box.add_class("nnviz-playground-inspector-box")

    def _make_words(self) -> ipywidgets.VBox:
        """The colour range and value lines, and the weight editor, beside the map."""
        # the colour range under the map, not in its title: a long title was cut at the left
        self.range_label = ipywidgets.HTML()
        self.value_label = ipywidgets.HTML("<small>point at the map for its value</small>")
        self.weight = ipywidgets.FloatText(
            description="weight", disabled=True, layout=ipywidgets.Layout(width="170px")
        )
        self.set_button = ipywidgets.Button(
            description="set", disabled=True, layout=ipywidgets.Layout(width="60px")
        )
        self.weight_label = ipywidgets.HTML("<small>click an edge to edit its weight</small>")
        return ipywidgets.VBox(
            [
                self.range_label,
                self.value_label,
                self.weight_label,
                ipywidgets.HBox([self.weight, self.set_button]),
            ],
            layout=ipywidgets.Layout(width="270px", margin="30px 0 0 0"),
        )

    def draw(
        self,
        weights: list,
        biases: list,
        activation: str | Sequence[str],
        features: Sequence[str],
        classes: int = 2,
    ) -> None:
        """Draw the picked neuron and the picked weight at the snapshot of ``weights``; an
        output unit shows what it means for ``classes`` (:func:`.forward.output_values`)."""
        if self.edge is not None:
            layer, out, into = self.edge
            self.weight.value = float(np.asarray(weights[layer])[out, into])
        if self.neuron is None:
            return
        column, unit = self.neuron
        big = self._values_at(forward.grid(forward.EXTENT, self.resolution), column, unit,
                              weights, biases, activation, features)  # fmt: skip
        if column == len(weights):  # the output: as in the graph
            big = self._output(big, unit, weights, biases, activation, features, classes,
                               forward.grid(forward.EXTENT, self.resolution))  # fmt: skip
            low, high = forward.output_range(classes)
        else:
            kind = column_kinds(activation, len(weights))[column]
            low, high = (float(v[0]) for v in colour_range(kind, big[:, None]))
        picture = colourize(big.reshape(self.resolution, -1), low, high, CLASSES)
        self.pictures.show(encode_png(picture))
        small = self._values_at(self._points, column, unit, weights, biases, activation, features)
        if column == len(weights):
            small = self._output(small, unit, weights, biases, activation, features, classes,
                                 self._points)  # fmt: skip
        self._values = small.astype(np.float32)
        self.hover_points.color = self._values
        name = node_name(column, unit, len(weights) + 1, features, len(weights[-1]))
        self.figure.title = name
        self.range_label.value = f"<small>colours from {low:.3g} to {high:.3g}</small>"

    def value_at(self, index: int) -> str:
        """The words for hover point ``index``: where it is and the neuron's value there."""
        x1, x2 = self._points[index]
        return f"x₁ = {x1:.2f}, x₂ = {x2:.2f}: value {self._values[index]:.4g}"

    def pick_edge(self, edge: tuple[int, int, int], words: str) -> None:
        """Put weight ``edge`` in the editor, said as ``words``."""
        self.edge = edge
        self.weight.disabled = self.set_button.disabled = False
        self.weight_label.value = f"<small>{words}</small>"

    def close(self) -> None:
        """Close the widgets the inspector owns."""
        self.pictures.close()
        for widget in (
            *(self.range_label, self.value_label),
            *(self.weight, self.set_button, self.weight_label),
        ):
            widget.close()

    def _on_hover(self, mark: bqplot.Scatter, content: dict) -> None:
        index = (content.get("data") or {}).get("index")
        if isinstance(index, int) and 0 <= index < len(self._points):
            self.value_label.value = f"<small>{self.value_at(index)}</small>"

    @staticmethod
    def _output(z, unit, weights, biases, activation, features, classes, points) -> np.ndarray:
        # a softmax needs every output unit's logit, not only the picked one's
        if classes < 3:
            return forward.output_values(z[:, None], classes)[:, 0]
        hidden = column_kinds(activation, len(weights))[1:]
        logits = forward.forward(weights, biases, hidden, expand(points, features))[-1]
        return forward.output_values(logits, classes)[:, unit]

    @staticmethod
    def _values_at(points, column, unit, weights, biases, activation, features) -> np.ndarray:
        inputs = expand(points, features)
        if column == 0:
            return inputs[:, unit]
        # only the layers up to the neuron's: the rest would be computed for nothing
        hidden = column_kinds(activation, len(weights))[1:]
        z = forward.forward(weights[:column], biases[:column], hidden[: column - 1], inputs)[-1]
        z = z[:, unit]
        return forward.activate(hidden[column - 1], z) if column < len(weights) else z


def _figure(marks: list, x: bqplot.LinearScale, y: bqplot.LinearScale) -> bqplot.Figure:
    """The large map's figure: the picture and the hover targets over the plane."""
    figure = bqplot.Figure(
        marks=marks,
        axes=[
            bqplot.Axis(scale=x, label="x₁", tick_values=[-1.0, 0.0, 1.0], tick_format=".0f"),
            bqplot.Axis(scale=y, side="left", tick_values=[-1.0, 0.0, 1.0], tick_format=".0f"),
        ],
        # room below for the axis name, and as much right as left: the title is centred over
        # the plot, and a long one was cut at the figure's left edge
        fig_margin={"top": 30, "bottom": 42, "left": 35, "right": 35},
        padding_x=0.0,
        padding_y=0.0,
        title="click a neuron in the graph",
        title_style={"font-size": "13px"},
        layout=ipywidgets.Layout(width="280px", height="280px"),
        min_aspect_ratio=1.0,
        max_aspect_ratio=1.0,
    )
    themed(figure)
    figure.add_class("nnviz-playground-inspector")
    return figure
