"""The Playground: a small network learning a 2-D toy data set, shown as it thinks."""

from nnviz_widgets.widgets.playground.playground import Playground

__all__ = ["Playground"]
