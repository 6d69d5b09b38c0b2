"""The index of the log (``index.bin``): one fixed-size row per committed record, made and read.

A row says where its record lies in ``log.jsonl`` and what a reader must know of it before
reading it: a snapshot's epoch, step, place in the run, whether it was thinned, and where its
scalars lie in ``scalars.bin``; a block of steps' place in ``steps.bin``. The writer appends a
row after the record's log line is committed; a reader reads every row in one call, checks them
(a check word per row, computed for all rows at once) and plans which records it takes from the
index and which parts of the log it must still parse: a record whose row is missing, damaged or
not written yet is read from the log as a recording without an index is (``docs/format.md``,
"index.bin"). Pure: no file is touched here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnviz_widgets.store.catalog import Catalog

__all__ = [
    "MAX_METRICS",
    "ROW",
    "SNAPSHOT",
    "STEPS",
    "THINNED",
    "Plan",
    "check_rows",
    "plan",
    "snapshot_row",
    "steps_row",
    "usable_rows",
]

#: One row: eight 64-bit little-endian words (``docs/format.md`` has each field's meaning by kind).
ROW = np.dtype(
    [
        ("kind", "u1"),
        ("flags", "u1"),
        ("metrics", "<u2"),
        ("names", "<u4"),
        ("log_offset", "<u8"),
        ("log_length", "<u4"),
        ("count", "<u4"),
        ("epoch", "<f8"),
        ("step", "<i8"),
        ("data_offset", "<u8"),
        ("statistics", "<u4"),
        ("crc32", "<u4"),
        ("check", "<u8"),
    ]
)
assert ROW.itemsize == 64

SNAPSHOT, STEPS = 1, 2  # kinds of row
THINNED = 1  # flag: the snapshot's frames were dropped for memory before it was saved
MAX_METRICS = 2**16 - 1  # what a row's count of metrics can say
# The check word: the sum, modulo 2**64, of the seven words before it, word i times 2i + 1, plus
# a constant (so that a row of zeros fails). Any change to one word changes it (an odd factor
# is invertible modulo 2**64), and it is computed for every row at once: a CRC per row would
# cost more than the rest of opening
_FACTORS = np.arange(1, 15, 2, dtype=np.uint64)
_OFFSET = np.uint64(0x6E6E76697A)  # "nnviz"


def _checks(words: np.ndarray) -> np.ndarray:
    """The check word of each row of ``words`` (rows of eight uint64; the last is ignored)."""
    with np.errstate(over="ignore"):
        return (words[:, :7] * _FACTORS).sum(axis=1, dtype=np.uint64) + _OFFSET


def _row(**fields: object) -> bytes:
    row = np.zeros(1, dtype=ROW)
    for name, value in fields.items():
        row[name] = value
    row["check"] = _checks(row.view("<u8").reshape(1, 8))
    return row.tobytes()


def snapshot_row(
    *,
    log_offset: int,
    log_length: int,
    index: int,
    epoch: float,
    step: int,
    thinned: bool,
    catalog: Catalog,
    scalars_offset: int,
    crc32: int,
) -> bytes:
    """The row of a snapshot record, its scalars written at ``scalars_offset`` of
    ``scalars.bin`` with every statistic and metric ``catalog`` knows."""
    return _row(
        kind=SNAPSHOT,
        flags=THINNED if thinned else 0,
        names=len(catalog.keys),
        log_offset=log_offset,
        log_length=log_length,
        count=index,
        epoch=epoch,
        step=step,
        data_offset=scalars_offset,
        statistics=len(catalog.statistics),
        metrics=len(catalog.metrics),
        crc32=crc32,
    )


def steps_row(
    *, log_offset: int, log_length: int, rows: int, columns: int, offset: int, crc32: int
) -> bytes:
    """The row of a block of ``rows`` steps and ``columns`` series at ``offset`` of
    ``steps.bin``."""
    return _row(
        kind=STEPS,
        names=columns,
        log_offset=log_offset,
        log_length=log_length,
        count=rows,
        data_offset=offset,
        crc32=crc32,
    )


def check_rows(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The whole rows in ``data``, and whether each is sound: its check word matches, its kind
    is known, its log line not empty, its data 8-byte aligned."""
    count = len(data) // ROW.itemsize
    rows = np.frombuffer(data, dtype=ROW, count=count)
    words = np.frombuffer(data, dtype="<u8", count=count * 8).reshape(count, 8)
    sound = (
        (_checks(words) == rows["check"])
        & ((rows["kind"] == SNAPSHOT) | (rows["kind"] == STEPS))
        & (rows["log_length"] > 0)
        & (rows["data_offset"] % 8 == 0)
    )
    return rows, sound


