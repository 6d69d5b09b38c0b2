"""The runs a comparison shows: the user's dict checked and opened, their layers and epochs.

:func:`open_runs` turns ``{"name": source, ...}`` into named :class:`Source` values through the
explorer's own ``open_source`` (a Recording, a Recorder, a path, a framework callback). The
rest are pure functions of the opened Recordings: the layers every run has and what is missing
where (:func:`layer_agreement`), one epoch axis for all runs (:func:`run_epochs`) and the
snapshot each run shows at an epoch (:func:`at_or_before`) and why it has no frame there
(:func:`missing_reason`). No widget, no lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnviz_widgets.recording import INPUT, Recording
from nnviz_widgets.widgets.explorer.selection import layer_label, selectable_layers
from nnviz_widgets.widgets.explorer.source import Source, open_source

__all__ = [
    "LayerAgreement",
    "at_or_before",
    "layer_agreement",
    "missing_reason",
    "open_runs",
    "run_epochs",
]

#: Most layer names a message lists per run.
LISTED = 6


def open_runs(runs: Any) -> dict[str, Source]:
    """Check ``runs`` (a dict of run name to source) and open every source, in order.

    Raises TypeError for something other than a non-empty mapping with string keys, and for a
    source the explorer does not take (the message names the run). Sources opened before a
    failing one are closed again.
    """
    if not isinstance(runs, Mapping):
        raise TypeError(f"a comparison takes a dict of run name to source, got {type(runs)}")
    if not runs:
        raise ValueError(
            "nothing to compare: the dict is empty; pass two or more runs, e.g. "
            "TrainingExplorer({'lr=0.1': recording_a, 'lr=1.0': recording_b})"
        )
    for name in runs:
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"run names must be non-empty strings (they label the pictures and the "
                f"legend), got {name!r} of type {type(name).__name__}"
            )
    opened: dict[str, Source] = {}
    try:
        for name, source in runs.items():
            try:
                opened[name] = open_source(source, None, None, {}, train_epoch=None, epochs=None)
            except (TypeError, ValueError) as error:
                raise type(error)(f"run {name!r}: {error}") from error
    except BaseException:
        close_owned(opened)
        raise
    return opened


def close_owned(opened: Mapping[str, Source]) -> None:
    """Release what :func:`open_runs` opened itself: a Recorder made for a model (its hooks),
    a directory followed."""
    for source in opened.values():
        if source.owned and source.recorder is not None:
            source.recorder.close()
        elif source.owned:
            source.recording.close()


@dataclass(frozen=True)
class LayerAgreement:
    """Which layers the runs share, and which are missing where.

    Attributes
    ----------
    shared : tuple of str
        The layers every run with snapshots has something recorded for, in the first such
        run's order.
    missing : dict
        Run name -> the layers other runs have and it lacks (only runs that lack some).
    waiting : tuple of str
        Runs without a snapshot yet (left out of the comparison of layers).
    """

    shared: tuple[str, ...]
    missing: dict[str, tuple[str, ...]]
    waiting: tuple[str, ...]

    def note(self) -> str:
        """One line saying what is missing where ("" when the runs agree)."""
        parts = [f"{name!r} has no {_names(layers)}" for name, layers in self.missing.items()]
        if not parts:
            return ""
        return "layers not in every run (not offered): " + "; ".join(parts)


def layer_agreement(recordings: Mapping[str, Recording]) -> LayerAgreement:
    """The layers the runs share, and what each lacks; ValueError when they share none.

    Runs without snapshots yet are left out (a live run declares its layers later).
    """
    layers = {
        name: selectable_layers(recording)
        for name, recording in recordings.items()
        if len(recording)
    }
    waiting = tuple(name for name in recordings if name not in layers)
    if not layers:
        return LayerAgreement((), {}, waiting)
    everyone = set.intersection(*(set(found) for found in layers.values()))
    union: list[str] = []
    for found in layers.values():
        union += [layer for layer in found if layer not in union]
    shared = tuple(layer for layer in union if layer in everyone)
    missing = {
        name: tuple(layer for layer in union if layer not in found)
        for name, found in layers.items()
        if set(found) != set(union)
    }
    if not set(shared) - {INPUT}:  # the probe input alone is no architecture in common
        described = "; ".join(f"{name!r}: {_names(found)}" for name, found in layers.items())
        raise ValueError(
            "these runs share no layer, so there is nothing to compare (a comparison is of "
            f"runs of the same architecture); their layers: {described}"
        )
    return LayerAgreement(shared, missing, waiting)


def _names(layers: Any) -> str:
    """``'fc', 'conv1' and 3 more``: at most :data:`LISTED` layers, by the names a person sees."""
    labels = [repr(layer_label(layer)) for layer in layers]
    shown = ", ".join(labels[:LISTED])
    return shown + (f" and {len(labels) - LISTED} more" if len(labels) > LISTED else "")


def run_epochs(recordings: Mapping[str, Recording]) -> np.ndarray:
    """Every epoch any run has a snapshot at, sorted and distinct: the comparison's slider."""
    epochs = [
        np.asarray(recording.snapshots, dtype=np.float64) for recording in recordings.values()
    ]
    if not epochs:
        return np.zeros(0)
    return np.unique(np.concatenate(epochs))


def at_or_before(recording: Recording, epoch: float) -> int | None:
    """The snapshot ``recording`` shows at ``epoch``: its last one at or before it (the newest
    such one when epochs repeat), None when it has none that early."""
    epochs = np.asarray(recording.snapshots, dtype=np.float64)
    before = np.flatnonzero(epochs <= epoch)
    if not before.size:
        return None
    # the latest epoch among them (epochs need not grow), the newest snapshot of that epoch
    latest = epochs[before].max()
    return int(before[epochs[before] == latest][-1])


def missing_reason(recording: Recording, layer: str, quantity: str, index: int) -> str | None:
    """Why a run has no frame of ``layer``'s ``quantity`` at ``index`` (None: it has one)."""
    try:
        if quantity not in recording.quantities(layer):
            return f"no {quantity} recorded for this layer"
    except KeyError:
        return "no such layer in this run"
    return recording.missing_reason(layer, quantity, index)
