"""What the explorer shows (a :class:`Selection`) and what a recording lets it select.

Everything here is a pure function of a :class:`~nnviz_widgets.Recording` and a selection: no
widget, no lock, no cache (one exception: :func:`selectable_layers` remembers its answer per
recording until the recording changes). The explorer validates its traits with :func:`checked`,
makes a selection whole with :func:`fit_selection` and fills its dropdowns from
:func:`choices`.

A selection without a quantity selects nothing yet (before the first snapshot); its layer ``""``
is then unset. Once a quantity is chosen, the layer ``""`` is a real layer: the model's own
parameters (``Recorder`` names the root module ``""``), shown as "(model)".

Reading a frame's shape may read the frame from disk; the functions that need a shape take a
``shape_of(selection)`` function so that the caller can cache it (the explorer's frame cache
does), and read it directly by default.
"""

from __future__ import annotations

import difflib
import re
import weakref
from collections.abc import Callable, Container
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

import numpy as np

from nnviz_widgets.recording import INPUT, FrameMissingError, Recording
from nnviz_widgets.render.layout import quantity_kind

__all__ = [
    "INPUT_LABEL",
    "MODEL_LABEL",
    "Choices",
    "Selection",
    "channel_count",
    "channel_options",
    "checked",
    "choices",
    "default_layer",
    "default_quantity",
    "fit_selection",
    "frame_shape",
    "has_layer",
    "is_half_made",
    "layer_label",
    "layer_options",
    "layer_quantities",
    "sample_count",
    "sample_options",
    "selectable_layers",
]

#: How the layer dropdown names the pseudo-layer that holds the probe input and the saliency
#: (by its own name, :data:`~nnviz_widgets.INPUT`, when the model has a layer called "input").
INPUT_LABEL = "input"
#: How the layer dropdown names the layer ``""``: the parameters the model itself owns.
MODEL_LABEL = "(model)"
#: Quantities preferred, in order, when a layer is chosen and nothing of the current quantity's
#: family is there ("weight" stands for the layer's main weight-like parameter: see
#: :func:`default_quantity`).
PREFERRED = ("weight", "activation", "saliency", "probe")
#: Most names an error message lists (the close matches come first).
LISTED = 12
#: Where the quantities with fixed names come in a layer's list (other parameters: 5).
READING_ORDER = {
    "weight": 0, "weight_grad": 1, "update": 2, "activation": 10, "output_grad": 11,
    "attention": 12, "probe": 20, "saliency": 21,
}  # fmt: skip

ShapeOf = Callable[["Selection"], "tuple[int, ...] | None"]
#: What selectable_layers found for each recording, with the state it found it in.
_SELECTABLE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Selection:
    """Everything that decides the main picture: the state the explorer's controls select.

    The explorer's traits of the same names hold it; a Selection is the value of those traits
    at one moment, used as a cache key and compared whole.
    """

    layer: str = ""
    quantity: str = ""
    index: int = 0
    sample: int = 0
    channel: int = -1
    colour_range: str = "fixed"

    @classmethod
    def of(cls, owner: Any) -> Selection:
        """The selection held by ``owner``'s attributes of the same names."""
        return cls(**{field.name: getattr(owner, field.name) for field in fields(cls)})

    def at(self, index: int) -> Selection:
        """The same picture at another snapshot."""
        return replace(self, index=index)

    def same_view(self, other: Selection) -> bool:
        """Whether ``other`` selects the same picture, at any snapshot."""
        return self.at(0) == other.at(0)


@dataclass(frozen=True)
class Choices:
    """What the dropdowns offer for a selection, as their ``options``."""

    layers: tuple[tuple[str, str], ...]
    quantities: tuple[str, ...]
    samples: tuple[tuple[str, int], ...]
    channels: tuple[tuple[str, int], ...]


# ---------------------------------------------------------------------------- layers, quantities
def layer_label(layer: str, taken: Container[str] = ()) -> str:
    """The name a person sees for ``layer``: the probe pseudo-layer is "input", the model's
    own parameters (the layer ``""``) "(model)", unless a layer among ``taken`` (the model's
    layers) is called so: the pseudo-layer is then named :data:`~nnviz_widgets.INPUT`."""
    if layer == INPUT:
        return INPUT if INPUT_LABEL in taken else INPUT_LABEL
    if layer == "":
        return MODEL_LABEL if MODEL_LABEL not in taken else "(the model itself)"
    return layer