def usable_rows(
    rows: np.ndarray, sound: np.ndarray, catalog: Catalog, scalars_size: int, steps_size: int
) -> np.ndarray:
    """Which sound rows can be taken from the index: the catalog names all they need, and their
    scalars or block lie within the files' sizes (each count bounded first, so that no sum
    overflows)."""
    snapshot, steps = rows["kind"] == SNAPSHOT, rows["kind"] == STEPS
    # a u8 past 2**62 would be negative as int64; counts past the file could overflow a product
    bounded = (rows["data_offset"] < 2**62) & (rows["log_offset"] < 2**62)
    bounded &= ~steps | (rows["count"].astype(np.int64) <= steps_size // 8)
    data = rows["data_offset"].astype(np.int64)
    scalars_end = data + 8 * (rows["statistics"].astype(np.int64) + rows["metrics"])
    block_end = data + 8 * rows["count"].astype(np.int64) * (1 + rows["names"].astype(np.int64))
    known = np.where(
        snapshot,
        (rows["names"] <= len(catalog.keys))
        & (rows["statistics"] <= len(catalog.statistics))
        & (rows["metrics"] <= len(catalog.metrics))
        & (scalars_end <= scalars_size),
        steps & (rows["names"] <= len(catalog.steps)) & (block_end <= steps_size),
    )
    return sound & bounded & known


@dataclass
class Plan:
    """What a reader takes from the index and from the log, in the log's order.

    ``segments`` holds ``("rows", positions)``: rows (a slice, or positions, of the array
    planned) whose records lie end to end in the log; and ``("log", start, end)``: bytes of the
    log to parse (records without a usable row; the last segment may end in a line still being
    written). ``rows_read`` is how many rows of the array were taken or skipped (a later look
    starts after them).
    """

    segments: list[tuple]
    rows_read: int


def plan(rows: np.ndarray, usable: np.ndarray, consumed: int, log_size: int) -> Plan:
    """Plan reading the log from byte ``consumed`` (where the previous look ended) to
    ``log_size``, taking the records of ``usable`` rows from the index.

    Rows of records before ``consumed`` (read from the log before their row was written) are
    skipped; a row whose record ends past ``log_size`` (written after the log was looked at)
    and the rows after it wait for the next look; rows that overlap the ones before them are
    not trusted.
    """
    starts = rows["log_offset"].astype(np.int64)
    ends = starts + rows["log_length"]
    late = np.flatnonzero(usable & (ends > log_size))
    stop = int(late[0]) if late.size else len(rows)
    taken = np.flatnonzero(usable[:stop])
    rows_read = int(taken[-1]) + 1 if taken.size else 0
    if late.size:
        rows_read = stop  # the rows before a late one are all read
    taken = taken[starts[taken] >= consumed]
    if taken.size:
        reached = np.maximum.accumulate(np.concatenate(([consumed], ends[taken][:-1])))
        taken = taken[starts[taken] >= reached]
    segments: list[tuple] = []
    position = consumed
    if taken.size:
        # a new run wherever a record does not start where the one before ended
        breaks = np.flatnonzero(starts[taken][1:] != ends[taken][:-1]) + 1
        for run in np.split(taken, breaks):
            if starts[run[0]] > position:
                segments.append(("log", position, int(starts[run[0]])))
            rows_taken = slice(run[0], run[-1] + 1) if run[-1] - run[0] + 1 == run.size else run
            segments.append(("rows", rows_taken))
            position = int(ends[run[-1]])
    if position < log_size:
        segments.append(("log", position, log_size))
    return Plan(segments, rows_read)
