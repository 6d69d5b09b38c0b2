"""Which modules of a model are recorded as layers, and what is known of each.

- :func:`unwrap_model`: the module inside a ``torch.compile``, DDP or DataParallel wrapper.
- :func:`select_layers`: the default rule (every module that does work) or the user's names,
  glob patterns and classes, with errors that list what the model does have.
- :class:`RecordedLayers`: the chosen layers, the unique parameters they hold (tied weights
  once), which parameter belongs to which layer, and each layer's description for the Recording
  (with what a picture needs of a sequence model: heads, gates, the rows the probe reads); and,
  at each snapshot, whether the model still holds them (:meth:`RecordedLayers.refresh`: a
  module replaced or added, a parameter set to another shape through ``.data``).
- :func:`unit_dim` and :func:`expected_input`: where a layer's output keeps its units, and what
  input a layer expects (for the message of a probe that does not fit).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from torch import nn

__all__ = [
    "CHANNEL_FIRST",
    "GATES",
    "LayerChange",
    "LayerSpec",
    "RecordedLayers",
    "expected_input",
    "select_layers",
    "unit_dim",
    "unwrap_model",
]

#: Leaf modules that pass values through without computing anything worth a picture.
_PASSIVE = (nn.Identity, nn.Flatten, nn.Unflatten, nn.modules.dropout._DropoutNd)

#: Modules whose outputs keep channels in dimension 1, also for 3-D outputs (N, C, L).
CHANNEL_FIRST = (
    nn.modules.conv._ConvNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.GroupNorm,
)

#: The gates stacked in a recurrent layer's weights and biases, in PyTorch's order.
GATES = {nn.LSTM: ("input", "forget", "cell", "output"), nn.GRU: ("reset", "update", "new")}

#: What ``Recorder(layers=...)`` takes: names, glob patterns, module classes, or a list of them.
LayerSpec = str | type | Iterable[str | type]


def unwrap_model(model: object) -> nn.Module:
    """The module inside a ``torch.compile``, DDP or DataParallel wrapper (TypeError if not a
    module)."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"Recorder needs a torch.nn.Module as its model, got {type(model).__name__}; "
            "pass the model itself (e.g. Recorder(model, ...)), not its outputs or parameters"
        )
    seen = 0
    while seen < 4:  # compiled DDP of a compiled module, and so on
        seen += 1
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if isinstance(inner, nn.Module):
            model = inner
            continue
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
            continue
        break
    return model