def has_layer(selection: Selection) -> bool:
    """Whether ``selection`` selects a layer: it has a quantity (``""`` may be a real layer)."""
    return bool(selection.quantity)


def _offered_quantities(recording: Recording, layer: str) -> list[str]:
    """The layer's quantities, or none for a name the recording does not know (yet)."""
    try:
        return layer_quantities(recording, layer)
    except KeyError:
        return []


def _reading_order(quantity: str) -> tuple:
    base = re.sub(r"\[\d+\]$", "", quantity)
    calls = re.findall(r"\[(\d+)\]$", quantity)
    if base in READING_ORDER:
        return (READING_ORDER[base], "", int(calls[0]) if calls else 0)
    # other parameters (bias, weight_ih_l0, ...): p, p_grad, p_update together, after weights
    stem = re.sub(r"_(grad|update)$", "", base)
    suffix = {"": 0, "_grad": 1, "_update": 2}[base[len(stem) :]]
    return (5, stem, suffix)


def _parameter_role(quantity: str) -> tuple[str, int]:
    """A parameter quantity's parameter and role: 0 its value, 1 its gradient, 2 its update."""
    if quantity in ("weight", "weight_grad", "update"):
        return "weight", ("weight", "weight_grad", "update").index(quantity)
    stem = re.sub(r"_(grad|update)$", "", quantity)
    return stem, {"": 0, "_grad": 1, "_update": 2}[quantity[len(stem) :]]


def _weight_rank(stem: str) -> int:
    """How much a parameter reads as the layer's main weight: ``weight``, then a
    MultiheadAttention's ``in_proj_weight``, an RNN's input weights, other weights, other
    parameters, and biases last (a bias is often a one-row strip)."""
    if "bias" in stem:
        return 5
    for rank, test in enumerate(
        (stem == "weight", stem == "in_proj_weight", stem.startswith("weight_ih"), "weight" in stem)
    ):
        if test:
            return rank
    return 4


def layer_quantities(recording: Recording, layer: str) -> list[str]:
    """The layer's quantities in reading order: weights, gradients, updates, then the rest."""
    return sorted(recording.quantities(layer), key=_reading_order)


def selectable_layers(recording: Recording) -> list[str]:
    """The layers with something recorded, the probe pseudo-layer first when there is one."""
    # remembered per recording until a snapshot, a layer or the probe is added:
    # Recording.quantities reads every frame key, so asking it of each of 500 layers took
    # ~80 ms, twice per layer change (docs/explorer.md, "Large models")
    state = (len(recording), recording.layers, "input" in recording.probe)
    remembered = _SELECTABLE.get(recording)
    if remembered is not None and remembered[0] == state:
        return list(remembered[1])
    layers = [layer for layer in recording.layers if recording.quantities(layer)]
    try:
        if recording.quantities(INPUT):
            layers.insert(0, INPUT)
    except KeyError:  # no input pseudo-layer was declared
        pass
    _SELECTABLE[recording] = (state, tuple(layers))
    return layers


def layer_options(recording: Recording) -> tuple[tuple[str, str], ...]:
    """The layer dropdown's options: (what a person sees, layer name), every label distinct."""
    layers = selectable_layers(recording)
    taken = set(layers)
    return tuple((layer_label(layer, taken), layer) for layer in layers)


def default_layer(recording: Recording, layers: list[str]) -> str:
    """The first layer with weights, else the first layer with anything recorded."""
    for layer in layers:
        if layer != INPUT and "weight" in recording.quantities(layer):
            return layer
    return layers[0]


def default_quantity(quantities: list[str], current: str) -> str:
    """``current`` if the layer has it, else the closest of its family, else a preferred one.

    Families: parameters (weights, biases, their gradients and updates); what the probe
    computes per sample (activations, output gradients, attention maps); the probe input. Among
    parameters the closest keeps the role (value, gradient, update) and then prefers the main
    weight-like parameter (:func:`_weight_rank`): from ``weight`` a MultiheadAttention opens on
    ``in_proj_weight``, from ``bias`` on ``in_proj_bias``. Among per-sample quantities it keeps
    the name (``activation[1]`` to ``activation``), else the reading order.
    """
    if current in quantities:
        return current
    if current:  # keep the family when switching layers (activation -> activation, ...)
        same = [q for q in quantities if _family(q) == _family(current)]
        if same:
            return min(same, key=partial(_distance, current))
    for preferred in PREFERRED:
        if preferred == "weight":
            weights = [q for q in quantities if _family(q) == "parameter"]
            weights = [q for q in weights if _parameter_role(q)[1] == 0 and _weight_rank(q) < 5]
            if weights:
                return min(weights, key=lambda q: (_weight_rank(q), _reading_order(q)))
        elif preferred in quantities:
            return preferred
    return quantities[0] if quantities else ""


