"""Arrays read from a recording's ``.npz`` files (snapshots, the probe), deciding before allocating.

Every array a reader takes from a ``.npz`` file goes through :func:`find_member` and then
:func:`read_member` (whole, its CRC-32 checked) or :func:`map_member` (a block of it, mapped).
What a member declares is checked before a byte of it is read or allocated
(``docs/format.md``, "snapshots/NNNNNN.npz"):

- stored, not compressed: the writer never compresses, and a compressed member could expand
  to any size (a few KiB of deflate make GiB);
- its ``.npy`` header is short (at most 64 KiB), of a version numpy writes for plain arrays,
  is the dict numpy writes and nothing else (read by :func:`parse_header` here: not by
  numpy's parser, which hands the text to Python's ``ast``, whose parser state is shared by
  every thread in CPython 3.11, so that two readers at once could fail with a ``SystemError``;
  ``docs/format.md``), and declares a plain numeric dtype (bool, integers, floats: never
  objects, so nothing is ever unpickled, and no structured or sub-array dtype);
- the bytes its header declares are exactly the bytes the member holds, which lie inside the
  file, and no more than :data:`MAX_MEMBER_BYTES`.

A member that fails any of these raises ValueError naming the file and the member; nothing is
allocated for it. The zip directory is read by :mod:`zipfile` from the open file (its size is
bounded by the file's); ``numpy.load`` is never called on a recording.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnviz_widgets.store.format import open_regular

__all__ = ["MAX_MEMBER_BYTES", "Member", "find_member", "map_member", "read_arrays", "read_member"]

#: The most bytes one array of a recording may declare (16 GiB): far above any frame a Recorder
#: writes (``max_frame_values`` float32 values; 64 MiB by default), far below what would be
#: allocated blindly. A member must also fit in its file, which bounds it first.
MAX_MEMBER_BYTES = 16 << 30
_MAX_HEADER = 1 << 16  # numpy's own headers are a few hundred bytes
_PLAIN_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
# what zipfile may raise on a damaged or hostile zip directory
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    struct.error,
    OverflowError,
    EOFError,
    OSError,
    ValueError,
    IndexError,
)
# one entry of a .npy header's dict, as numpy writes it: a key, then a quoted string, a
# boolean or a tuple of whole numbers
_HEADER_ENTRY = re.compile(
    r"\s*'(descr|fortran_order|shape)'\s*:\s*"  # the key
    r"('[^'\\]*'|True|False|\(\s*(?:\d+\s*,\s*)*(?:\d+\s*)?\))"  # its value
    r"\s*(,|(?=\}))"  # a comma, or the dict's end
)
# what np.dtype may raise on a string that names no type
_DTYPE_ERRORS = (TypeError, ValueError, SyntaxError, OverflowError, KeyError, RecursionError)


@dataclass(frozen=True)
class Member:
    """An array in a ``.npz`` file, as its header declares it (checked): its data lies at
    ``offset`` of the file, ``nbytes`` long; ``header`` is the member's bytes before the data
    and ``crc32`` the zip directory's CRC-32 of the whole member."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int
    nbytes: int
    header: bytes
    crc32: int


def _refuse(path: Path, name: str, why: str) -> ValueError:
    return ValueError(f"the array {name!r} in {path} {why}; refusing to read it")


def find_member(file: BinaryIO, path: Path, name: str) -> Member:
    """The array ``name`` (the member ``<name>.npy``) of the ``.npz`` file open as ``file``
    (``path`` names it in messages), checked as the module says; ValueError if it is not there
    or not acceptable, naming the file and the member. Nothing of its data is read."""
    size = os.fstat(file.fileno()).st_size
    try:
        with zipfile.ZipFile(file) as archive:
            info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise ValueError(f"{path} holds no array {name!r}") from None
    except _ZIP_ERRORS as error:
        raise ValueError(f"{path} is not a readable .npz file ({error})") from error
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise _refuse(path, name, "is compressed or encrypted (the format stores arrays bare)")
    if info.compress_size != info.file_size:
        raise _refuse(path, name, f"takes {info.compress_size} bytes but declares {info.file_size}")
    file.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(_read(file, 30, path, name))
    if signature != b"PK\x03\x04":
        raise ValueError(f"{path} is damaged: no array {name!r} where its zip directory points")
    start = info.header_offset + 30 + name_length + extra_length
    if start + info.file_size > size:
        raise _refuse(path, name, f"declares {info.file_size} bytes past the end of the file")
    file.seek(start)
    shape, fortran, dtype, header = _array_header(file, path, name)
    if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise _refuse(path, name, f"has dtype {dtype}, not a plain number type")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise _refuse(path, name, f"declares the shape {shape}")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes > MAX_MEMBER_BYTES:
        raise _refuse(path, name, f"declares {nbytes} bytes, past {MAX_MEMBER_BYTES}")
    if len(header) + nbytes != info.file_size:
        raise _refuse(
            path,
            name,
            f"declares {nbytes} bytes of values (shape {shape}, {dtype}) but holds "
            f"{info.file_size - len(header)}: the file is damaged",
        )
    return Member(name, shape, dtype, fortran, start + len(header), nbytes, header, info.CRC)


