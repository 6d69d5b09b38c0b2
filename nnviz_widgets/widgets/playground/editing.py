"""Inspecting a neuron and editing a weight: what a click in the Playground's graph does.

:class:`WeightEditing` is a part of the Playground (a mixin). A click on a neuron shows its map
large (:mod:`.inspector`); a click on an edge puts its weight in the editor, and
:meth:`~WeightEditing.set_weight` changes it in the model, with training paused, and records the
edited network as a new snapshot, so that the snapshots before it still show the past exactly
(docs/playground.md, "Clicking the graph").
"""

from __future__ import annotations

import math

import traitlets

from nnviz_widgets.widgets.playground.inspector import node_name

__all__ = ["WeightEditing"]


class WeightEditing(traitlets.HasTraits):
    """Clicks on the graph: a neuron to see it large, an edge to edit its weight."""

    def _connect_clicks(self) -> None:
        """Route the graph's clicks and the editor's button (called once, from __init__)."""
        graph, inspector = self._figures.graph, self._figures.inspector
        graph.node_hits.on_element_click(
            lambda _, content: self.inspect(*graph.node_at(_clicked(content)))
        )
        graph.edge_hits.on_element_click(
            lambda _, content: self.select_weight(*graph.edge_at(_clicked(content)))
        )
        inspector.set_button.on_click(
            lambda _: self.set_weight(*inspector.edge, inspector.weight.value)
        )

    def inspect(self, column: int, unit: int) -> None:
        """Show neuron ``unit`` of graph column ``column`` (0: the inputs) large, as it is now."""
        sizes = self._figures.graph.layout.sizes
        if not (0 <= column < len(sizes) and 0 <= unit < sizes[column]):
            raise ValueError(
                f"no neuron {unit} in column {column}: the columns hold {list(sizes)} neurons"
            )
        self._figures.inspector.neuron = (column, unit)
        self.redraw()

    def select_weight(self, layer: int, out: int, into: int) -> None:
        """Put the weight from neuron ``into`` to ``out`` of Linear ``layer`` in the editor."""
        self._check_weight(layer, out, into)
        words = self._weight_words(layer, out, into)
        self._figures.inspector.pick_edge((layer, out, into), f"{words}: type a value, press set")
        self.redraw()

    def set_weight(self, layer: int, out: int, into: int, value: float) -> None:
        """Set a weight of the model and record the edited network as a new snapshot.

        Training is paused first (it stays paused). The snapshots before keep the weights they
        had; the new one, at the end, is shown.

        Raises
        ------
        ValueError
            No such weight, or a value that is not a finite number.
        """
        self._check_weight(layer, out, into)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"a weight must be a finite number, got {value!r}")
        run = self._run
        if run.loop.state == "running":
            run.loop.pause()
            run.loop.wait()
        old = run.edit_weight(layer, out, into, float(value))
        with self._state_lock:
            self._controls.slider.max = run.epochs
            self.index = run.epochs  # shows the edited network: a move, it redraws
        self._draw_curves()
        self._controls.tell(
            f"{self._weight_words(layer, out, into)} set from {old:.4g} to {value:.4g}, recorded "
            f"as snapshot {run.epochs}; the snapshots before it show the network unedited."
        )

    def _check_weight(self, layer: int, out: int, into: int) -> None:
        shapes = [tuple(w.shape) for w in self._run.weights(0)[0]]
        if not (
            0 <= layer < len(shapes)
            and 0 <= out < shapes[layer][0]
            and 0 <= into < shapes[layer][1]
        ):
            raise ValueError(
                f"no weight ({layer}, {out}, {into}): the layers' weights are (out, in) = {shapes}"
            )

    def _weight_words(self, layer: int, out: int, into: int) -> str:
        columns, run = len(self._run.layers) + 1, self._run
        into_name = node_name(layer, into, columns, run.features)
        out_name = node_name(layer + 1, out, columns, run.features, run.objective.outputs)
        return f"weight from {into_name} to {out_name}"


def _clicked(content: dict) -> int:
    """The index of the element a bqplot click message names."""
    return int(content["data"]["index"])
