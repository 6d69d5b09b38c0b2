"""nnviz_widgets: see inside a PyTorch network while it trains, in Jupyter.

The layers, one direction: a :class:`Recorder` (torch) watches a model and fills a
:class:`Recording` (numpy only); views turn its frames into pictures and widgets compose them.

Names that need torch (``Recorder``, ``Playground``, ``datasets``, ``models``) load on first
use, so a notebook that only opens and shows a recording never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from nnviz_widgets.diagnosis import Finding, diagnose
from nnviz_widgets.recording import (
    INPUT,
    FrameMissingError,
    Recording,
    RecordingBudgetWarning,
)
from nnviz_widgets.training import TrainingLoop

if TYPE_CHECKING:
    from nnviz_widgets import datasets, models
    from nnviz_widgets.record import Recorder
    from nnviz_widgets.understand import adversarial, feature_visualization
    from nnviz_widgets.widgets.explorer import TrainingExplorer
    from nnviz_widgets.widgets.explorer.adversarial import AdversarialPanel
    from nnviz_widgets.widgets.explorer.features import FeaturesPanel
    from nnviz_widgets.widgets.playground import Playground
    from nnviz_widgets.widgets.share import save_gif, save_html

__version__ = "0.1.0"

__all__ = [
    "INPUT",
    "AdversarialPanel",
    "FeaturesPanel",
    "Finding",
    "FrameMissingError",
    "Playground",
    "Recorder",
    "Recording",
    "RecordingBudgetWarning",
    "TrainingExplorer",
    "TrainingLoop",
    "__version__",
    "adversarial",
    "datasets",
    "diagnose",
    "feature_visualization",
    "models",
    "save_gif",
    "save_html",
]

# name -> (module, attribute or None for the module itself), imported on first access
_LAZY = {
    "Playground": ("nnviz_widgets.widgets.playground", "Playground"),
    "Recorder": ("nnviz_widgets.record", "Recorder"),
    # widgets load on first use too: a training script on a cluster needs no ipywidgets
    "TrainingExplorer": ("nnviz_widgets.widgets.explorer", "TrainingExplorer"),
    "datasets": ("nnviz_widgets.datasets", None),
    "models": ("nnviz_widgets.models", None),
    # a recording shared as one HTML page or an animated GIF (docs/explorer.md, "Sharing a run")
    "save_gif": ("nnviz_widgets.widgets.share", "save_gif"),
    "save_html": ("nnviz_widgets.widgets.share", "save_html"),
    # what units want (issue 17): torch, loaded on first use
    "AdversarialPanel": ("nnviz_widgets.widgets.explorer.adversarial", "AdversarialPanel"),
    "FeaturesPanel": ("nnviz_widgets.widgets.explorer.features", "FeaturesPanel"),
    "adversarial": ("nnviz_widgets.understand", "adversarial"),
    "feature_visualization": ("nnviz_widgets.understand", "feature_visualization"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nnviz_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
