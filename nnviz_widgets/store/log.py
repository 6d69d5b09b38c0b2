"""The log's records (``log.jsonl``), made from a snapshot and read back into one.

Each committed snapshot and each block of step series is one JSON line of the log
(``docs/format.md``, "log.jsonl"). The functions here turn a :class:`SnapshotData` into its
record and back, and decode the step series a record commits; they touch no file, so the writer
and the reader keep the file work and the warnings.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from nnviz_widgets.recording.types import HISTOGRAM_BINS, SnapshotData
from nnviz_widgets.store.format import decode_float, encode_float
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
def parse_lines(data: bytes) -> tuple[list[dict], list[tuple[int, ValueError]]]:
    """The records in complete log lines, and ``(line number, error)`` for each damaged line
    (skipped); lines count from 1."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    try:
        # one call for the whole batch is several times faster than one per line
        records = json.loads("[" + ",".join(lines) + "]")
        if all(isinstance(record, dict) for record in records):
            return records, []
    except ValueError:
        pass
    records, problems = [], []
    for number, line in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            records.append(record)
        except ValueError as error:
            problems.append((number + 1, error))
    return records, problems


def decode_snapshot(
    record: dict,
    target: Path,
    damage: str | None,
    index: int,
    check_layer: Callable[[str], None],
    *,
    scalars: bool = True,
) -> SnapshotData:
    """Snapshot ``index`` of the opened recording from its record; its frames stay on disk.

    ``target`` is the snapshot's file, ``damage`` what is wrong with it (its frames are then
    missing, with that reason); ``check_layer(layer)`` raises ValueError for an unknown layer.
    Without ``scalars``, its statistics, metrics and notes are left out (the index has them).
    A malformed record raises KeyError, TypeError or ValueError.
    """
    epoch = decode_float(record["epoch"])
    data = SnapshotData(epoch=epoch, step=int(record["step"]), thinned=bool(record.get("thinned")))
    where = f" at snapshot {index} (epoch {epoch:g})"  # frame_label, made once
    previews = {
        (lay, q): (name, shape, full) for lay, q, name, shape, full in record.get("previews", [])
    }
    for layer, quantity, name, shape in record["frames"]:
        check_layer(layer)
        key = (layer, quantity)
        if damage:
            data.missing[key] = f"its file {target} is {damage}"
            continue
        frame = StoredFrame(
            target, str(name), tuple(shape), f"{quantity!r} of layer {layer!r}{where}"
        )
        if key in previews:  # the tensor whose preview is the frame
            data.full[key] = frame
        else:
            data.frames[key] = frame
    for key, (name, shape, full) in previews.items():
        check_layer(key[0])
        if damage:
            data.missing[key] = f"its file {target} is {damage}"
            continue
        label = f"{key[1]!r} of layer {key[0]!r}{where} (its preview)"
        data.frames[key] = StoredFrame(target, str(name), tuple(shape), label)
        data.reduced[key] = tuple(int(n) for n in full)
    for layer, quantity, name in record.get("histograms", []) if not damage else []:
        label = f"{quantity!r} of layer {layer!r}{where} (its histogram)"
        data.histograms[(layer, quantity)] = StoredFrame(target, str(name), _BINS, label)
    for layer, quantity, reason in record["missing"]:
        check_layer(layer)
        data.missing[(layer, quantity)] = str(reason)
    if "order" in record:  # restore the order the quantities were recorded in
        data.frames = {(lay, q): data.frames.get((lay, q)) for lay, q in record["order"]}
    if not scalars:
        return data
    for layer, name, value in record["statistics"]:
        data.statistics[(layer, name)] = decode_float(value)
    data.metrics = {str(k): decode_float(v) for k, v in record["metrics"].items()}
    for layer, quantity, text in record["notes"]:
        data.notes[(layer, quantity)] = str(text)
    return data


def step_span(records: list[dict]) -> tuple[int, int] | None:
    """The bytes of the step file these records commit, as ``(start, end)``; None if none."""
    spans = []
    for record in records:
        if record.get("kind") == "steps":
            try:
                length = 8 * int(record["rows"]) * (1 + len(record["columns"]))
                spans.append((int(record["offset"]), int(record["offset"]) + length))
            except (KeyError, TypeError, ValueError):
                continue  # reported when the block is decoded
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def decode_steps(
    record: dict, base: int, buffer: bytes, where: Path
) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
    """The steps and series a steps record commits, from ``buffer`` (step file bytes from
    ``base``); ``where`` names the step file. KeyError, TypeError or ValueError if malformed."""
    rows = int(record["rows"])
    columns = [(str(lay), str(n)) for lay, n in record["columns"]]
    offset = int(record["offset"]) - base
    length = rows * 8 * (1 + len(columns))
    payload = buffer[offset : offset + length]
    if len(payload) != length or zlib.crc32(payload) != record["crc32"]:
        raise ValueError(f"{where} is truncated or damaged at byte {record['offset']}")
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
