"""What a Playground run's network is trained to do, by the kind of its data set.

Three kinds (docs/playground.md, "Classes and regression"):

- two classes: one output logit, binary cross-entropy; the class is the logit's sign;
- 3 to 5 classes: a logit per class, softmax cross-entropy; the class is the largest logit;
- regression: one linear output, mean squared error against targets in [-1, 1]; no accuracy.

:class:`Objective` holds the kind and gives the model's output size, the loss and the metrics,
in torch (the training thread's side); :mod:`.forward` draws the same outputs in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

__all__ = ["Objective"]


@dataclass(frozen=True)
class Objective:
    """The kind of a run's task: ``classes`` 2 to 5, or 0 for a regression.

    Attributes
    ----------
    classes : int
    """

    classes: int

    @property
    def regression(self) -> bool:
        """Whether the output is a number to predict (linear output, MSE)."""
        return self.classes == 0

    @property
    def outputs(self) -> int:
        """Units of the output layer: one logit for two classes or a regression, else one per
        class (two classes stay a single logit, so that their pictures are as they always
        were)."""
        return self.classes if self.classes >= 3 else 1

    @property
    def kind(self) -> str:
        """In words: "2 classes", "3 classes", ..., or "regression"."""
        return "regression" if self.regression else f"{self.classes} classes"

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """``y`` as the loss takes it: float for two classes and a regression, int64 else."""
        return y.long() if self.classes >= 3 else y.float()

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean loss of the model's ``output`` (``(n, outputs)``) against ``target``."""
        if self.regression:
            return F.mse_loss(output[:, 0], target)
        if self.classes >= 3:
            return F.cross_entropy(output, target)
        return F.binary_cross_entropy_with_logits(output[:, 0], target)

    def metrics(self, split: str, output: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """``<split>_loss`` and, for classes, ``<split>_accuracy`` (the share called right)."""
        metrics = {f"{split}_loss": float(self.loss(output, self.targets(y)))}
        if self.regression:
            return metrics
        if self.classes >= 3:
            called = output.argmax(dim=1)
        else:
            called = (output[:, 0] > 0).long()
        metrics[f"{split}_accuracy"] = float((called == y).float().mean())
        return metrics
