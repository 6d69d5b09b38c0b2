"""The features panel: what the units of the explorer's layer want, at its snapshot.

It follows a :class:`TrainingExplorer`'s ``index`` and ``layer`` (their public traits) and
shows the input each unit of that layer wants most
(:func:`~nnviz_widgets.understand.feature_visualization`), as a mosaic of units coloured over
the data's range. Results are computed in the background and cached per (snapshot, layer):
scrubbing never waits; meanwhile the panel says "computing what the units want..." with the
fraction done. It needs the model (its architecture) and whole weights in the recording
(``docs/understanding.md``).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Hashable
from typing import Any

import ipywidgets
import numpy as np

from nnviz_widgets.render.colour import SEQUENTIAL, colourize
from nnviz_widgets.render.mosaic import mosaic
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.understand import Features, feature_visualization
from nnviz_widgets.widgets.explorer.on_demand import OnDemand, close_with

__all__ = ["FeaturesPanel", "features_png"]

COMPUTING = "computing what the units want..."


class FeaturesPanel(ipywidgets.VBox):
    """What each unit of the explorer's layer wants to see, at the explorer's snapshot.

    Parameters
    ----------
    explorer : TrainingExplorer
        The explorer followed (its ``index``, ``layer`` and ``recording``).
    model : torch.nn.Module, optional
        The architecture; by default the explorer's Recorder's model. The weights come from
        the recording at each snapshot.
    steps, seed : int
        Passed to :func:`~nnviz_widgets.understand.feature_visualization`.
    where : {"center", "mean"}
        Passed to it too; "center" by default: the channel's mean of a first convolution is
        maximized by a flat picture, its central unit shows the filter's pattern.
    zoom : int
        Screen pixels per input pixel.
    """

    def __init__(
        self,
        explorer: Any,
        model: Any = None,
        *,
        steps: int = 128,
        seed: int = 0,
        where: str = "center",
        zoom: int = 4,
    ) -> None:
        if model is None and getattr(explorer, "recorder", None) is not None:
            model = explorer.recorder.model
        if model is None:
            raise ValueError(
                "what the units want needs the model (its architecture, the weights come from "
                "the recording): FeaturesPanel(explorer, model)"
            )
        self.explorer, self.model = explorer, model
        self.steps, self.seed, self.zoom = int(steps), int(seed), int(zoom)
        self.where = where
        self.status = ipywidgets.HTML()
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width="100%"))
        # guards the status and image widgets: the kernel thread
        # (scrubs) and the worker thread (progress, results) both draw
        self._draw_lock = threading.Lock()
        self._results = OnDemand(self._compute, self._on_result, "features")
        self._closed = False
        super().__init__(children=[self.status, self.image])
        self.add_class("nnviz-features")
        explorer.observe(self._on_selection_change, names=["index", "layer"])
        close_with(explorer, self.close)
        self._show()

    def close(self, *, widget: bool = False) -> None:
        """Stop following the explorer and computing; the widgets stay on screen unless
        ``widget=True``. Calling it twice is fine."""
        if not getattr(self, "_closed", True):  # True also when construction failed early
            self._closed = True
            self.explorer.unobserve(self._on_selection_change, names=["index", "layer"])
            self._results.close()
        if widget:
            super().close()

    def _key(self) -> tuple[int, str]:
        return (int(self.explorer.index), str(self.explorer.layer))

    def _on_selection_change(self, _change: Any) -> None:
        self._show()

    def _on_result(self, key: Hashable) -> None:
        if key == self._key():
            self._show()

    def _show(self) -> None:
        key = self._key()
        recording = self.explorer.recording
        if not len(recording) or key[1] not in recording.layers:
            self._draw(key, "pick a layer to see what its units want", None)
            return
        state, value = self._results.request(key)
        epoch = _epoch_text(recording, key[0])
        if state == "computing":
            self._draw(key, f"{COMPUTING} {value:.0%} ({key[1]}, {epoch})", None)
        elif state == "failed":
            self._draw(key, f"could not compute what the units of {key[1]} want: {value}", None)
        else:
            low, high = value.activations.min(), value.activations.max()
            text = (
                f"what each unit of {key[1]} wants at {epoch}: {len(value.units)} units, "
                f"activations {low:.3g} to {high:.3g}"
            )
            self._draw(key, text, features_png(value, self.zoom))

    def _draw(self, key: Hashable, text: str, png: bytes | None) -> None:
        with self._draw_lock:
            if key != self._key():  # the selection moved on while this was drawn
                return
            self.status.value = html.escape(text)
            self.image.value = png or b""
            self.image.layout.display = None if png else "none"
            if png:  # its own size in pixels: stretched to the page's width it would blur
                self.image.layout.width = f"{int.from_bytes(png[16:20], 'big')}px"

    def _compute(self, key: Hashable, progress: Any) -> Features:
        index, layer = key
        return feature_visualization(
            self.model,
            layer,
            recording=self.explorer.recording,
            snapshot=index,
            steps=self.steps,
            seed=self.seed,
            where=self.where,
            progress=progress,
        )


def features_png(features: Features, zoom: int = 4) -> bytes:
    """The units' images as one PNG mosaic, grey levels over the data's range (the channels'
    mean where the input has several)."""
    tiles = features.images.mean(axis=1)
    tiles = np.repeat(np.repeat(tiles, zoom, axis=1), zoom, axis=2)
    picture = mosaic(tiles, noun="units", layout="", index_of=lambda n, r, c: (n, r, c))
    low, high = features.value_range
    return encode_png(colourize(picture.values, low, high, SEQUENTIAL, gaps=picture.gaps))


def _epoch_text(recording: Any, index: int) -> str:
    try:
        return f"epoch {recording.snapshots[index]:g}"
    except IndexError:
        return f"snapshot {index}"
