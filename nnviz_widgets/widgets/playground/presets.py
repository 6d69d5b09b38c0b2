"""Presets: named sets of Playground settings that are known to make a point.

Each is a dict of settings (the Playground's traits); the ones it leaves out keep their values.
Picking one starts a new run with them (docs/playground.md, "Presets"). A preset on a data set
that takes a number of classes says how many, so that it makes its point whatever was set.
"""

from __future__ import annotations

from nnviz_widgets.widgets.playground.features import FEATURES

__all__ = ["PRESETS"]

#: The presets by name, in the order the menu offers them.
PRESETS: dict[str, dict[str, object]] = {
    "XOR with x1*x2": {
        "dataset": "xor",
        "features": ["x1*x2"],
        "hidden": [],
        "activation": "tanh",
        "learning_rate": 0.1,
        "regularization": 0.0,
    },
    "circles with squares": {
        "dataset": "circles",
        "features": ["x1^2", "x2^2"],
        "hidden": [],
        "activation": "tanh",
        "learning_rate": 0.1,
        "regularization": 0.0,
    },
    "spiral that works": {
        "dataset": "spirals",
        "classes": 2,
        "features": list(FEATURES),
        "hidden": [8, 8],
        "activation": "tanh",
        "learning_rate": 0.03,
        "regularization": 0.0,
    },
    "ReLU on circles": {
        "dataset": "circles",
        "features": ["x1", "x2"],
        "hidden": [4, 4],
        "activation": "relu",
        "learning_rate": 0.03,
        "regularization": 0.0,
    },
    "L1 prunes features": {
        "dataset": "gaussians",
        "classes": 2,
        "features": list(FEATURES),
        "hidden": [4],
        "activation": "tanh",
        "learning_rate": 0.03,
        "regularizer": "L1",
        "regularization": 0.003,
    },
    "three spiral arms": {
        "dataset": "spirals",
        "classes": 3,
        "features": ["x1", "x2", "sin x1", "sin x2"],
        "hidden": [8, 8, 8],
        "activation": "tanh",
        "learning_rate": 0.01,
        "batch_size": 5,
        "regularization": 0.0,
    },
    "regression on bumps": {
        "dataset": "multi-gaussian",
        "features": list(FEATURES),
        "hidden": [8, 8],
        "activation": "tanh",
        "learning_rate": 0.03,
        "regularization": 0.0,
    },
}
