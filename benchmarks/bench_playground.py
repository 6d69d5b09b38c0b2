"""What one scrub step of the Playground costs the kernel: trait change to messages ready.

A Playground with 4 hidden layers of 8 neurons is trained for 30 epochs on the spirals (and, as
the largest case, one with 6 hidden layers of 8 fed all 7 input features, a neuron shown large
in the inspector); then the selected snapshot is moved, step after step, across the recorded
epochs. Each step is timed from the assignment of ``snapshot`` until every widget message it
causes has been serialized as the kernel would send it (JSON for the state, binary buffers
apart), through a comm that records instead of sending. The browser's share (decoding two PNGs,
moving lines) is not in this number.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks.standin_comm import SENT, serializing_comms

STEPS = 30
HIDDEN = (8, 8, 8, 8)
#: The largest Playground: the most layers and neurons it allows, every input feature.
LARGEST = {
    "hidden": (8,) * 6,
    "features": ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin x1", "sin x2"],
}


def _measure(hidden: tuple = HIDDEN, features: list | None = None, classes: int = 2) -> dict:
    import nnviz_widgets as nv
    from nnviz_widgets.render.colour import CLASSES, colourize
    from nnviz_widgets.render.png import encode_png
    from nnviz_widgets.widgets.playground.boundary import class_pixels

    with serializing_comms():
        torch.manual_seed(0)
        pg = nv.Playground(
            "spirals", hidden=hidden, features=features or ["x1", "x2"], classes=classes
        )
        pg.train(STEPS, timeout=600)
        if features:  # the largest case: a neuron of the last hidden layer shown large too
            pg.inspect(len(hidden), 0)
        # one pass to warm caches, then the timed steps: back and forth over every epoch
        order = [*range(STEPS, -1, -1), *range(1, STEPS + 1)][: STEPS + 1]
        for index in order:
            pg.snapshot = index
        times, messages, sizes = [], [], []
        for index in [*range(0, STEPS + 1)][1:]:
            SENT.clear()
            start = time.perf_counter()
            pg.snapshot = index
            times.append(time.perf_counter() - start)
            messages.append(len(SENT))
            sizes.append(sum(SENT))

        # where the time goes, each part alone at one snapshot
        weights, biases = pg.weights(STEPS)
        parts = {}

        def timed(name: str, function, repeat: int = 30) -> None:
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                function()
                samples.append(time.perf_counter() - start)
            parts[name] = statistics.median(samples)

        grid = pg.grid_points()
        timed("boundary: forward pass over the 96x96 grid", lambda: pg.boundary(STEPS))
        probability = pg.boundary(STEPS)
        if classes == 2:
            colour = lambda: colourize(probability, 0, 1, CLASSES)  # noqa: E731
        else:  # a colour per class, paler where less sure
            colour = lambda: class_pixels(probability)  # noqa: E731
        timed("boundary: colour + PNG", lambda: encode_png(colour()))
        timed(
            "neuron maps: forward, colour, PNG (one canvas)",
            lambda: pg._figures.graph.draw_nodes(
                weights, biases, pg.activation, pg.features, classes
            ),
        )
        timed("edges: 10 line marks", lambda: pg._figures.graph.draw_edges(weights))
        node_png = len(pg._figures.graph.image.value)
        boundary_png = len(pg._figures.boundary.image.value)
        edges = sum(w.size for w in weights)
        pg.close()
    return {
        "times": np.array(times),
        "messages": statistics.median(messages),
        "bytes": statistics.median(sizes),
        "parts": parts,
        "node_png": node_png,
        "boundary_png": boundary_png,
        "edges": edges,
        "grid": grid.shape[0],
    }


def run() -> str:
    """Measure and return a Markdown section for RESULTS.md."""
    return (
        _report(_measure())
        + "\n"
        + _report_largest(_measure(**LARGEST))
        + "\n"
        + _report_largest(_measure(**LARGEST, classes=5), classes=5)
    )


def _report_largest(result: dict, classes: int = 2) -> str:
    """The scrub cost of the largest Playground (issue 17), in a short section; with
    ``classes`` 5, five output nodes and the boundary coloured by class."""
    times = result["times"] * 1000
    median = float(np.median(times))
    title = "all input features on" if classes == 2 else f"{classes} classes"
    outputs = "" if classes == 2 else f", {classes} output units (softmax)"
    return (
        "\n".join(
            [
                f"### The largest Playground, {title} (issue 17)",
                "",
                f"6 hidden layers of 8 neurons fed all 7 input features{outputs} "
                f"({result['edges']} edges), one neuron shown large in the inspector; trained "
                f"{STEPS} epochs, timed as above.",
                "",
                "| measure | value |",
                "| --- | --- |",
                f"| median per scrub step | {median:.1f} ms |",
                f"| 90th percentile | {np.percentile(times, 90):.1f} ms |",
                f"| messages per step | {result['messages']:.0f} |",
                f"| bytes per step (JSON + buffers) | {result['bytes'] / 1024:.1f} KiB |",
                "",
                f"Goal: under 30 ms. {'Met' if median < 30 else 'NOT met'} ({median:.1f} ms).",
            ]
        )
        + "\n"
    )


def _report(result: dict) -> str:
    times = result["times"] * 1000
    median = float(np.median(times))
    lines = [
        "## Playground: kernel-side redraw per scrub step (issue 5)",
        "",
        f"A Playground on the spirals with 4 hidden layers of 8 neurons ({result['edges']} "
        f"edges, 35 neuron maps), trained {STEPS} epochs; then `snapshot` moved one epoch at a "
        f"time over all {STEPS} epochs. Timed from the trait assignment until every message it "
        "causes is serialized (state as JSON, arrays and PNGs as binary buffers), through a comm "
        "that counts instead of sending. Browser-side drawing is not included.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| median per scrub step | {median:.1f} ms |",
        f"| 90th percentile | {np.percentile(times, 90):.1f} ms |",
        f"| fastest / slowest | {times.min():.1f} / {times.max():.1f} ms |",
        f"| messages per step | {result['messages']:.0f} |",
        f"| bytes per step (JSON + buffers) | {result['bytes'] / 1024:.1f} KiB |",
        f"| neuron-map canvas PNG / boundary PNG | {result['node_png'] / 1024:.1f} KiB / "
        f"{result['boundary_png'] / 1024:.1f} KiB |",
        "",
        f"Goal: under 30 ms. {'Met' if median < 30 else 'NOT met'} ({median:.1f} ms).",
        "",
        "Where the time goes (each part alone, median of 30):",
        "",
        "| part | time |",
        "| --- | --- |",
    ]
    for name, seconds in result["parts"].items():
        lines.append(f"| {name} | {seconds * 1000:.2f} ms |")
    lines += [
        "",
        "The rest is ipywidgets/bqplot trait handling and serialization of the "
        f"{result['messages']:.0f} messages. "
        "Every neuron map travels in one transparent PNG rather than one image widget per "
        "neuron (two messages per picture: the bytes to a spare image widget, then the mark "
        "pointed at it, since bqplot's Image redraws only on a new image reference), and the "
        "edges are grouped into 10 line marks by sign and width class, each updated in one "
        "message and only when its lines changed.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
