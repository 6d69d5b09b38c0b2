"""What a network's units respond to: feature visualization (the input a unit wants most) and
adversarial examples (the smallest change that flips a prediction), at the model's weights or
at any recorded snapshot's. Needs torch; see ``docs/understanding.md``."""

from nnviz_widgets.understand.adversarial import AdversarialExample, adversarial
from nnviz_widgets.understand.features import Features, feature_visualization
from nnviz_widgets.understand.weights import SnapshotWeightsError, working_copy

__all__ = [
    "AdversarialExample",
    "Features",
    "SnapshotWeightsError",
    "adversarial",
    "feature_visualization",
    "working_copy",
]
