"""Comparing runs: ``nv.TrainingExplorer({"name": source, ...})`` makes a RunComparison."""

from nnviz_widgets.widgets.compare.comparison import RunComparison

__all__ = ["RunComparison"]