class RecordedLayers:
    """The layers a Recorder records and the parameters they hold.

    Parameters
    ----------
    model : torch.nn.Module
        The (unwrapped) model.
    spec : LayerSpec or None
        ``Recorder(layers=...)``; None for the default rule.

    Attributes
    ----------
    modules : list of (str, torch.nn.Module)
        The chosen layers, in the model's order.
    parameters : list of torch.nn.Parameter
        The unique parameters of the chosen layers (a tied weight appears once).
    entries : dict
        ``{layer: [(parameter name, index into parameters), ...]}``, the layer's own
        parameters (not its children's).
    membership : numpy.ndarray
        ``(parameters, layers)`` 0/1 matrix: which parameters make up each layer.
    notes : dict
        ``{layer: {key: value}}``: what was learnt of a layer by running it (see :meth:`note`).
    """

    def __init__(self, model: nn.Module, spec: LayerSpec | None) -> None:
        self._model = model
        self._spec = spec
        self.notes: dict[str, dict] = {}
        self._build(select_layers(model, spec))

    def _build(self, modules: list[tuple[str, nn.Module]]) -> None:
        self.modules: list[tuple[str, nn.Module]] = modules
        self.parameters: list[nn.Parameter] = []
        self.entries: dict[str, list[tuple[str, int]]] = {}
        seen: dict[int, int] = {}
        for name, module in self.modules:
            entries = []
            for pname, param in module.named_parameters(recurse=False):
                if id(param) not in seen:
                    seen[id(param)] = len(self.parameters)
                    self.parameters.append(param)
                entries.append((pname, seen[id(param)]))
            self.entries[name] = entries
        self.membership = np.zeros((len(self.parameters), len(self.modules)))
        for j, (name, _) in enumerate(self.modules):
            for _, i in self.entries[name]:
                self.membership[i, j] = 1.0
        self._prints = {name: _fingerprint(module) for name, module in modules}

    def refresh(self) -> LayerChange | None:
        """Choose the layers again from the model as it is now; None when nothing changed.

        A change is a module replaced, added or removed, or a parameter replaced, added, or
        set to another shape, dtype or device (``param.data = ...``). The layers are then
        rebuilt (the same rule or names: a name no longer in the model is left out, never an
        error), and what is known of a changed layer is forgotten. Costs a walk over the
        model's modules: called at snapshots, never at steps.
        """
        modules = select_layers(self._model, self._spec, strict=False)
        prints = {name: _fingerprint(module) for name, module in modules}
        if prints == self._prints and [n for n, _ in modules] == list(self._prints):
            return None
        before = self._prints
        self._build(modules)
        changed = [name for name in prints if before.get(name) != prints[name]]
        gone = [name for name in before if name not in prints]
        for name in (*changed, *gone):
            self.notes.pop(name, None)
        return LayerChange(changed=changed, gone=gone)

    def note(self, layer: str, **facts: object) -> None:
        """Add ``facts`` (JSON values) to ``layer``'s description: what the probe check learnt
        of it, e.g. the rows of an Embedding the probe reads."""
        self.notes.setdefault(layer, {}).update(facts)

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the chosen layers."""
        return tuple(name for name, _ in self.modules)

    def describe(self, calls: dict[str, list[tuple[int, ...]]] | None = None) -> dict[str, dict]:
        """``{layer: info}`` for :meth:`Recording.set_layers`.

        ``calls`` (from the probe check) gives each layer's output shapes, one per call in a
        forward pass; without a probe there are none to tell.
        """
        infos = {}
        for name, module in self.modules:
            own = list(module.named_parameters(recurse=False))
            info = {
                "type": type(module).__name__,
                "parameters": {pname: list(p.shape) for pname, p in own},
                "frozen": [pname for pname, p in own if not p.requires_grad],
                "channel_first": isinstance(module, CHANNEL_FIRST),
            }
            if calls is not None:
                info["calls"] = len(calls.get(name, []))
                info["output_shapes"] = [list(s) for s in calls.get(name, [])]
            info.update(_sequence_info(module))
            info.update(self.notes.get(name, {}))
            infos[name] = info
        for name, module in self.modules:  # an attention's output projection reads its heads
            if isinstance(module, nn.MultiheadAttention):
                out = f"{name}.out_proj" if name else "out_proj"
                if out in infos:
                    infos[out]["input_heads"] = module.num_heads
        return infos


@dataclass(frozen=True)
class LayerChange:
    """What :meth:`RecordedLayers.refresh` found: the layers that are new or changed, in the
    model's order, and those no longer in the model."""

    changed: list[str]
    gone: list[str]


def _fingerprint(module: nn.Module) -> tuple:
    """What a layer's frames depend on: the module object and its own parameters (object,
    shape, dtype, device). The objects stay alive while recorded, so their ids stay theirs."""
    return (
        id(module),
        tuple(
            (pname, id(p), tuple(p.shape), p.dtype, p.device)
            for pname, p in module.named_parameters(recurse=False)
        ),
    )


def _sequence_info(module: nn.Module) -> dict:
    """What the pictures of attention and recurrent layers need: heads, gates, directions."""
    if isinstance(module, nn.MultiheadAttention):
        return {"heads": module.num_heads, "batch_first": bool(module.batch_first)}
    if isinstance(module, nn.RNNBase):
        gates = next((g for cls, g in GATES.items() if isinstance(module, cls)), ())
        return {
            "gates": list(gates),
            "hidden_size": module.hidden_size,
            "bidirectional": bool(module.bidirectional),
            "batch_first": bool(module.batch_first),
        }
    return {}


def select_layers(
    model: nn.Module, spec: LayerSpec | None, *, strict: bool = True
) -> list[tuple[str, nn.Module]]:
    """The ``(name, module)`` pairs that ``spec`` chooses, in the model's order.

    Raises ValueError (naming what the model has) when an item matches nothing, TypeError for
    an item that is neither a name, a pattern nor a module class. With ``strict=False`` (the
    model changed after the Recorder was made), an item that matches nothing is left out.
    """
    named = list(model.named_modules())
    if spec is None:
        return _doing_work(named, strict=strict)
    items = [spec] if isinstance(spec, str | type) else list(spec)
    if not items:
        raise ValueError("layers= is empty; leave it out to record every layer that does work")
    wanted: set[int] = set()
    for item in items:
        try:
            wanted |= _chosen_by(named, item)
        except ValueError:
            if strict:
                raise
    return [named[i] for i in sorted(wanted)]


