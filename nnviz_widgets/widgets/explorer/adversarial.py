"""The adversarial panel: a probe input, the perturbation that fools the model, the perturbed
input, the saliency, and the class probabilities before and after, at a snapshot.

The snapshot comes from the panel's own slider or, given an explorer, follows the explorer's
``index``. Each (snapshot, sample) is computed once in the background
(:func:`~nnviz_widgets.understand.adversarial`) and cached; until it is ready the panel says
so. Needs the model and whole weights in the recording (``docs/understanding.md``).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Hashable
from typing import Any

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import DIVERGING, SEQUENTIAL, colourize
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.understand import AdversarialExample, adversarial
from nnviz_widgets.views.chart import chart_figure
from nnviz_widgets.widgets.explorer.on_demand import OnDemand, close_with

__all__ = ["AdversarialPanel"]

#: The pictures, left to right: (caption, field of AdversarialExample, signed).
PICTURES = (
    ("original", "original", False),
    ("perturbation", "perturbation", True),
    ("adversarial", "adversarial", False),
    ("saliency", "saliency", True),
)


class AdversarialPanel(ipywidgets.VBox):
    """Original, perturbation, adversarial input and saliency side by side, with the class
    probabilities before and after, at any recorded snapshot.

    Parameters
    ----------
    model : torch.nn.Module
        The architecture (a classifier); the weights come from ``recording``.
    recording : Recording
        Holds whole weights per snapshot and, by default, the probe inputs and labels.
    images, labels : torch.Tensor, optional
        The inputs to choose from and their classes (default: the recording's probe).
    method, epsilon : str, float
        Passed to :func:`~nnviz_widgets.understand.adversarial`.
    explorer : TrainingExplorer, optional
        Follow its snapshot (``index``) instead of the panel's own slider, which covers the
        snapshots recorded when the panel was built.
    zoom : int
        Screen pixels per input pixel.
    """

    def __init__(
        self,
        model: Any,
        recording: Any,
        images: Any = None,
        labels: Any = None,
        *,
        method: str = "fgsm",
        epsilon: float = 0.1,
        explorer: Any = None,
        zoom: int = 4,
    ) -> None:
        import torch  # the widget layer imports torch only where a model is in play

        if images is None:
            images = torch.from_numpy(np.array(recording.probe["input"], dtype=np.float32))
        if labels is None:
            if "target" not in recording.probe:
                raise ValueError("the recording's probe has no labels: pass labels=")
            labels = torch.from_numpy(np.array(recording.probe["target"], dtype=np.int64))
        self.model, self.recording, self.explorer = model, recording, explorer
        self.images, self.labels = images, torch.as_tensor(labels)
        self.method, self.epsilon, self.zoom = method, float(epsilon), int(zoom)
        count = max(len(recording), 1)
        self.slider = ipywidgets.IntSlider(
            value=count - 1, min=0, max=count - 1, description="snapshot"
        )
        self.sample = ipywidgets.Dropdown(
            options=[(f"{i}: class {int(c)}", i) for i, c in enumerate(self.labels)],
            value=0,
            description="input",
        )
        self.status = ipywidgets.HTML()
        self.pictures = [ipywidgets.Image(format="png") for _ in PICTURES]
        self.bars, self.figure = _probability_chart(int(self._classes()))
        # guards the status, pictures and bars, which the kernel thread (slider, dropdown)
        # and the worker thread (results) both draw
        self._draw_lock = threading.Lock()
        self._results = OnDemand(self._compute, self._on_result, "adversarial")
        self._closed = False
        columns = [
            ipywidgets.VBox([ipywidgets.HTML(f"<b>{caption}</b>"), picture])
            for (caption, _, _), picture in zip(PICTURES, self.pictures, strict=True)
        ]
        controls = [self.sample] if explorer is not None else [self.slider, self.sample]
        super().__init__(
            children=[
                ipywidgets.HBox(controls),
                self.status,
                ipywidgets.HBox([*columns, self.figure]),
            ]
        )
        self.add_class("nnviz-adversarial")
        self.slider.observe(self._on_change, names="value")
        self.sample.observe(self._on_change, names="value")
        if explorer is not None:
            explorer.observe(self._on_explorer_index, names="index")
            self.slider.value = int(explorer.index)
            close_with(explorer, self.close)
        self._show()

    def close(self, *, widget: bool = False) -> None:
        """Stop following and computing; the widgets stay on screen unless ``widget=True``.
        Calling it twice is fine."""
        if not getattr(self, "_closed", True):  # True also when construction failed early
            self._closed = True
            if self.explorer is not None:
                self.explorer.unobserve(self._on_explorer_index, names="index")
            self._results.close()
        if widget:
            super().close()

    def _classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 1

    def _key(self) -> tuple[int, int]:
        return (int(self.slider.value), int(self.sample.value))

    def _on_explorer_index(self, change: Any) -> None:
        self.slider.max = max(len(self.recording) - 1, 0)
        self.slider.value = int(change["new"])

    def _on_change(self, _change: Any) -> None:
        self._show()

    def _on_result(self, key: Hashable) -> None:
        if key == self._key():
            self._show()

    def _show(self) -> None:
        key = self._key()
        if not len(self.recording):
            self._draw("nothing recorded yet", None)
            return
        state, value = self._results.request(key)
        if state == "computing":
            self._draw(f"computing the adversarial example... (snapshot {key[0]})", None)
        elif state == "failed":
            self._draw(f"could not compute the adversarial example: {value}", None)
        else:
            self._draw(_summary(value), value)

    def _draw(self, text: str, found: AdversarialExample | None) -> None:
        with self._draw_lock:
            self.status.value = html.escape(text)
            for (_, field, signed), picture in zip(PICTURES, self.pictures, strict=True):
                picture.value = b"" if found is None else self._png(getattr(found, field), signed)
            if found is not None:
                self.bars.y = np.stack(
                    [found.probabilities_before[0], found.probabilities_after[0]]
                )

    def _png(self, values: np.ndarray, signed: bool) -> bytes:
        image = values[0].mean(axis=0) if values.ndim == 4 else values[0].reshape(1, -1)
        image = np.repeat(np.repeat(image, self.zoom, axis=0), self.zoom, axis=1)
        if signed:
            reach = float(np.abs(image).max()) or 1.0
            return encode_png(colourize(image, -reach, reach, DIVERGING))
        low, high = float(self.images.min()), float(self.images.max())
        return encode_png(colourize(image, low, high, SEQUENTIAL))

    def _compute(self, key: Hashable, _progress: Any) -> AdversarialExample:
        index, sample = key
        return adversarial(
            self.model,
            self.images[sample : sample + 1],
            self.labels[sample : sample + 1],
            method=self.method,
            epsilon=self.epsilon,
            recording=self.recording,
            snapshot=index,
        )


def _probability_chart(classes: int) -> tuple[bqplot.Bars, bqplot.Figure]:
    x_scale, y_scale = bqplot.OrdinalScale(), bqplot.LinearScale(min=0.0, max=1.0)
    bars = bqplot.Bars(
        x=np.arange(classes),
        y=np.zeros((2, classes)),
        scales={"x": x_scale, "y": y_scale},
        type="grouped",
        colors=["#4c72b0", "#dd8452"],
        labels=["before", "after"],
        display_legend=True,
    )
    axes = [
        bqplot.Axis(scale=x_scale, label="class"),
        bqplot.Axis(
            scale=y_scale,
            side="left",
            label="probability",
            tick_format=".2f",
            tick_values=np.linspace(0.0, 1.0, 5),
        ),
    ]
    figure = chart_figure(
        [bars],
        axes,
        title="class probabilities",
        css_class="nnviz-adversarial-probabilities",
        width="320px",
        margin={"top": 30, "bottom": 45, "left": 55, "right": 15},
        legend_location="top-right",
    )
    return bars, figure


def _summary(found: AdversarialExample) -> str:
    label = int(found.labels[0])
    before, after = int(found.predicted_before[0]), int(found.predicted_after[0])
    p_before = found.probabilities_before[0, before]
    p_after = found.probabilities_after[0, after]
    verdict = "fooled" if after != label and before == label else "not fooled"
    return (
        f"class {label}: predicted {before} ({p_before:.0%}) before, {after} ({p_after:.0%}) "
        f"after a change of at most {found.epsilon:g} per value ({found.method}): {verdict}"
    )
