"""The log's records (``log.jsonl``), made from a snapshot and read back into one.

Each committed snapshot and each block of step series is one JSON line of the log
(``docs/format.md``, "log.jsonl"). The functions here turn a :class:`SnapshotData` into its
record and back, and decode the step series a record commits; they touch no file, so the writer
and the reader keep the file work and the warnings.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import HISTOGRAM_BINS, SnapshotData
from nnviz_widgets.store import fields
from nnviz_widgets.store.format import Stamp, encode_float, loads
from nnviz_widgets.store.stored_frame import StoredFrame

__all__ = [
    "decode_snapshot",
    "decode_steps",
    "frame_label",
    "merge_step_blocks",
    "parse_lines",
    "snapshot_record",
    "step_span",
    "steps_record",
]

Key = tuple[str, str]
_BINS = (HISTOGRAM_BINS,)
#: The most steps one block of step series may hold (a block is a few hundred at most).
MAX_STEP_ROWS = 1 << 32


def frame_label(key: Key, index: int, epoch: float) -> str:
    """A frame in words, for the messages of a :class:`StoredFrame` that cannot be read."""
    return f"{key[1]!r} of layer {key[0]!r} at snapshot {index} (epoch {epoch:g})"


# ---------------------------------------------------------------------------------------- writing
def snapshot_record(
    index: int,
    file: str,
    data: SnapshotData,
    arrays: dict[str, list],
    *,
    thinned: bool,
    lost: range,
) -> dict:
    """The log record of snapshot ``index``, stored in ``file`` (relative to the directory).

    ``arrays`` lists what the file holds: ``"frames"``, ``[layer, quantity, array name, shape]``
    for each tensor at full size (or a frame kept whole); ``"previews"``, ``[layer, quantity,
    array name, shape, full shape]`` for each block-mean preview; ``"histograms"``, ``[layer,
    quantity, array name]``. ``lost`` the run's snapshots before this one that were never
    written.
    """
    frames = arrays["frames"]
    record = {
        "kind": "snapshot",
        "index": int(index),
        "file": file,
        "epoch": encode_float(data.epoch),
        "step": int(data.step),
        "frames": frames,
        "missing": [[lay, q, str(r)] for (lay, q), r in data.missing.items()],
        "statistics": [[lay, n, encode_float(v)] for (lay, n), v in data.statistics.items()],
        "metrics": {str(k): encode_float(v) for k, v in data.metrics.items()},
        "notes": [[lay, q, str(t)] for (lay, q), t in data.notes.items()],
        # the order quantities were given in, missing ones included
        "order": [[lay, q] for lay, q in dict.fromkeys([*data.frames, *data.missing])],
    }
    for kind in ("previews", "histograms"):  # only where there are some: older readers
        if arrays.get(kind):  # read the frames alone
            record[kind] = arrays[kind]
    if thinned:
        record["thinned"] = True
    if lost:
        record["lost"] = list(lost)
    return record


def steps_record(offset: int, rows: int, columns: list[Key], payload: bytes) -> dict:
    """The log record of a block of step series written at ``offset`` of the step file."""
    return {
        "kind": "steps",
        "offset": offset,
        "rows": rows,
        "columns": [[str(lay), str(n)] for lay, n in columns],
        "crc32": zlib.crc32(payload),
    }


# ---------------------------------------------------------------------------------------- reading
def parse_lines(data: bytes) -> tuple[list[dict], list[int], list[tuple[int, ValueError]]]:
    """The records in complete log lines, the line of each, and ``(line, error)`` for each
    damaged line (skipped); lines count from 1. Lines are split at ``\\n`` only: a record's
    text may hold any other character ``str.splitlines`` would split at."""
    lines = data.decode("utf-8", errors="replace").split("\n")[:-1]  # data ends at a newline
    try:  # one call for the whole batch is several times faster than one per line
        records = loads("[" + ",".join(lines) + "]")
        if len(records) == len(lines) and all(isinstance(record, dict) for record in records):
            return records, list(range(1, len(records) + 1)), []
    except ValueError:
        pass
    records, numbers, problems = [], [], []
    for number, line in enumerate(lines, 1):
        try:
            record = loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            records.append(record)
            numbers.append(number)
        except ValueError as error:
            problems.append((number, error))
    return records, numbers, problems


def decode_snapshot(
    record: dict,
    target: Path,
    damage: str | None,
    index: int,
    check_layer: Callable[[str], None],
    *,
    scalars: bool = True,
    stamp: Stamp | None = None,
) -> SnapshotData:
    """Snapshot ``index`` of the opened recording from its record; its frames stay on disk.

    ``target`` is the snapshot's file (``stamp`` its stamp when checked), ``damage`` what is
    wrong with it (its frames are then missing, with that reason); ``check_layer(layer)`` raises
    ValueError for an unknown layer. Without ``scalars``, its statistics, metrics and notes are
    left out (the index has them). A malformed record raises ValueError saying which field is
    wrong: every value is checked (:mod:`~nnviz_widgets.store.fields`) before it is used.
    """
    epoch = fields.number(record.get("epoch"), "'epoch'")
    data = SnapshotData(
        epoch=epoch,
        step=fields.step(record.get("step"), "'step'"),
        thinned=fields.flag(record.get("thinned"), "'thinned'"),
    )
    listed, previews, histograms, missing, order = _lists(record, check_layer)
    where = f" at snapshot {index} (epoch {epoch:g})"  # frame_label, made once
    reason = f"its file {target} is {damage}"
    for layer, quantity, name, shape in listed:
        key = (layer, quantity)
        if damage:
            data.missing[key] = reason
            continue
        frame = StoredFrame(target, name, shape, f"{quantity!r} of layer {layer!r}{where}", stamp)
        table = data.full if key in previews else data.frames  # a preview's tensor: beside it
        table[key] = frame
    for key, (name, shape, full) in previews.items():
        label = f"{key[1]!r} of layer {key[0]!r}{where} (its preview)"
        if damage:
            data.missing[key] = reason
        else:
            data.frames[key] = StoredFrame(target, name, shape, label, stamp)
            data.reduced[key] = full
    for layer, quantity, name in histograms if not damage else []:
        label = f"{quantity!r} of layer {layer!r}{where} (its histogram)"
        data.histograms[(layer, quantity)] = StoredFrame(target, name, _BINS, label, stamp)
    data.missing.update(((layer, quantity), text) for layer, quantity, text in missing)
    if order is not None:  # restore the order the quantities were recorded in
        data.frames = {key: data.frames.get(key) for key in order}
    if scalars:
        _decode_scalars(record, data)
    return data


def _decode_scalars(record: dict, data: SnapshotData) -> None:
    """A snapshot record's statistics, metrics and notes, checked, into ``data``."""
    text, number = fields.text, fields.number
    statistics = fields.entries(record, "statistics", (text, text, number), optional=False)
    data.statistics = {(layer, name): value for layer, name, value in statistics}
    data.metrics = fields.mapping(record, "metrics", number)
    notes = fields.entries(record, "notes", (text, text, text), optional=False)
    data.notes = {(layer, quantity): note for layer, quantity, note in notes}


