"""PNG encoding in the kernel: the one encoder every picture goes through.

Pictures are coloured here (``render.colour``) and sent as PNG bytes: an indexed PNG (one byte
per cell and a palette) for the explorer's heatmaps, RGB or RGBA for the Playground's pictures
and exported files. Rows are not filtered and zlib runs at level 1 by default: a slider move
must not wait on the encoder. Numpy and the standard library only.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["decode_png", "encode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types by channels per pixel: palette indices, RGB, RGBA.
_COLOUR_TYPES = {1: 3, 3: 2, 4: 6}


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(image: np.ndarray, *, palette: np.ndarray | None = None, level: int = 1) -> bytes:
    """Encode an image as PNG bytes.

    Parameters
    ----------
    image : ndarray
        uint8 ``(rows, columns)`` palette indices, ``(rows, columns, 3)`` RGB or
        ``(rows, columns, 4)`` RGBA.
    palette : ndarray, optional
        ``(n, 3)`` uint8 colours (n <= 256), required for an indexed image.
    level : int
        zlib level. 1 by default: a slider move should not wait on the encoder; files that are
        kept can afford 9.
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    channels = 1 if image.ndim == 2 else (image.shape[2] if image.ndim == 3 else 0)
    if channels not in _COLOUR_TYPES:
        raise ValueError(
            "expected (rows, columns) palette indices, (rows, columns, 3) RGB or "
            f"(rows, columns, 4) RGBA, got shape {image.shape}"
        )
    if channels == 1 and palette is None:
        raise ValueError("an indexed (rows, columns) image needs a palette")
    rows, columns = image.shape[:2]
    raw = np.zeros((rows, 1 + channels * columns), dtype=np.uint8)  # filter byte 0 per row
    raw[:, 1:] = image.reshape(rows, -1)
    header = struct.pack(">IIBBBBB", columns, rows, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    chunks = [_chunk(b"IHDR", header)]
    if channels == 1:
        chunks.append(_chunk(b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes()))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw.tobytes(), level)))
    chunks.append(_chunk(b"IEND", b""))
    return _SIGNATURE + b"".join(chunks)


def decode_png(data: bytes) -> np.ndarray:
    """Decode a PNG written by :func:`encode_png` back to RGB (or RGBA) pixels.

    Meant for tests and checks: it reads only what :func:`encode_png` writes (8-bit indexed,
    RGB or RGBA colour, no filters, no interlacing). An indexed image comes back as RGB.
    """
    data = bytes(data)
    if data[:8] != _SIGNATURE:
        raise ValueError("not a PNG file")
    position, idat, size, palette, colour_type = 8, b"", None, None, None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in the {kind!r} chunk")
        if kind == b"IHDR":
            columns, rows, depth, colour_type = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour_type not in _COLOUR_TYPES.values():
                raise ValueError("only 8-bit indexed, RGB or RGBA PNGs are read here")
            size = (rows, columns)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    if size is None:
        raise ValueError("no IHDR chunk")
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(size[0], -1)
    if raw[:, 0].any():
        raise ValueError("filtered rows are not supported by this reader")
    pixels = raw[:, 1:]
    if colour_type == 3:
        if palette is None:
            raise ValueError("an indexed PNG without a PLTE chunk")
        return palette[pixels]
    channels = {2: 3, 6: 4}[colour_type]
    return pixels.reshape(size[0], size[1], channels)
