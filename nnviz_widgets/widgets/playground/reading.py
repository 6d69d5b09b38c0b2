"""What a Playground lets one read of its current run: the Recording, the data, the model, the
recorded weights, the network's answer over the plane and the recorded accuracy.

:class:`PlaygroundReading` is a mixin of the :class:`~.playground.Playground`'s, which provides
``_run`` (the run shown), ``_figures`` and ``index``. Nothing here changes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # for annotations only
    from torch import nn

    from nnviz_widgets.datasets import ToyData
    from nnviz_widgets.recording import Recording
    from nnviz_widgets.training import TrainingLoop

__all__ = ["PlaygroundReading"]


class PlaygroundReading:
    """The Playground's read-only API over its current run."""

    @property
    def recording(self) -> Recording:
        """The Recording of the current run: one snapshot per epoch, 0 the initial network."""
        return self._run.recording

    @property
    def data(self) -> ToyData:
        """The current data set."""
        return self._run.data

    @property
    def model(self) -> nn.Module:
        """The torch model being trained (its weights are those of the newest epoch)."""
        return self._run.model

    @property
    def loop(self) -> TrainingLoop:
        """The background training loop of the current run."""
        return self._run.loop

    @property
    def epochs(self) -> int:
        """Epochs trained so far in the current run."""
        return self._run.epochs

    @property
    def layers(self) -> tuple[str, ...]:
        """Names of the Linear layers in the model, as in the Recording."""
        return self._run.layers

    def weights(self, index: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The recorded weights and biases of every Linear layer at snapshot ``index``.

        ``index`` defaults to the selected :attr:`index` (the same as :attr:`snapshot`).
        """
        return self._run.weights(self.index if index is None else index)

    def boundary(self, index: int | None = None) -> np.ndarray:
        """The model's answer over the grid at snapshot ``index``: the probability of class 1
        (two classes), of each class (3 to 5), or the prediction (a regression).

        Returns a ``(resolution, resolution)`` float32 array in image order (top row: largest
        second coordinate), ``(resolution, resolution, classes)`` for 3 to 5 classes; the
        points are :func:`grid_points`.
        """
        weights, biases = self.weights(index)
        run = self._run
        return self._figures.prediction(
            weights, biases, run.activations, run.features, run.objective.classes
        )

    def grid_points(self) -> np.ndarray:
        """The input points of the decision-boundary picture, ``(resolution**2, 2)``."""
        return self._figures.grid_points()

    def accuracy(self, split: str = "test", index: int = -1) -> float:
        """The recorded accuracy on ``"train"`` or ``"test"`` at snapshot ``index``."""
        if split not in ("train", "test"):
            raise ValueError(f'split must be "train" or "test", got {split!r}')
        if self._run.objective.regression:
            raise ValueError(
                f"a regression ({self.data.name!r}) has no accuracy: read its loss (the mean "
                'squared error) with recording.metric("test_loss")'
            )
        return float(self.recording.metric(f"{split}_accuracy")[index])