def _read(file: BinaryIO, count: int, path: Path, name: str) -> bytes:
    data = file.read(count)
    if len(data) != count:
        raise ValueError(f"{path} is truncated in the array {name!r}")
    return data


def _array_header(file: BinaryIO, path: Path, name: str) -> tuple:
    """``(shape, fortran order, dtype, the header's bytes)`` of the ``.npy`` data at the file's
    position; its length is checked before it is read."""
    magic = _read(file, 8, path, name)
    if magic[:6] != b"\x93NUMPY" or magic[6:] not in (b"\x01\x00", b"\x02\x00"):
        raise _refuse(path, name, "does not start as a .npy array of version 1 or 2 does")
    width = 2 if magic[6] == 1 else 4
    length_bytes = _read(file, width, path, name)
    length = int.from_bytes(length_bytes, "little")
    if length > _MAX_HEADER:
        raise _refuse(path, name, f"has a header of {length} bytes")
    header = magic + length_bytes + _read(file, length, path, name)
    try:
        shape, fortran, dtype = parse_header(header[8 + width :].decode("latin1"))
    except ValueError as error:
        raise _refuse(path, name, f"has a damaged header ({error})") from error
    return shape, fortran, dtype, header


def parse_header(text: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran order, dtype)`` from a ``.npy`` header's text: a dict of exactly the keys
    ``'descr'``, ``'fortran_order'`` and ``'shape'`` (any order), as numpy writes it, padded
    with spaces and ending in a newline; ValueError saying what is wrong otherwise.

    A dtype given as a list (structured arrays) is refused here: the format stores plain
    arrays only.
    """
    body = text.rstrip(" \n")
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError("the header is not a dict")
    found: dict[str, str] = {}
    position, end = 1, len(body) - 1
    while body[position:end].strip():
        match = _HEADER_ENTRY.match(body, position, end + 1)  # the closing brace may follow
        if match is None or match.group(1) in found:
            raise ValueError(f"unexpected header text at {body[position : position + 40]!r}")
        found[match.group(1)] = match.group(2)
        position = match.end()
    if len(found) != 3:
        raise ValueError(
            f"the header lacks {sorted({'descr', 'fortran_order', 'shape'} - set(found))}"
        )
    if not found["descr"].startswith("'") or found["shape"][0] != "(":
        raise ValueError("the header's descr must be a string and its shape a tuple")
    if found["fortran_order"] not in ("True", "False"):
        raise ValueError("the header's fortran_order must be True or False")
    try:
        dtype = np.dtype(found["descr"][1:-1])
    except _DTYPE_ERRORS as error:
        raise ValueError(f"the header's descr names no type ({error})") from None
    shape = tuple(int(n) for n in re.findall(r"\d+", found["shape"]))
    return shape, found["fortran_order"] == "True", dtype


def read_member(file: BinaryIO, path: Path, member: Member) -> np.ndarray:
    """The whole array of a checked member, its CRC-32 checked; ValueError naming the file and
    member if it is damaged."""
    file.seek(member.offset)
    buffer = bytearray(member.nbytes)
    view = memoryview(buffer)
    filled = 0
    while filled < member.nbytes:  # a read may return less than asked
        count = file.readinto(view[filled:])
        if not count:
            raise ValueError(f"{path} is truncated in the array {member.name!r}")
        filled += count
    if zlib.crc32(buffer, zlib.crc32(member.header)) != member.crc32:
        raise ValueError(
            f"the array {member.name!r} in {path} does not match its CRC-32: the file is damaged"
        )
    array = np.frombuffer(buffer, dtype=member.dtype)
    return array.reshape(member.shape, order="F" if member.fortran else "C")


def map_member(file: BinaryIO, member: Member) -> np.ndarray:
    """A checked member's array mapped from the open file, read as it is indexed (its CRC-32
    covers the whole array and is not checked)."""
    if member.nbytes == 0:  # nothing to map
        return np.zeros(member.shape, dtype=member.dtype)
    return np.memmap(
        file,
        dtype=member.dtype,
        mode="r",
        offset=member.offset,
        shape=member.shape,
        order="F" if member.fortran else "C",
    )


def read_arrays(path: Path, names: list[str], what: str) -> dict[str, np.ndarray]:
    """The arrays ``names`` of the ``.npz`` file ``path`` (``what`` it is, for messages), each
    checked and read whole; ValueError or OSError naming the file otherwise."""
    with open_regular(path, what) as file:
        return {name: read_member(file, path, find_member(file, path, name)) for name in names}