def _lists(record: dict, check_layer: Callable[[str], None]) -> tuple:
    """A snapshot record's frames, previews (by key), histograms, missing frames and order
    (None if it has none), checked, their layers declared."""
    text, shape = fields.text, fields.shape
    listed = fields.entries(record, "frames", (text, text, text, shape), optional=False)
    previews = {
        (layer, quantity): (name, preview, full)
        for layer, quantity, name, preview, full in fields.entries(
            record, "previews", (text, text, text, shape, shape), optional=True
        )
    }
    histograms = fields.entries(record, "histograms", (text, text, text), optional=True)
    missing = fields.entries(record, "missing", (text, text, text), optional=False)
    order = fields.entries(record, "order", (text, text), optional=True)
    for table in (listed, previews, histograms, missing, order):
        for layer in {entry[0] for entry in table}:  # each layer once
            check_layer(layer)
    return listed, previews, histograms, missing, (order if "order" in record else None)


def _block(record: dict) -> tuple[int, int, list[Key], int]:
    """``(offset, rows, columns, crc32)`` of a steps record, checked; ValueError otherwise."""
    offset = fields.integer(record.get("offset"), "'offset'")
    rows = fields.integer(record.get("rows"), "'rows'", high=MAX_STEP_ROWS)
    columns = fields.entries(record, "columns", (fields.text, fields.text), optional=False)
    crc32 = fields.integer(record.get("crc32"), "'crc32'", high=0xFFFFFFFF)
    return offset, rows, columns, crc32


def step_span(records: list[dict]) -> tuple[int, int] | None:
    """The bytes of the step file these records commit, as ``(start, end)``; None if none."""
    spans = []
    for record in records:
        if record.get("kind") == "steps":
            try:
                offset, rows, columns, _ = _block(record)
            except ValueError:
                continue  # reported when the block is decoded
            spans.append((offset, offset + 8 * rows * (1 + len(columns))))
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def decode_steps(
    record: dict, base: int, buffer: bytes, where: Path
) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
    """The steps and series a steps record commits, from ``buffer`` (step file bytes from
    ``base``); ``where`` names the step file. ValueError if malformed or damaged."""
    offset, rows, columns, crc32 = _block(record)
    start = offset - base
    length = rows * 8 * (1 + len(columns))
    payload = buffer[start : start + length] if start >= 0 else b""
    if len(payload) != length or zlib.crc32(payload) != crc32:
        raise ValueError(f"{where} is truncated or damaged at byte {offset}")
    steps = np.frombuffer(payload, dtype="<i8", count=rows).astype(np.int64)
    block = np.frombuffer(payload, dtype="<f8", offset=rows * 8).reshape(len(columns), rows)
    return steps, {key: block[i] for i, key in enumerate(columns)}


def merge_step_blocks(
    blocks: list[tuple[np.ndarray, Mapping[Key, np.ndarray]]],
) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
    """Blocks of step series as one: the steps end to end, each series NaN where absent."""
    steps = np.concatenate([b[0] for b in blocks])
    keys: dict[Key, None] = {}
    for _, series in blocks:
        keys.update(dict.fromkeys(series))
    columns = {key: np.full(steps.size, np.nan) for key in keys}
    start = 0
    for block_steps, series in blocks:
        for key, values in series.items():
            columns[key][start : start + block_steps.size] = values
        start += block_steps.size
    return steps, columns
