"""The recording directory format's vocabulary: names, versions, errors, JSON, path checks.

Everything the writer and the reader must agree on and that is not a file operation:

- the format's name and versions, and the names of the files in a recording directory;
- the errors and the warning that writing and reading raise;
- JSON as the format writes it: non-finite floats as strings, layer infos made JSON-safe;
- the checks that a path read from a manifest or a log stays inside the recording directory
  (a recording is data a stranger may send you), and the one way every file of a recording is
  opened for reading: a regular file or nothing (:func:`open_regular`), never a FIFO, device or
  directory, never blocking;
- JSON read with a bounded nesting depth, and written so that a log line splits only at its
  ``\\n`` whatever the text holds.

``docs/format.md`` describes the format.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "INDEX",
    "LOG",
    "MANIFEST",
    "MAX_JSON_DEPTH",
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
    "Stamp",
    "check_depth",
    "decode_float",
    "dumps",
    "encode_float",
    "file_stamp",
    "inside_directory",
    "jsonable",
    "loads",
    "open_inside",
    "open_regular",
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

    Raised for a malformed manifest (not UTF-8, not JSON, a field of the wrong type), an
    unsupported format version, a path in the manifest or log that leads outside the recording
    directory, or a file of the recording that is not a regular file (a FIFO, a device, a
    directory); the message names the file.
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


# Characters str.splitlines() splits on that JSON leaves unescaped (it escapes the others, being
# control characters): escaped, a line of the log stays one line for any tool that splits text
# into lines, not only for readers that split at b"\\n" as this package does.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_LINE_BREAK = re.compile("[\x85\u2028\u2029]")

#: The deepest nesting of lists and objects accepted in a layer's info; every other field of
#: the manifest and the log has a fixed shape, checked where it is read.
MAX_JSON_DEPTH = 32


def dumps(obj: Any) -> str:
    """One line of standard JSON (no NaN), as the log and snapshot files hold it: no character
    in it is a line break to ``str.splitlines`` (``docs/format.md``, "log.jsonl")."""
    text = json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return _LINE_BREAK.sub(lambda found: _LINE_BREAKS[found.group()], text)


def loads(data: bytes | str) -> Any:
    """Parse JSON text (UTF-8 if bytes); ValueError if it is not JSON, not UTF-8, or nested
    deeper than the parser can follow (never RecursionError)."""
    try:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except RecursionError:
        raise ValueError("its lists and objects are nested too deeply") from None


def check_depth(value: Any, what: str, limit: int = MAX_JSON_DEPTH) -> None:
    """ValueError naming ``what`` if ``value`` (parsed JSON) nests lists and objects deeper
    than ``limit``; walked without recursion."""
    level = [value]
    for _ in range(limit + 1):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return
    raise ValueError(f"{what} nests lists and objects more than {limit} deep")


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


#: What tells a file's versions apart without reading it: device, inode, size, modification
#: time in ns. A snapshot file is written once: another stamp means another file.
Stamp = tuple[int, int, int, int]

# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


def file_stamp(status: os.stat_result) -> Stamp:
    """The :data:`Stamp` of a file from its status."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def open_regular(path: Path, what: str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file; RecordingFormatError naming it if it
    is anything else (FIFO, device, directory, socket) or no file could be there (a loop of
    links, a name too long), FileNotFoundError or PermissionError if it cannot be opened.

    How every file of a recording is opened: its status is looked at before it is opened and
    again after (through the open file), and the open never blocks. Links are followed: check
    where a path leads first (:func:`inside_directory`), as the reader does for every path.
    """
    try:
        status = os.stat(path)
    except (FileNotFoundError, PermissionError):
        raise
    except OSError as error:  # a link loop, a name too long, a file where a folder should be
        raise RecordingFormatError(
            f"{what} {path} cannot be looked at ({error.strerror}); refusing to read it"
        ) from None
    fd = -1
    if stat.S_ISREG(status.st_mode):
        fd = os.open(path, _READ_FLAGS)
        status = os.fstat(fd)  # what was opened, should the path have changed in between
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            fd = -1
    if fd < 0:
        raise RecordingFormatError(
            f"{what} {path} is {_kind(status.st_mode)}, not a regular file; refusing to read it"
        )
    return os.fdopen(fd, "rb")


def open_inside(root: Path, relative: Any, what: str) -> BinaryIO:
    """:func:`open_regular` for a path read from the manifest or log, once
    :func:`inside_directory` has checked where it leads (a name directly in ``root`` that is
    no link leads nowhere else: one ``lstat`` is enough)."""
    path = relative_path(root, relative, what)
    if len(Path(relative).parts) != 1 or os.path.islink(path):
        inside_directory(root, relative, what)
    return open_regular(path, what)
