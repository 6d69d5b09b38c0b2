"""The recording directory format's vocabulary: names, versions, errors, JSON, path checks.

Everything the writer and the reader must agree on and that is not a file operation:

- the format's name and versions, and the names of the files in a recording directory;
- the errors and the warning that writing and reading raise;
- JSON as the format writes it: non-finite floats as strings, layer infos made JSON-safe;
- the checks that a path read from a manifest or a log stays inside the recording directory
  (a recording is data a stranger may send you).

``docs/format.md`` describes the format.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "INDEX",
    "LOG",
    "MANIFEST",
    "OWN_FILES",
    "PROBE",
    "SCALARS",
    "SNAPSHOT_DIR",
    "SNAPSHOT_NAME",
    "STEPS",
    "SUPPORTED_VERSIONS",
    "RecordingFormatError",
    "RecordingStoreWarning",
    "RecordingWriteError",
    "decode_float",
    "dumps",
    "encode_float",
    "inside_directory",
    "jsonable",
    "relative_path",
    "write_error",
]

#: The value of ``"format"`` in every manifest.
FORMAT_NAME = "nnviz-recording"
#: The format version this package writes.
FORMAT_VERSION = 1
#: The format versions this package reads.
SUPPORTED_VERSIONS = (1,)

MANIFEST = "manifest.json"
LOG = "log.jsonl"
SNAPSHOT_DIR = "snapshots"
STEPS = "steps.bin"
PROBE = "probe.npz"
INDEX = "index.bin"
SCALARS = "scalars.bin"
#: The name of a snapshot file in ``SNAPSHOT_DIR``.
SNAPSHOT_NAME = re.compile(r"^\d{6,}\.npz$")
#: The files a writer creates at the top of the directory; ``overwrite=True`` removes these, the
#: snapshot files and nothing else.
OWN_FILES = (MANIFEST, LOG, STEPS, PROBE, INDEX, SCALARS)


# ---------------------------------------------------------------------------------------- errors
class RecordingWriteError(OSError):
    """Writing a recording to disk failed (unwritable path, full disk, ...).

    An :class:`OSError`, so that ``except OSError`` catches it; ``filename`` is the path that
    could not be written and ``errno`` the system's error number where there was one. The
    Recorder turns it into a warning: training never stops because a write failed.
    """

    def __str__(self) -> str:
        return str(self.strerror if self.strerror is not None else super().__str__())


class RecordingFormatError(ValueError):
    """A recording directory is not one this version can read safely.

    Raised for a missing or malformed manifest, an unsupported format version, or a path in the
    manifest or log that leads outside the recording directory.
    """


class RecordingStoreWarning(UserWarning):
    """Part of a recording on disk could not be read; the rest was opened."""


def write_error(
    error: OSError, path: Path, doing: str, *, starting: bool = False
) -> RecordingWriteError:
    """``error`` as a :class:`RecordingWriteError` saying what could not be done, and what next."""
    reason = error.strerror or str(error)
    hint = (
        "choose a directory you can write to"
        if starting
        else "what was committed before stays readable; free space or fix the path for the "
        "next snapshots"
    )
    return RecordingWriteError(
        error.errno or errno.EIO, f"could not {doing} {path}: {reason}; {hint}", str(path)
    )


# ---------------------------------------------------------------------------------------- JSON
# JSON has no NaN or Infinity; statistics and metrics often are NaN. Non-finite floats are
# written as these strings so that the files stay standard JSON any tool can read.
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_float(value: float) -> float | str:
    """A float as the format writes it: itself, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    value = float(value)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def decode_float(value: Any) -> float:
    """The float :func:`encode_float` wrote; ValueError for any other string."""
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise ValueError(f"expected a number or one of {sorted(_NONFINITE)}, got {value!r}")
        return _NONFINITE[value]
    return float(value)


def jsonable(value: Any) -> Any:
    """Layer infos as JSON: numpy scalars become numbers, tuples lists, anything else text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return encode_float(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def dumps(obj: Any) -> str:
    """One line of standard JSON (no NaN), as the log and snapshot files hold it."""
    return json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------- paths
def relative_path(root: Path, relative: Any, what: str) -> Path:
    """Check, by its text alone, that a path read from the manifest or log stays in ``root``.

    A recording may come from a stranger: an absolute path or ``..`` could otherwise make us read
    an arbitrary file. Symbolic links need the file system: see :func:`inside_directory`.
    """
    if not isinstance(relative, str) or not relative:
        raise RecordingFormatError(f"{what} in {root} must be a relative path, got {relative!r}")
    pure = Path(relative)
    if pure.is_absolute() or relative.startswith(("/", "\\")) or ".." in pure.parts:
        raise RecordingFormatError(
            f"{what} in {root} names {relative!r}, which is outside the recording directory; "
            "paths in a recording must be relative and stay inside it (no '..', not absolute)"
        )
    return root / pure


def inside_directory(root: Path, relative: Any, what: str) -> Path:
    """Like :func:`relative_path`, and also refuse a path a symbolic link leads out of ``root``."""
    path = relative_path(root, relative, what)
    real_root = os.path.realpath(root)
    target = os.path.realpath(path)
    if os.path.commonpath([real_root, target]) != real_root:
        raise RecordingFormatError(
            f"{what} in {root} names {relative!r}, which resolves to {target} through a "
            "symbolic link outside the recording directory; refusing to read it"
        )
    return path
