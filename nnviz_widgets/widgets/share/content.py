"""What goes into a shared file: the views and snapshots chosen, each picture rendered.

A *view* is one (layer, quantity) with the explorer's sample, channel and colour-range mode;
:func:`choose_views` turns the ``layers=`` / ``quantities=`` arguments of ``save_html`` and
``save_gif`` into views, with the explorer's messages for a name the recording does not hold.
:func:`rendered` draws one view at one snapshot through the explorer's own
:class:`~nnviz_widgets.widgets.explorer.frame_cache.FrameCache`, so a shared picture has the
colours, colour range, reduction and notes of the picture on screen.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from nnviz_widgets.recording import FrameMissingError, Recording, preview_note
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache, PreparedFrame
from nnviz_widgets.widgets.explorer.selection import (
    Selection,
    checked,
    fit_selection,
    layer_label,
    layer_quantities,
    selectable_layers,
)
from nnviz_widgets.widgets.explorer.text import epoch_line, picture_title, strip_tags

__all__ = [
    "Rendered",
    "View",
    "choose_snapshots",
    "choose_views",
    "nonfinite_text",
    "positions_text",
    "recording_selection",
    "rendered",
    "snapshot_line",
]


@dataclass(frozen=True)
class View:
    """One picture to share at every chosen snapshot: a whole selection (at snapshot 0)."""

    selection: Selection
    label: str  # the layer as a person reads it ("input", "(model)", "conv1")

    @property
    def name(self) -> str:
        """``label · quantity``: how the page and error messages name the view."""
        return f"{self.label} \u00b7 {self.selection.quantity}"


@dataclass(frozen=True)
class Rendered:
    """One view at one snapshot, as shown: the prepared picture, or why there is none."""

    view: View
    index: int
    prepared: PreparedFrame | None
    title: str
    note: str = ""  # how it was laid out, recorded and coloured
    missing: str = ""  # why there is no picture, when there is none

    @property
    def rgb(self) -> np.ndarray:
        """The picture as ``(rows, columns, 3)`` uint8, as the explorer colours it."""
        return self.prepared.colour_map.palette[self.prepared.indices]


def choose_views(
    recording: Recording,
    current: Selection,
    frames: FrameCache,
    layers: str | Iterable[str] | None,
    quantities: str | Iterable[str] | None,
) -> list[View]:
    """The views for ``layers`` x ``quantities`` (each layer's quantities among them).

    ``None`` keeps the current selection's layer (or quantity); ``"all"`` as ``layers`` takes
    every layer with something recorded. A layer is named as the explorer's dropdown names it
    or by its module name; a name the recording does not hold raises :class:`ValueError` with
    the names it does hold.
    """
    if not len(recording):
        raise ValueError("nothing to share: the recording has no snapshots yet")
    current = fit_selection(recording, current, frames.shape)
    if layers is None:
        names = [current.layer]
    elif isinstance(layers, str) and layers == "all":
        names = selectable_layers(recording)
    else:
        names = [layers] if isinstance(layers, str) else list(layers)
        names = [checked(recording, current, "layer", name) for name in names]
    if not names:
        raise ValueError("layers= is empty: name at least one layer, or pass 'all'")
    wanted = None if quantities is None else _names(quantities, "quantities")
    offered_all = {q: None for layer in names for q in layer_quantities(recording, layer)}
    unknown = [q for q in wanted or () if q not in offered_all]
    if unknown:  # a misspelt name among good ones is not dropped in silence
        raise ValueError(
            f"none of the layers chosen has the quantities {unknown}; they have: "
            + ", ".join(map(repr, offered_all))
        )
    taken = set(selectable_layers(recording))
    views: list[View] = []
    for layer in dict.fromkeys(names):  # each once, in the order given
        offered = layer_quantities(recording, layer)
        if wanted is None:
            # the quantity on screen where the layer has it, else the one the explorer would open
            picked = [fit_selection(recording, replace(current, layer=layer), frames.shape)]
        else:
            picked = [replace(current, layer=layer, quantity=q) for q in wanted if q in offered]
            picked = [fit_selection(recording, s, frames.shape) for s in picked]
        label = layer_label(layer, taken)
        views.extend(View(replace(s, index=0), label) for s in picked)
    return views


def recording_selection(recording: object, what: str, colour_range: str) -> Selection:
    """The selection ``nv.save_html`` / ``nv.save_gif`` (``what``) start from: the explorer's
    defaults in colour mode ``colour_range``; TypeError for anything but a Recording."""
    if not isinstance(recording, Recording):
        raise TypeError(
            f"{what} takes a Recording, not {type(recording).__name__} (for what an explorer "
            f"shows, call explorer.{what}(path))"
        )
    return Selection(colour_range=colour_range)


def choose_snapshots(
    recording: Recording | int, snapshots: int | Iterable[int] | slice | None
) -> list:
    """The snapshot positions to share among a recording's (or among ``recording`` many):
    every one (None), a slice or range of them, or a list (negative positions count from the
    end, as in Python). Sorted, each once."""
    count = recording if isinstance(recording, int) else len(recording)
    if snapshots is None:
        return list(range(count))
    if isinstance(snapshots, slice):
        return list(range(count))[snapshots] or _no_snapshots(snapshots, count)
    positions = [snapshots] if isinstance(snapshots, int | np.integer) else list(snapshots)
    chosen = set()
    for position in positions:
        if not isinstance(position, int | np.integer) or isinstance(position, bool):
            raise TypeError(f"snapshots= takes positions (integers), not {position!r}")
        if not -count <= position < count:
            raise ValueError(
                f"snapshot {position} is out of range: the recording has {count} snapshot(s) "
                f"(0 to {count - 1}, or -1 for the newest)"
            )
        chosen.add(int(position) % count)
    return sorted(chosen) or _no_snapshots(snapshots, count)


def _no_snapshots(snapshots: object, count: int) -> list:
    raise ValueError(f"snapshots={snapshots!r} chooses none of the {count} snapshots")


def _names(value: str | Iterable[str], what: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{what}= takes names (strings), got {value!r}")
    return names


def rendered(recording: Recording, frames: FrameCache, view: View, index: int) -> Rendered:
    """``view`` at snapshot ``index``, prepared as the explorer prepares it."""
    selection = view.selection.at(index)
    epoch = recording.snapshots[index]
    layer, quantity = selection.layer, selection.quantity
    reason = recording.missing_reason(layer, quantity, index)
    if reason is None:
        try:
            prepared = frames.prepare(selection)
        except FrameMissingError as error:  # thinned since it was asked about
            reason = str(error)
    if reason is not None:
        return Rendered(view, index, None, f"{view.name} \u00b7 epoch {epoch:g}", missing=reason)
    note = recording.note(layer, quantity)
    if prepared.full_shape is not None:
        kept = preview_note(prepared.full_shape, prepared.frame.shape)
        note = kept if note is None else f"{note}; {kept}"
    parts = [prepared.picture.layout, f"recorded as: {note}" if note else "", prepared.range_note]
    return Rendered(
        view,
        index,
        prepared,
        picture_title(view.label, quantity, epoch, prepared.reduced),
        note="; ".join(part for part in parts if part),
        missing="",
    )


def nonfinite_text(item: Rendered) -> str:
    """The NaN/Inf line of a rendered picture, as plain text (empty when all are finite)."""
    return strip_tags(item.prepared.nonfinite) if item.prepared is not None else ""


def snapshot_line(recording: Recording, index: int) -> str:
    """``epoch 3 · snapshot 4 of 10 · step 300``, as plain text: the explorer's epoch line."""
    line = epoch_line(
        recording.snapshots[index], index, len(recording), int(recording.snapshot_steps[index])
    )
    return html.unescape(strip_tags(line))


def positions_text(indices: Sequence[int]) -> str:
    """``0-9`` or ``0, 2, 4 and 3 more``: which snapshots, shortly."""
    if len(indices) > 1 and list(indices) == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}-{indices[-1]}"
    shown = ", ".join(map(str, indices[:5]))
    return shown + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")
