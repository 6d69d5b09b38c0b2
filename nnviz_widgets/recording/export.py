"""A Recording's numbers out, for pandas, a spreadsheet or another plotting library.

:func:`snapshot_columns` and :func:`step_columns` gather every scalar a Recording holds into
named columns, :func:`write_npz` and :func:`write_csv` write them (``Recording.to_npz`` and
``Recording.to_csv``). Column names, one per line of a table:

- per snapshot: ``epoch``, ``step``, ``metric/<name>``, ``statistic/<layer>/<name>``
  (the model's own parameters are the layer ``""``: ``statistic//grad_norm``);
- per step: ``step``, ``step/<layer>/<name>``.

A Recording still being recorded is read up to the snapshots (and steps) it held when the
export began, so every column has the same length. Numpy's ``.npz`` holds no pickle here
(every array is numeric); frames go in only when asked for, one array per (layer, quantity)
with a row per snapshot.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from nnviz_widgets.recording.types import FrameMissingError

#: a :class:`~nnviz_widgets.Recording`; not imported: ``recording.py`` imports this module
Recording = Any

__all__ = ["snapshot_columns", "step_columns", "write_csv", "write_npz"]


def snapshot_columns(recording: Recording) -> dict[str, np.ndarray]:
    """Every per-snapshot scalar: epoch, step, metrics and statistics, one row per snapshot."""
    n = len(recording)
    columns = {
        "epoch": np.asarray(recording.snapshots[:n], dtype=np.float64),
        "step": recording.snapshot_steps[:n],
    }
    for name in recording.metric_names:
        columns[f"metric/{name}"] = recording.metric(name)[:n]
    for layer in recording.layers:
        for name in recording.statistics(layer):
            columns[f"statistic/{layer}/{name}"] = recording.statistic(layer, name)[:n]
    return columns


def step_columns(recording: Recording) -> dict[str, np.ndarray]:
    """Every per-step series, one row per step with statistics."""
    steps = recording.steps
    n = len(steps)
    columns = {"step": steps}
    for layer in recording.layers:
        for name in recording.step_statistics(layer):
            columns[f"step/{layer}/{name}"] = recording.step_series(layer, name)[:n]
    return columns


def _frames(recording: Recording, n: int, layer: str, quantity: str) -> np.ndarray:
    """One (layer, quantity)'s frames stacked, a row per snapshot; NaN where one is missing."""
    stacked = None
    for i in range(n):
        try:
            frame = recording.frame(layer, quantity, i)
        except FrameMissingError:
            continue
        if stacked is None:
            stacked = np.full((n, *frame.shape), np.nan, dtype=np.float32)
        if frame.shape != stacked.shape[1:]:
            raise ValueError(
                f"{quantity!r} of layer {layer!r} changes shape between snapshots "
                f"({stacked.shape[1:]} and {frame.shape} at snapshot {i}); export it per snapshot"
            )
        stacked[i] = frame
    if stacked is None:
        raise FrameMissingError(f"{quantity!r} of layer {layer!r} is missing at every snapshot")
    return stacked


def write_npz(
    recording: Recording,
    path: str | os.PathLike,
    frames: Iterable[tuple[str, str]] = (),
) -> None:
    """Write every scalar (and the frames asked for) to one ``.npz`` file."""
    arrays = {f"snapshots/{k}": v for k, v in snapshot_columns(recording).items()}
    arrays.update({f"steps/{k}": v for k, v in step_columns(recording).items()})
    n = len(arrays["snapshots/epoch"])
    for pair in frames:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TypeError(f"frames must list (layer, quantity) pairs, got {pair!r}")
        layer, quantity = pair
        recording.quantities(layer)  # an unknown layer raises KeyError naming the known ones
        arrays[f"frames/{layer}/{quantity}"] = _frames(recording, n, layer, quantity)
    with open(path, "wb") as file:  # a file object: numpy adds no ".npz" to the name
        np.savez(file, **arrays)


def write_csv(recording: Recording, path: str | os.PathLike, *, per: str = "snapshot") -> None:
    """Write the per-snapshot (``per="snapshot"``) or per-step (``per="step"``) table."""
    if per not in ("snapshot", "step"):
        raise ValueError(f'per must be "snapshot" or "step", got {per!r}')
    columns = snapshot_columns(recording) if per == "snapshot" else step_columns(recording)
    names = list(columns)
    rows = len(next(iter(columns.values())))
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        for i in range(rows):
            writer.writerow([_cell(columns[name][i]) for name in names])


def _cell(value: object) -> str:
    """A number as CSV text: integers as they are, floats to 9 significant digits (enough to
    read a float32 back exactly), NaN and Inf as ``nan``, ``inf``, ``-inf``."""
    if isinstance(value, np.integer | int):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.9g}"
