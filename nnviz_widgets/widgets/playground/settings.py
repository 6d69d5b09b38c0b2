"""The Playground's settings: its traits, what each may be set to, and what a change does.

:class:`PlaygroundSettings` declares the settings as traits (the Playground is one). One table,
:data:`RULES`, says which values each accepts and, in words, what it must be; one validator
applies it. :data:`RESTARTS` lists the settings that start training again, each with the
sentence that tells the user so; :data:`TUNABLE` those that apply to the current run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import traitlets

from nnviz_widgets.datasets import CLASS_RANGE, MULTICLASS_DATASETS, TOY_DATASETS
from nnviz_widgets.widgets.playground.features import DEFAULT_FEATURES, FEATURES, check_features
from nnviz_widgets.widgets.playground.graph_layout import MAX_LAYERS, MAX_NEURONS

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "OPTIMIZERS",
    "OWN",
    "REGULARIZERS",
    "RESTARTS",
    "RULES",
    "TUNABLE",
    "PlaygroundSettings",
    "Rule",
    "check",
    "check_resolution",
    "describe_hidden",
]

DATASETS = tuple(TOY_DATASETS)
#: The name of the user's own data set (the Playground's ``data=`` argument).
OWN = "own"
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
OPTIMIZERS = ("adam", "sgd")
#: The penalty on the weights that ``regularization`` sets the rate of.
REGULARIZERS = ("none", "L1", "L2")


@dataclass(frozen=True)
class Rule:
    """The values one setting accepts.

    Attributes
    ----------
    accepts : callable
        ``accepts(value) -> bool``.
    must : str
        What the value must be, in words, as the error says it: "``<name>`` must ``<must>``".
    """

    accepts: Callable[[Any], bool]
    must: str


def _one_of(choices: Sequence[str]) -> Rule:
    return Rule(lambda value: value in choices, f"be one of {', '.join(map(repr, choices))}")


RULES: dict[str, Rule] = {
    "dataset": Rule(
        lambda value: value in DATASETS or value == OWN,
        f"be one of {', '.join(map(repr, DATASETS))} (or {OWN!r}, given data=(X, y))",
    ),
    "activation": _one_of(ACTIVATIONS),
    "optimizer": _one_of(OPTIMIZERS),
    "hidden": Rule(
        lambda value: len(value) <= MAX_LAYERS and all(1 <= v <= MAX_NEURONS for v in value),
        f"list at most {MAX_LAYERS} layers of 1 to {MAX_NEURONS} neurons each "
        "(e.g. [4, 4], or [] for a linear model)",
    ),
    "learning_rate": Rule(
        lambda value: 0.0 < value <= 10.0, "be above 0 and at most 10 (e.g. 0.03)"
    ),
    "regularization": Rule(lambda value: 0.0 <= value <= 1.0, "be from 0 (none) to 1 (e.g. 0.001)"),
    "batch_size": Rule(lambda value: value >= 1, "be a positive integer"),
    "noise": Rule(lambda value: 0.0 <= value <= 1.0, "be from 0 to 1 (e.g. 0.05)"),
    "n": Rule(lambda value: 8 <= value <= 100_000, "be from 8 to 100000 points"),
    "seed": Rule(lambda value: value >= 0, "be >= 0"),
    "features": Rule(
        check_features,
        f"list one or more distinct input features of {', '.join(map(repr, FEATURES))}",
    ),
    "test_fraction": Rule(
        lambda value: 0.1 <= value <= 0.9, "be from 0.1 to 0.9 (the share of test points)"
    ),
    "regularizer": _one_of(REGULARIZERS),
    "activations": Rule(
        lambda value: all(name in ACTIVATIONS for name in value),
        f"list activations of {', '.join(map(repr, ACTIVATIONS))}, one per hidden layer "
        "(or [] for the same activation everywhere)",
    ),
    "dropout": Rule(lambda value: 0.0 <= value <= 0.9, "be from 0 (none) to 0.9 (e.g. 0.2)"),
    "classes": Rule(
        lambda value: CLASS_RANGE[0] <= value <= CLASS_RANGE[1],
        f"be from {CLASS_RANGE[0]} to {CLASS_RANGE[1]} (the data sets "
        f"{' and '.join(MULTICLASS_DATASETS)} take them; the others have their own)",
    ),
}


def check(name: str, value: Any) -> Any:
    """``value`` if setting ``name`` accepts it, else a ``TraitError`` saying what it must be."""
    if not RULES[name].accepts(value):
        raise traitlets.TraitError(f"{name} must {RULES[name].must}, got {value!r}")
    return value


def check_resolution(name: str, value: object, low: int) -> None:
    """A ``ValueError`` unless ``value`` is an integer from ``low`` to 512 (picture sizes)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 512:
        raise ValueError(f"{name} must be an integer from {low} to 512, got {value!r}")


def describe_hidden(hidden: Sequence[int]) -> str:
    """The architecture in words, e.g. "2 hidden layer(s) of 4, 4 neurons"."""
    if not hidden:
        return "no hidden layer (a linear model)"
    return f"{len(hidden)} hidden layer(s) of {', '.join(map(str, hidden))} neurons"