def _family(quantity: str) -> str:
    kind = quantity_kind(quantity)
    return "activation" if kind == "attention" else kind


def _distance(current: str, candidate: str) -> tuple:
    """How far ``candidate`` is from ``current``, of the same family, as a sort key."""
    if _family(current) == "parameter":
        stem, role = _parameter_role(current)
        other, other_role = _parameter_role(candidate)
        bias = ("bias" in stem) != ("bias" in other)
        return (other_role != role, bias, _weight_rank(other), _reading_order(candidate))
    base = re.sub(r"\[\d+\]$", "", current)
    return (re.sub(r"\[\d+\]$", "", candidate) != base, _reading_order(candidate))


# ---------------------------------------------------------------------------- samples, channels
def frame_shape(recording: Recording, selection: Selection) -> tuple[int, ...] | None:
    """The shape of the selected quantity's frames as drawn (from the selected snapshot, else the
    newest one that has the frame): the preview's, for a tensor kept as one; None when there is
    none yet."""
    layer, quantity, count = selection.layer, selection.quantity, len(recording)
    if not has_layer(selection) or not count:
        return None
    for index in (selection.index, *range(count - 1, -1, -1)):
        try:
            if 0 <= index < count and recording.missing_reason(layer, quantity, index) is None:
                return tuple(recording.preview(layer, quantity, index).shape)
        except FrameMissingError:  # thinned since it was asked about: try another
            continue
        except KeyError:  # a half-made selection: a quantity this layer does not have
            return None
    return None


def sample_count(quantity: str, shape: tuple[int, ...] | None) -> int:
    """How many probe samples there are to choose from (0: nothing to choose)."""
    if shape is None or quantity_kind(quantity) == "parameter" or len(shape) < 2:
        return 0
    if len(shape) == 2 and quantity_kind(quantity) == "activation":
        return 0  # dense activations show every sample as rows already
    return shape[0]


def channel_count(quantity: str, shape: tuple[int, ...] | None) -> int:
    """How many channels (feature maps, output channels) there are to choose from."""
    if shape is None or len(shape) != 4:
        return 0
    return shape[0] if quantity_kind(quantity) == "parameter" else shape[1]


def sample_options(recording: Recording, count: int) -> tuple[tuple[str, int], ...]:
    """The sample dropdown's options: "all", then each sample with its label when known."""
    targets = recording.probe.get("target")
    options = [("all", -1)]
    for k in range(count):
        label = str(k)
        if targets is not None and k < len(targets) and np.ndim(targets[k]) == 0:
            label += f" (label {targets[k]})"
        options.append((label, k))
    return tuple(options)


def channel_options(count: int) -> tuple[tuple[str, int], ...]:
    """The channel dropdown's options: "all", then each channel."""
    return (("all", -1), *((str(k), k) for k in range(count)))


# ---------------------------------------------------------------------------- whole selections
def fit_selection(
    recording: Recording, selection: Selection, shape_of: ShapeOf | None = None
) -> Selection:
    """The selection made whole: a layer once a snapshot is in, a quantity that layer has, and
    a sample and channel its frames have. What is already whole is kept."""
    shape_of = shape_of or partial(frame_shape, recording)
    layer = selection.layer
    if not has_layer(selection) and len(recording):
        # chosen once the first snapshot is in, when every layer's quantities are known
        layers = selectable_layers(recording)
        layer = default_layer(recording, layers) if layers else ""
    quantities = _offered_quantities(recording, layer)
    fitted = replace(
        selection, layer=layer, quantity=default_quantity(quantities, selection.quantity)
    )
    if not has_layer(fitted):
        return replace(fitted, sample=-1, channel=-1)  # nothing recorded yet: nothing to choose
    shape = shape_of(fitted)
    samples, channels = sample_count(fitted.quantity, shape), channel_count(fitted.quantity, shape)
    # without samples to choose: all (the dropdown shows "all", disabled; the explorer asks for
    # the sample chosen before when samples come back)
    sample = -1 if samples == 0 else fitted.sample if -1 <= fitted.sample < samples else 0
    channel = fitted.channel if -1 <= fitted.channel < channels else -1
    return replace(fitted, sample=sample, channel=channel)


