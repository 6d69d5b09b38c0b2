"""Values read from a recording checked by type and range before anything is made of them.

A recording may come from a stranger, and one bad record must cost that record only
(``docs/format.md``, "Reading and following"): every value the reader takes from the log, the
manifest or the index goes through one of these, which return it as the type the reader uses or
raise ValueError saying which field is wrong and what was expected. Nothing here recurses into a
value, so deep nesting is refused at the first level that should have been flat. Pure: no file
is touched here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from nnviz_widgets.store.archive import MAX_MEMBER_BYTES
from nnviz_widgets.store.format import decode_float

__all__ = [
    "MAX_COUNT",
    "MAX_DIMENSIONS",
    "entries",
    "flag",
    "integer",
    "integers",
    "mapping",
    "number",
    "shape",
    "step",
    "text",
]

#: The largest count, offset or size the reader takes from a file: 2**53, where float64 and
#: int64 agree, and far past any file's size.
MAX_COUNT = 1 << 53
#: The most dimensions a frame may have (numpy allows 64).
MAX_DIMENSIONS = 32
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _got(value: Any) -> str:
    shown = repr(value) if isinstance(value, int | float | str | bool | None) else ""
    return f"{type(value).__name__} {shown[:40]}".rstrip()


def integer(value: Any, what: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """``value`` as an int from ``low`` to ``high``; ValueError naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be an integer from {low} to {high}, got {_got(value)}")
    return value


def integers(value: Any, what: str) -> list[int]:
    """``value``, a list of integers from 0 to :data:`MAX_COUNT`."""
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list of integers, got {_got(value)}")
    return [integer(n, f"an entry of {what}") for n in value]


def step(value: Any, what: str) -> int:
    """``value`` as a step count (any int64)."""
    return integer(value, what, *_INT64)


def number(value: Any, what: str) -> float:
    """``value`` as a float: a number, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{what} must be a number, got {_got(value)}")
    try:
        return decode_float(value)
    except (ValueError, OverflowError) as error:  # an int too large for a float
        raise ValueError(f"{what} must be a number ({error})") from None


def text(value: Any, what: str) -> str:
    """``value``, which must be a string."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {_got(value)}")
    return value


def flag(value: Any, what: str) -> bool:
    """``value``, which must be true, false or absent (None)."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {_got(value)}")
    return bool(value)


def shape(value: Any, what: str) -> tuple[int, ...]:
    """A frame's shape: at most :data:`MAX_DIMENSIONS` sizes whose float32 array would not
    pass :data:`~nnviz_widgets.store.archive.MAX_MEMBER_BYTES`."""
    if not isinstance(value, list) or len(value) > MAX_DIMENSIONS:
        raise ValueError(f"{what} must be a list of at most {MAX_DIMENSIONS} sizes")
    sizes = tuple(integer(n, f"a size in {what}") for n in value)
    if 4 * math.prod(sizes) > MAX_MEMBER_BYTES:
        raise ValueError(f"{what} declares {sizes}, larger than a recording's array may be")
    return sizes


def entries(
    record: dict, field: str, kinds: tuple[Callable[[Any, str], Any], ...], *, optional: bool
) -> list[tuple]:
    """``record[field]``: a list of lists of ``len(kinds)`` values, each converted by its kind;
    an absent field is an empty list where ``optional``.

    A snapshot's record lists hundreds of frames and is decoded when first asked about: the
    values are checked a column at a time (:func:`_column`), and one at a time only to say
    which is wrong.
    """
    found = record.get(field)
    if found is None and optional:
        return []
    # set(map(type, ...)) checks a whole column in C: several times faster than a loop
    if (
        type(found) is list
        and set(map(type, found)) <= {list}
        and set(map(len, found)) <= {len(kinds)}
    ):
        columns = [_column(kind, [entry[i] for entry in found]) for i, kind in enumerate(kinds)]
        if all(column is not None for column in columns):
            return list(zip(*columns)) if found else []
    return _entries_one_by_one(found, field, kinds)


def _column(kind: Callable[[Any, str], Any], values: list) -> list | None:
    """``values`` converted by ``kind`` when all are right, checked together; None otherwise
    (or for a kind without a column check)."""
    types = set(map(type, values))
    if kind is text:
        return values if types <= {str} else None
    if kind is number:
        try:  # float() of an int too large for a float raises OverflowError
            return list(map(float, values)) if types <= {float, int} else None
        except OverflowError:
            return None
    if kind is shape:
        if not types <= {list} or max(map(len, values), default=0) > MAX_DIMENSIONS:
            return None
        sizes = list(itertools.chain.from_iterable(values))
        if not set(map(type, sizes)) <= {int} or min(sizes, default=0) < 0:
            return None
        if 4 * max(map(math.prod, values), default=0) > MAX_MEMBER_BYTES:
            return None
        return list(map(tuple, values))
    return None


def _entries_one_by_one(
    found: Any, field: str, kinds: tuple[Callable[[Any, str], Any], ...]
) -> list[tuple]:
    if not isinstance(found, list):
        raise ValueError(f"{field!r} must be a list, got {_got(found)}")
    converted = []
    for number_, entry in enumerate(found):
        what = f"entry {number_} of {field!r}"
        if not isinstance(entry, list) or len(entry) != len(kinds):
            raise ValueError(f"{what} must be a list of {len(kinds)} values, got {_got(entry)}")
        converted.append(tuple(kind(value, what) for kind, value in zip(kinds, entry)))
    return converted


def mapping(record: dict, field: str, kind: Callable[[Any, str], Any]) -> dict[str, Any]:
    """``record[field]``: an object whose values are converted by ``kind``."""
    found = record.get(field)
    if not isinstance(found, dict):
        raise ValueError(f"{field!r} must be an object, got {_got(found)}")
    return {name: kind(value, f"{field!r} {name!r}") for name, value in found.items()}