#: The settings whose change starts training again, each with the sentence that says why.
RESTARTS: dict[str, Callable[[Any], str]] = {
    "dataset": lambda value: f"Data set changed to {value!r}",
    "noise": lambda value: f"Noise changed to {value:g}",
    "n": lambda value: f"Number of points changed to {value}",
    "seed": lambda value: f"Seed changed to {value}",
    "hidden": lambda value: f"Architecture changed to {describe_hidden(value)}",
    "activation": lambda value: f"Activation changed to {value}",
    "optimizer": lambda value: f"Optimizer changed to {value}",
    "features": lambda value: f"Input features changed to {', '.join(value)}",
    "test_fraction": lambda value: f"Test share changed to {value:g}",
    "dropout": lambda value: f"Dropout changed to {value:g}",
    "activations": lambda value: f"Activations per layer changed to {', '.join(value) or 'none'}",
    "classes": lambda value: f"Classes changed to {value}",
}

#: The settings that apply to the run in progress: the learning rate and the penalty at its
#: next step, the batch size from its next epoch.
TUNABLE = ("learning_rate", "regularization", "regularizer", "batch_size")


class PlaygroundSettings(traitlets.HasTraits):
    """The settings of a Playground, as traits checked against :data:`RULES`.

    Only declarations and validation: what a change does is the Playground's.
    """

    dataset = traitlets.Unicode(
        "spirals",
        help="The toy data set: circles, xor, gaussians or spirals (classes), plane or "
        "multi-gaussian (regression).",
    )
    noise = traitlets.Float(0.05, help="Standard deviation of the jitter added to the points.")
    n = traitlets.Int(400, help="Number of points, train and test together.")
    hidden = traitlets.List(
        traitlets.Int(), default_value=[4, 4], help="Neurons per hidden layer; [] is linear."
    )
    activation = traitlets.Unicode(
        "tanh", help="Activation after each hidden layer: tanh, relu, sigmoid or linear."
    )
    optimizer = traitlets.Unicode("adam", help="The optimizer: adam or sgd (plain, no momentum).")
    learning_rate = traitlets.Float(0.01, help="The optimizer's learning rate; applies at once.")
    batch_size = traitlets.Int(10, help="Training points per step; applies from the next epoch.")
    regularization = traitlets.Float(
        0.0, help="Rate of the penalty on the weights (see regularizer); applies at once."
    )
    regularizer = traitlets.Unicode(
        "L2",
        help="The penalty: L2 (the optimizer's weight_decay), L1 (rate times the sum of the "
        "weights' magnitudes, added to the loss) or none; applies at once.",
    )
    features = traitlets.List(
        traitlets.Unicode(),
        default_value=list(DEFAULT_FEATURES),
        help="Input features the network is fed: x1, x2, x1^2, x2^2, x1*x2, sin x1, sin x2.",
    )
    test_fraction = traitlets.Float(0.5, help="Share of the points held out for testing.")
    activations = traitlets.List(
        traitlets.Unicode(),
        default_value=[],
        help="The activation after each hidden layer, one per layer; [] uses activation for all.",
    )
    dropout = traitlets.Float(
        0.0, help="Dropout rate after each hidden layer, in training only (0: none)."
    )
    discretize = traitlets.Bool(
        False,
        help="Whether the output is drawn as its class (or a regression's as the sign of its "
        "prediction) rather than its probability (or prediction).",
    )
    seed = traitlets.Int(0, help="Seeds the data, the initial weights and the batch order.")
    classes = traitlets.Int(
        2,
        help="Classes of the data sets that take them (gaussians, spirals): 2 to 5; 3 or more "
        "train a softmax output with cross-entropy.",
    )
    show_test = traitlets.Bool(True, help="Whether the test points are drawn on the boundary.")

    #: The user's own points (``data=``), or None: only then is ``dataset`` "own" allowed.
    own_data: object = None

    @traitlets.validate(*RULES)
    def _validate_setting(self, proposal: dict) -> object:
        name, value = proposal["trait"].name, proposal["value"]
        if name == "activations" and value and len(value) != len(self.hidden):
            raise traitlets.TraitError(
                f"activations must name one activation per hidden layer ({len(self.hidden)}), "
                f"or none; got {len(value)}: {list(value)}"
            )
        dataset = value if name == "dataset" else self.dataset
        if name in ("n", "classes", "dataset") and dataset in MULTICLASS_DATASETS:
            n = value if name == "n" else self.n
            k = value if name == "classes" else self.classes
            if n < 2 * k:  # checked here, before a run is started that could not be drawn
                raise traitlets.TraitError(
                    f"n must be at least {2 * k} for {k} classes (every class in both "
                    f"splits), got n={n}"
                )
        if name == "dataset" and value == OWN and self.own_data is None:
            raise traitlets.TraitError(
                f"dataset {OWN!r} is the data given as Playground(data=(X, y)); none was given"
            )
        return check(name, value)
