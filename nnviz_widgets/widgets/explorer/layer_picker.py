"""The layer picker: one dropdown, usable from a 6-layer LeNet to a 500-layer transformer.

ipywidgets has no tree widget, so the picker is made of plain controls (see docs/explorer.md,
"Large models"):

- the layer dropdown (the explorer's ``layer_box``) lists the layers in the model's order, which
  keeps each module's layers together; on a large model each label adds the layer's type
  ("layer2.0.conv1 · Conv2d");
- a filter (a ``Combobox``, whose suggestions are the module paths and layer names) keeps the
  layers whose name or type contains its text; a module path ("layer2.0") keeps the layers under
  that module; a layer's exact name selects that layer and lists its module's layers;
- a type dropdown ("Conv2d (19)") keeps the layers of one type;
- a line says where the selected layer sits: its path as a breadcrumb, its type, the shapes of its
  parameters and outputs, and its place among the layers.

The filter and the type dropdown show only past :data:`SMALL` layers: a LeNet keeps the plain
dropdown, its labels the layers' names. The dropdown always offers the selected layer, filtered
or not, so that typing in the filter never changes what is drawn.

The functions here are pure (a Recording's layer infos in, labels and lists out); the
:class:`LayerPicker` holds the controls. It changes no explorer trait and no control bound to one:
when the filter or type changes it tells its owner (``ExplorerControls``), which takes the
explorer's lock and asks it what to select (:meth:`LayerPicker.named`) and offer
(:meth:`LayerPicker.options`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets

from nnviz_widgets.recording import INPUT, Recording
from nnviz_widgets.widgets.explorer.text import escape, quiet

__all__ = ["SMALL", "LayerEntry", "LayerPicker", "describe_layers", "matching", "type_options"]

#: Up to this many layers the picker is a plain dropdown of names.
SMALL = 16
#: Between the parts of a breadcrumb.
SEPARATOR = " \u203a "
#: The value of the type dropdown that keeps every type.
ANY_TYPE = ""


def _dimensions(shape: Sequence[int]) -> str:
    return "\u00d7".join(str(int(size)) for size in shape) or "scalar"


@dataclass(frozen=True)
class LayerEntry:
    """One selectable layer as the picker shows it."""

    name: str
    label: str
    kind: str = ""  # the module's class ("" for the probe input)
    parameters: tuple[tuple[str, tuple[int, ...]], ...] = ()
    outputs: tuple[tuple[int, ...], ...] = ()  # per call of a forward pass, batch left out

    @property
    def module(self) -> str:
        """The path of the module that holds this layer ("" at the top)."""
        return self.name.rpartition(".")[0] if self.name != INPUT else ""

    def long_label(self) -> str:
        """The dropdown's label on a large model: the name and the type."""
        return f"{self.label} \u00b7 {self.kind}" if self.kind else self.label

    def breadcrumb(self) -> str:
        """Where the layer sits: ``layer2 › 0 › conv1``."""
        if self.name in ("", INPUT):
            return self.label
        return SEPARATOR.join(self.name.split("."))

    def shapes(self) -> str:
        """Its parameters' shapes and its output's (of one sample), in words."""
        parts = [f"{name} {_dimensions(shape)}" for name, shape in self.parameters]
        if self.outputs:
            calls = f" (called {len(self.outputs)}\u00d7)" if len(self.outputs) > 1 else ""
            parts.append(f"output {_dimensions(self.outputs[0])}{calls}")
        return ", ".join(parts)


def describe_layers(recording: Recording, options: Sequence[tuple[str, str]]) -> list[LayerEntry]:
    """The picker's entries for the layer dropdown's ``options`` ((label, layer) pairs)."""
    infos = recording.layer_infos()
    entries = []
    for label, name in options:
        info = infos.get(name, {})
        if name == INPUT:
            shape = info.get("shape") or []
            entries.append(
                LayerEntry(name, label, "", outputs=(tuple(shape[1:]),) if shape else ())
            )
            continue
        parameters = tuple((p, tuple(s)) for p, s in (info.get("parameters") or {}).items())
        outputs = tuple(tuple(s[1:]) for s in info.get("output_shapes") or [])
        entries.append(LayerEntry(name, label, str(info.get("type", "")), parameters, outputs))
    return entries


def module_paths(entries: Sequence[LayerEntry]) -> list[str]:
    """Every module path that holds a layer below it, in the model's order."""
    paths: dict[str, None] = {}
    for entry in entries:
        parts = entry.module.split(".") if entry.module else []
        for k in range(1, len(parts) + 1):
            paths.setdefault(".".join(parts[:k]))
    return list(paths)


def _under(entry: LayerEntry, module: str) -> bool:
    return not module or entry.name.startswith(module + ".")


def matching(
    entries: Sequence[LayerEntry],
    text: str,
    kind: str = ANY_TYPE,
    paths: Sequence[str] | None = None,
) -> tuple[list[LayerEntry], LayerEntry | None]:
    """The entries the filter ``text`` and type ``kind`` keep, and the layer ``text`` picks.

    A module path keeps the layers under it; other text keeps the layers whose label or type
    contains it (any case). Text that is a layer's exact name picks that layer when nothing else
    is kept beside it and its own sub-layers ("fc", not "norm" while "norm1" layers exist):
    the entries kept are then its module's layers, so that the dropdown can step to its
    neighbours. ``paths`` are the entries' :func:`module_paths`, if known already.
    """
    text = text.strip()
    if text in (module_paths(entries) if paths is None else paths):
        kept = [entry for entry in entries if _under(entry, text)]
    else:
        lowered = text.lower()
        kept = [entry for entry in entries if lowered in f"{entry.label} {entry.kind}".lower()]
    named = next((entry for entry in entries if text and text in (entry.name, entry.label)), None)
    if named is not None and all(e is named or _under(e, named.name) for e in kept):
        kept = [entry for entry in entries if _under(entry, named.module)]
    else:
        named = None
    return [entry for entry in kept if kind == ANY_TYPE or entry.kind == kind], named