def choices(recording: Recording, selection: Selection, shape_of: ShapeOf | None = None) -> Choices:
    """What the dropdowns offer for ``selection`` (a whole one: see :func:`fit_selection`)."""
    shape = (shape_of or partial(frame_shape, recording))(selection)
    layer, quantity = selection.layer, selection.quantity
    return Choices(
        layers=layer_options(recording),
        quantities=tuple(_offered_quantities(recording, layer)) if has_layer(selection) else (),
        samples=sample_options(recording, sample_count(quantity, shape)),
        channels=channel_options(channel_count(quantity, shape)),
    )


def is_half_made(recording: Recording, selection: Selection) -> bool:
    """True when the layer is set but the quantity is not yet one of its own: a thread set
    ``layer`` and has not yet chosen a quantity for it (the explorer's observer does)."""
    if not has_layer(selection):
        return False
    try:
        return selection.quantity not in recording.quantities(selection.layer)
    except KeyError:
        return True


# ---------------------------------------------------------------------------- validation
def checked(
    recording: Recording,
    selection: Selection,
    name: str,
    value: Any,
    shape_of: ShapeOf | None = None,
) -> Any:
    """``value`` made the ``name`` of ``selection`` (a layer, quantity, index, sample or
    channel), or :class:`ValueError` saying what the recording offers instead.

    A layer is found by its name first, then by the label the dropdown shows ("input" for
    the probe pseudo-layer, "(model)" for the model's own parameters: see
    :func:`layer_label`). Messages name the close matches first.
    """
    if name == "layer":
        valid = selectable_layers(recording)
        if value in valid or (value == "" and not valid):
            return value  # a layer's own name first: a layer called "input" is that layer
        taken = set(valid)
        labels = {layer_label(layer, taken): layer for layer in valid}
        if value in labels:
            return labels[value]
        raise ValueError(f"unknown layer {value!r}{_listed(str(value), list(labels), 'layers')}")
    if name == "quantity":
        layer = selection.layer
        valid = _offered_quantities(recording, layer)
        if value in valid or (value == "" and not valid):
            return value
        label = layer_label(layer, set(selectable_layers(recording)))
        listed = _listed(str(value), valid, "quantities")
        raise ValueError(f"unknown quantity {value!r} for layer {label!r}{listed}")
    problem = _range_problem(name, value, _count(recording, selection, name, shape_of))
    if problem is not None:
        raise ValueError(problem)
    return value


def _listed(value: str, names: list[str], what: str) -> str:
    """``; did you mean 'fc'? valid layers: 'input', 'conv', ...`` for an unknown ``value``:
    its close matches, then at most :data:`LISTED` names."""
    if not names:
        return f"; valid {what}: none yet"
    close = difflib.get_close_matches(value, names, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    shown = ", ".join(map(repr, names[:LISTED]))
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return f"{hint}; valid {what}: {shown}{more}"


def _count(recording: Recording, selection: Selection, name: str, shape_of: ShapeOf | None) -> int:
    if name == "index":
        return len(recording)
    shape = (shape_of or partial(frame_shape, recording))(selection)
    count = sample_count if name == "sample" else channel_count
    return count(selection.quantity, shape)


def _range_problem(name: str, value: int, count: int) -> str | None:
    """What is wrong with ``value`` as an index, sample or channel among ``count``, if anything."""
    if name == "index":
        if 0 <= value < count or value == count == 0:
            return None
        span = f" (0 to {count - 1})" if count else ""
        return f"index {value} is out of range: the recording has {count} snapshot(s){span}"
    if name == "sample":
        if -1 <= value < count:
            return None
        if count == 0:
            return f"sample {value} is out of range: this quantity has no samples, only -1 (all)"
        return f"sample {value} is out of range: -1 (all) or 0 to {count - 1}"
    if -1 <= value < count:
        return None
    span = f" or 0 to {count - 1}" if count else "; this quantity has no channels"
    return f"channel {value} is out of range: -1 (all){span}"
