"""nnviz_widgets: see inside a PyTorch network while it trains, in Jupyter.

The layers, one direction: a :class:`Recorder` (torch) watches a model and fills a
:class:`Recording` (numpy only); views turn its frames into pictures and widgets compose them.
"""

from nnviz_widgets import datasets, models
from nnviz_widgets._explorer import TrainingExplorer
from nnviz_widgets._recorder import Recorder
from nnviz_widgets._recording import (
    INPUT,
    FrameMissingError,
    Recording,
    RecordingBudgetWarning,
)

__version__ = "0.1.0"

__all__ = [
    "INPUT",
    "FrameMissingError",
    "Recorder",
    "Recording",
    "RecordingBudgetWarning",
    "TrainingExplorer",
    "__version__",
    "datasets",
    "models",
]