def _chosen_by(named: list[tuple[str, nn.Module]], item: object) -> set[int]:
    if isinstance(item, type):
        return _of_class(named, item)
    if isinstance(item, str) and any(c in item for c in "*?["):
        return _matching_pattern(named, item)
    if isinstance(item, str):
        return _named(named, item)
    raise TypeError(
        f"layers= takes names, glob patterns or module classes, got {item!r} "
        f"({type(item).__name__})"
    )


def _doing_work(
    named: list[tuple[str, nn.Module]], *, strict: bool = True
) -> list[tuple[str, nn.Module]]:
    """The default: modules with parameters of their own, and leaves that are not passive."""
    chosen = []
    for name, module in named:
        own = next(module.parameters(recurse=False), None) is not None
        leaf = next(module.children(), None) is None
        if name == "" and not (own or leaf):
            continue
        if own or (leaf and not isinstance(module, _PASSIVE)):
            chosen.append((name, module))
    if not chosen and strict:
        raise ValueError("the model has no module that computes anything to record")
    return chosen


def _of_class(named: list[tuple[str, nn.Module]], cls: type) -> set[int]:
    if not issubclass(cls, nn.Module):
        raise TypeError(f"layers= may hold module classes, got {cls!r}")
    hits = {i for i, (_, m) in enumerate(named) if isinstance(m, cls)}
    if not hits:
        present = sorted({type(m).__name__ for _, m in named})
        raise ValueError(
            f"no module of type {cls.__name__} in the model; its types are " + ", ".join(present)
        )
    return hits


def _matching_pattern(named: list[tuple[str, nn.Module]], pattern: str) -> set[int]:
    hits = {i for i, (n, _) in enumerate(named) if n and fnmatch.fnmatchcase(n, pattern)}
    if not hits:
        raise ValueError(
            f"the pattern {pattern!r} matches no layer; layers are named " + _first_names(named)
        )
    return hits


def _named(named: list[tuple[str, nn.Module]], name: str) -> set[int]:
    hits = {i for i, (n, _) in enumerate(named) if n == name}
    if not hits:
        names = [n for n, _ in named if n]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
        raise ValueError(
            f"no layer named {name!r} in the model"
            + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
            + " Layers: "
            + _first_names(named)
        )
    return hits


def _first_names(named: list[tuple[str, nn.Module]]) -> str:
    """The first 15 layer names, quoted, for an error message."""
    names = [n for n, _ in named if n]
    return ", ".join(repr(n) for n in names[:15]) + (" ..." if len(names) > 15 else "")


def unit_dim(module: nn.Module, ndim: int, *, channel_first: bool | None = None) -> int:
    """Which dimension of an output holds its units: channels for images, features otherwise.

    ``channel_first`` says how a 3-D output is ordered when it is known otherwise (a ReLU after
    a Conv1d); by default, as the module's type says.
    """
    if ndim <= 2 or ndim >= 4:
        return 1 if ndim >= 2 else 0
    if channel_first is None:
        channel_first = isinstance(module, CHANNEL_FIRST)
    return 1 if channel_first else 2


def expected_input(module: nn.Module) -> str:
    """The input shape ``module`` expects, in words, for an error message."""
    if isinstance(module, nn.Linear):
        return f"(*, {module.in_features})"
    if isinstance(module, nn.modules.conv._ConvNd):
        spatial = ", ".join(["L", "H", "W"][-len(module.kernel_size) :]) or "..."
        if len(module.kernel_size) == 3:
            spatial = "D, H, W"
        return f"(N, {module.in_channels}, {spatial})"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return f"(N, {module.num_features}, ...)"
    if isinstance(module, nn.RNNBase):
        order = "(N, T, {})" if module.batch_first else "(T, N, {})"
        return order.format(module.input_size)
    if isinstance(module, nn.Embedding):
        return f"integer indices below {module.num_embeddings}"
    if isinstance(module, nn.LayerNorm):
        return f"(*, {', '.join(str(s) for s in module.normalized_shape)})"
    return "a different shape (see the error below)"
