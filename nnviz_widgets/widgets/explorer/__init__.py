"""The TrainingExplorer: scrub through a recorded training run, layer by layer."""

from nnviz_widgets.widgets.explorer.explorer import TrainingExplorer

__all__ = ["TrainingExplorer"]
