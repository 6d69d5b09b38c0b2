"""The catalog: the names a recording's index knows, kept in the manifest (``docs/format.md``).

A recording opened from its index (``index.bin``, :mod:`~nnviz_widgets.store.index`) is shown
before any of its log records is read, so the manifest names, in order of first appearance:
every frame key (with its newest note), every statistic and metric (the order of the values of
each snapshot in ``scalars.bin``), and every per-step series (the order of a block's columns in
``steps.bin``). Names are only ever added; an index row says how many of each it needs. The
writer rewrites the manifest whenever a snapshot or a block of steps brings a new name or note,
before committing it. Pure: no file is touched here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from nnviz_widgets.recording.types import SnapshotData
from nnviz_widgets.store.format import INDEX, SCALARS

__all__ = ["Catalog"]

Key = tuple[str, str]


class Catalog:
    """Frame keys (and notes), statistics, metrics and step series, in order of first appearance.

    Notes
    -----
    Not locked: the writer uses it under its own lock; a reader builds a new one from each
    manifest it reads.
    """

    def __init__(self) -> None:
        self.keys: dict[Key, str | None] = {}  # frame key: its newest note
        self.statistics: dict[Key, int] = {}  # name: its place in a snapshot's scalars
        self.metrics: dict[str, int] = {}
        self.steps: dict[Key, int] = {}  # name: its place in a block of steps

    def copy(self) -> Catalog:
        """A copy that later additions to this one leave as it is."""
        copied = Catalog()
        copied.keys, copied.statistics = dict(self.keys), dict(self.statistics)
        copied.metrics, copied.steps = dict(self.metrics), dict(self.steps)
        return copied

    # ------------------------------------------------------------------ writing
    def add_snapshot(self, data: SnapshotData) -> bool:
        """Learn a snapshot's keys, notes, statistics and metrics; whether anything was new."""
        before = (len(self.keys), len(self.statistics), len(self.metrics))
        changed = False
        # keys in the order a Recording lists them: frames, then missing ones (docs/format.md)
        for key in dict.fromkeys([*data.frames, *data.missing]):
            self.keys.setdefault((str(key[0]), str(key[1])), None)
        for key, note in data.notes.items():
            key = (str(key[0]), str(key[1]))
            # a note of a key no snapshot has could never be read (Recording.note checks the key)
            if key in self.keys and self.keys[key] != str(note):
                self.keys[key] = str(note)
                changed = True
        _learn(self.statistics, [(str(lay), str(name)) for lay, name in data.statistics])
        _learn(self.metrics, [str(name) for name in data.metrics])
        return changed or before != (len(self.keys), len(self.statistics), len(self.metrics))

    def add_steps(self, names: Iterable[Key]) -> bool:
        """Learn the names of per-step series; whether any was new."""
        before = len(self.steps)
        _learn(self.steps, [(str(lay), str(name)) for lay, name in names])
        return len(self.steps) != before

    def scalars(self, data: SnapshotData) -> np.ndarray:
        """A snapshot's scalars as ``scalars.bin`` holds them: every statistic known, then every
        metric known, float64 little-endian, NaN where the snapshot has none."""
        values = np.full(len(self.statistics) + len(self.metrics), math.nan, dtype="<f8")
        for (layer, name), value in data.statistics.items():
            values[self.statistics[(str(layer), str(name))]] = value
        offset = len(self.statistics)
        for name, value in data.metrics.items():
            values[offset + self.metrics[str(name)]] = value
        return values

    def step_block(self, steps: np.ndarray, series: Mapping[Key, np.ndarray]) -> np.ndarray:
        """The columns of a block of steps in ``steps.bin``: every series known, in order, NaN
        where ``series`` has none; shape ``(series known, steps)``, float64 little-endian."""
        block = np.full((len(self.steps), steps.size), math.nan, dtype="<f8")
        for (layer, name), values in series.items():
            block[self.steps[(str(layer), str(name))]] = values
        return block

    # ------------------------------------------------------------------ the manifest
    def to_json(self) -> dict[str, Any]:
        """The manifest's ``"index"`` entry. Names that are pairs are written in runs of one
        layer, ``[layer, name, name, ...]``, in order: half the text to parse at each open."""
        notes = [[*key, note] for key, note in self.keys.items() if note is not None]
        return {
            "file": INDEX,
            "scalars": SCALARS,
            "frames": _runs(self.keys),
            "notes": notes,
            "statistics": _runs(self.statistics),
            "metrics": list(self.metrics),
            "steps": _runs(self.steps),
        }

    @classmethod
    def from_json(cls, entry: Any) -> Catalog:
        """The catalog of a manifest's ``"index"`` entry; ValueError naming what is malformed."""
        if not isinstance(entry, dict):
            raise ValueError(f"'index' must be an object, got {type(entry).__name__}")
        catalog = cls()
        try:  # a long list of names is read at every open: one pass each
            catalog.keys = dict.fromkeys(_pairs(entry, "frames"))
            for layer, quantity, note in _list(entry, "notes"):
                if (layer, quantity) in catalog.keys:
                    catalog.keys[(layer, quantity)] = str(note)
            for field in ("statistics", "steps"):
                names = dict.fromkeys(_pairs(entry, field))
                setattr(catalog, field, dict(zip(names, range(len(names)), strict=True)))
            metrics = dict.fromkeys(str(name) for name in _list(entry, "metrics"))
        except (TypeError, ValueError) as error:
            raise ValueError(
                "'frames', 'statistics' and 'steps' must be lists of [layer, name, ...], "
                f"'notes' of [layer, quantity, note], 'metrics' of names ({error})"
            ) from error
        catalog.metrics = dict(zip(metrics, range(len(metrics)), strict=True))
        return catalog


def _runs(pairs: Iterable[Key]) -> list[list[str]]:
    """``(layer, name)`` pairs in order as runs of one layer: ``[[layer, name, ...], ...]``."""
    runs: list[list[str]] = []
    for layer, name in pairs:
        if runs and runs[-1][0] == layer:
            runs[-1].append(name)
        else:
            runs.append([layer, name])
    return runs


def _pairs(entry: dict, field: str) -> list[Key]:
    """The pairs written by :func:`_runs` in ``entry[field]``."""
    runs = _list(entry, field)
    if not all(isinstance(run, list) and run and isinstance(run[0], str) for run in runs):
        raise ValueError(f"{field!r} holds something other than [layer, name, ...]")
    return [(run[0], name) for run in runs for name in run[1:]]


def _learn(known: dict, names: list) -> None:
    for name in names:
        known.setdefault(name, len(known))


def _list(entry: dict, field: str) -> list:
    found = entry.get(field)
    if not isinstance(found, list):
        raise ValueError(f"{field!r} must be a list, got {type(found).__name__}")
    return found