def type_options(entries: Sequence[LayerEntry]) -> tuple[tuple[str, str], ...]:
    """The type dropdown's options: every type with its count, in the model's order."""
    counts: dict[str, int] = {}
    for entry in entries:
        if entry.kind:
            counts[entry.kind] = counts.get(entry.kind, 0) + 1
    return (
        (f"all types ({len(entries)})", ANY_TYPE),
        *((f"{kind} ({count})", kind) for kind, count in counts.items()),
    )


def where_line(entries: Sequence[LayerEntry], layer: str, shown: int) -> str:
    """HTML: where ``layer`` sits, what it is, and (when filtered) how many layers are listed."""
    found = [k for k, entry in enumerate(entries) if entry.name == layer]
    if not found:
        return ""
    entry = entries[found[0]]
    if entry.name == INPUT:
        what = "the probe batch, input of the network"
    elif entry.name == "":
        what = f"{entry.kind or 'the model'}: parameters of the model itself"
    else:
        what = entry.kind
    parts = [f"<b>{escape(entry.breadcrumb())}</b>", escape(what), escape(entry.shapes())]
    parts.append(f"layer {found[0] + 1} of {len(entries)}")
    if shown < len(entries):
        parts.append(f"{shown} of {len(entries)} listed")
    return quiet(" \u00b7 ".join(part for part in parts if part))


class LayerPicker:
    """The filter, the type dropdown and the where-line around the explorer's layer dropdown.

    Parameters
    ----------
    layer_box : ipywidgets.Dropdown
        The layer dropdown; its options are set by the owner from :meth:`options`.
    on_filter : callable
        ``on_filter(text)`` when the filter (``text=True``: it may name a layer) or the type
        changes: the owner selects :meth:`named`, if any, and offers :meth:`options` anew.
    """

    def __init__(
        self, layer_box: ipywidgets.Dropdown, *, on_filter: Callable[[bool], None]
    ) -> None:
        self.layer_box = layer_box
        self._on_filter = on_filter
        self.search = ipywidgets.Combobox(
            placeholder="filter: name, module or type",
            ensure_option=False,
            continuous_update=True,
            # wide enough for its placeholder (180 px cut it: "module or ty")
            layout=ipywidgets.Layout(width="230px", margin="2px 6px 2px 0", display="none"),
        )
        self.type_box = ipywidgets.Dropdown(
            options=type_options([]),
            layout=ipywidgets.Layout(width="150px", margin="2px 6px 2px 0", display="none"),
        )
        self.where = ipywidgets.HTML("")
        self.where.add_class("nnviz-text")
        self.where.add_class("nnviz-layer-where")
        for widget, name in ((self.search, "search"), (self.type_box, "type")):
            widget.add_class(f"nnviz-layer-{name}")
        self._options: tuple = ()
        self._entries: list[LayerEntry] = []
        self._paths: list[str] = []  # module_paths of the entries
        self._quiet = False  # the owner is setting our options: not a person filtering
        self.search.observe(self._on_search_change, "value")
        self.type_box.observe(self._on_type_change, "value")

    @property
    def large(self) -> bool:
        """Whether there are enough layers for the filter and the type dropdown."""
        return len(self._entries) > SMALL

    def set_layers(self, options: tuple[tuple[str, str], ...], recording: Recording) -> None:
        """Know the layers of the dropdown's full ``options`` ((label, layer) pairs)."""
        if options == self._options:
            return
        self._options, self._entries = options, describe_layers(recording, options)
        self._paths = module_paths(self._entries)
        display = None if self.large else "none"
        self.search.layout.display = self.type_box.layout.display = display
        self._quiet = True
        try:
            self.search.options = [*self._paths, *(entry.label for entry in self._entries)]
            kind = self.type_box.value
            self.type_box.options = type_options(self._entries)
            offered = [value for _, value in self.type_box.options]
            self.type_box.value = kind if kind in offered else ANY_TYPE
        finally:
            self._quiet = False

    def options(self, layer: str) -> tuple[tuple[str, str], ...]:
        """The dropdown's options: the layers the filter keeps, and ``layer`` always."""
        if not self.large:
            return self._options
        found, _ = self._matching(self.search.value, self.type_box.value)
        kept = {entry.name for entry in found}
        return tuple(
            (entry.long_label(), entry.name)
            for entry in self._entries
            if entry.name in kept or entry.name == layer
        )

    def describe(self, layer: str) -> None:
        """Say where ``layer`` sits (on the where-line)."""
        shown = len(self._entries)
        if self.large:
            shown = len(self._matching(self.search.value, self.type_box.value)[0])
        self.where.value = where_line(self._entries, layer, shown)

    def named(self) -> str | None:
        """The layer the filter's text picks (see :func:`matching`), if any."""
        _, named = self._matching(self.search.value)
        return None if named is None else named.name

    def _matching(self, text: str, kind: str = ANY_TYPE) -> tuple:
        return matching(self._entries, text, kind, self._paths)

    def _on_search_change(self, _change: dict) -> None:
        if not self._quiet:
            self._on_filter(True)

    def _on_type_change(self, _change: dict) -> None:
        if not self._quiet:
            self._on_filter(False)
