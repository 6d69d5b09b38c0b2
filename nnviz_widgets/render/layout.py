"""How a recorded frame becomes a 2-D picture: the tensor-to-picture rules.

A frame of any shape becomes one :class:`Picture`: a matrix, or a mosaic of small maps with
one-cell gaps, that knows what its rows and columns are and which tensor element each cell came
from (``docs/architecture.md``, "Pictures"). Numpy only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["INPUT_QUANTITIES", "Picture", "layout_frame", "quantity_kind"]

#: Quantities that are laid out like the probe input (one image per sample).
INPUT_QUANTITIES = ("probe", "saliency")


def quantity_kind(quantity: str) -> str:
    """Which layout family a quantity belongs to: ``"parameter"``, ``"activation"`` or ``"input"``.

    ``activation``, ``output_grad`` and their ``[k]`` variants (a module called k times per
    forward) are activations; ``probe`` and ``saliency`` are input-shaped; everything else
    (``weight``, ``bias_grad``, ``weight_ih_l0_update``, ...) is shaped like a parameter.
    """
    base = re.sub(r"\[\d+\]$", "", quantity)
    if base in ("activation", "output_grad"):
        return "activation"
    if base in INPUT_QUANTITIES:
        return "input"
    return "parameter"


@dataclass
class Picture:
    """A frame laid out as a 2-D picture.

    Attributes
    ----------
    values : ndarray
        ``(rows, columns)`` float32. Gap cells hold 0 and are flagged in ``gaps``.
    gaps : ndarray or None
        Boolean mask of the cells between tiles of a mosaic (None when there are none).
    row_label, column_label : str
        What the rows and the columns are, for the axes.
    layout : str
        One line saying how the frame was laid out, e.g. "6 kernels of 5x5".
    tile : (int, int)
        Size of one tile of a mosaic, ``(1, 1)`` for a plain matrix; the axes count tiles.
    locate : callable
        ``locate(row, column)`` gives the tensor index (a tuple) of a picture cell, or None for
        a gap.
    reduction : (int, int)
        Block size of the block mean that made this picture from the full one; ``(1, 1)`` when
        it was not reduced.
    full_shape : (int, int)
        Shape of the picture before any reduction.
    """

    values: np.ndarray
    gaps: np.ndarray | None
    row_label: str
    column_label: str
    layout: str
    tile: tuple[int, int] = (1, 1)
    locate: Callable[[int, int], tuple | None] = field(default=lambda r, c: (r, c))
    reduction: tuple[int, int] = (1, 1)
    full_shape: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if self.full_shape == (0, 0):
            self.full_shape = tuple(self.values.shape)

    @property
    def reduced(self) -> bool:
        """True when the picture is a block-mean reduction of a larger one."""
        return self.reduction != (1, 1)


# --------------------------------------------------------------------------- layout
def _near_square_grid(count: int, tile_rows: int, tile_columns: int) -> tuple[int, int]:
    """Grid (rows, columns) of tiles for ``count`` tiles that makes a roughly square mosaic."""
    if count <= 0:
        return 1, 1
    aspect = tile_rows / max(tile_columns, 1)
    columns = max(1, math.ceil(math.sqrt(count * aspect)))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    return rows, columns


def _mosaic(
    tiles: np.ndarray,
    grid: tuple[int, int],
    index_of: Callable[[int, int, int, int], tuple],
) -> tuple[np.ndarray, np.ndarray, Callable[[int, int], tuple | None]]:
    """Lay tiles ``(count, h, w)`` or ``(grid_rows, grid_columns, h, w)`` out with 1-cell gaps.

    ``index_of(tile_row, tile_column, r, c)`` maps a cell of a tile back to the tensor index.
    Returns the values, the gap mask and a ``locate`` function.
    """
    grid_rows, grid_columns = grid
    h, w = tiles.shape[-2:]
    if tiles.ndim == 3:
        count = tiles.shape[0]
        padded = np.zeros((grid_rows * grid_columns, h, w), dtype=np.float32)
        padded[:count] = tiles
        tiles = padded.reshape(grid_rows, grid_columns, h, w)
        present = np.zeros(grid_rows * grid_columns, dtype=bool)
        present[:count] = True
        present = present.reshape(grid_rows, grid_columns)
    else:
        present = np.ones((grid_rows, grid_columns), dtype=bool)
    rows, columns = grid_rows * (h + 1) - 1, grid_columns * (w + 1) - 1
    canvas = np.zeros((grid_rows, h + 1, grid_columns, w + 1), dtype=np.float32)
    canvas[:, :h, :, :w] = tiles.transpose(0, 2, 1, 3)
    gaps = np.ones((grid_rows, h + 1, grid_columns, w + 1), dtype=bool)
    gaps[:, :h, :, :w] = ~present[:, None, :, None]
    values = canvas.reshape(grid_rows * (h + 1), grid_columns * (w + 1))[:rows, :columns]
    gaps = gaps.reshape(values.shape[0] + 1, values.shape[1] + 1)[:rows, :columns]

    def locate(row: int, column: int) -> tuple | None:
        tile_row, r = divmod(int(row), h + 1)
        tile_column, c = divmod(int(column), w + 1)
        if r == h or c == w or not (0 <= tile_row < grid_rows and 0 <= tile_column < grid_columns):
            return None
        if not present[tile_row, tile_column]:
            return None
        return index_of(tile_row, tile_column, r, c)

    return np.ascontiguousarray(values), np.ascontiguousarray(gaps), locate


def _image_side(pixels: int) -> int | None:
    side = math.isqrt(pixels)
    return side if side >= 4 and side * side == pixels else None


def _probe_image_shape(probe_shape: Sequence[int] | None) -> tuple[int, int, int] | None:
    """(channels, height, width) of one probe image, or None when the probe is not images."""
    if probe_shape is None:
        return None
    shape = tuple(int(s) for s in probe_shape)
    if len(shape) == 4:
        return shape[1], shape[2], shape[3]
    if len(shape) == 3:
        return 1, shape[1], shape[2]
    if len(shape) == 2:
        side = _image_side(shape[1])
        return (1, side, side) if side else None
    return None


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def layout_frame(
    frame: np.ndarray,
    quantity: str,
    *,
    layer_type: str = "",
    probe_shape: Sequence[int] | None = None,
    sample: int = 0,
    channel: int = -1,
) -> Picture:
    """Lay a recorded frame out as a 2-D picture, following the tensor-to-picture rules.

    Parameters
    ----------
    frame : ndarray
        The frame, as recorded.
    quantity : str
        Its quantity name (decides the layout family, see :func:`quantity_kind`).
    layer_type : str
        The module class name (``"Linear"``, ``"Conv2d"``, ...), from ``layer_info``.
    probe_shape : sequence of int, optional
        Shape of the probe input, to show first-layer weights on images as images.
    sample : int
        The probe sample shown for per-sample layouts; -1 shows every sample.
    channel : int
        A single channel (feature map, or output channel of a conv kernel); -1 shows all.

    Returns
    -------
    Picture
    """
    frame = np.asarray(frame, dtype=np.float32)
    kind = quantity_kind(quantity)
    if kind == "parameter":
        return _layout_parameter(frame, layer_type, probe_shape, channel)
    return _layout_per_sample(frame, kind, sample, channel)


def _layout_parameter(
    frame: np.ndarray, layer_type: str, probe_shape: Sequence[int] | None, channel: int
) -> Picture:
    if frame.ndim == 0:
        return Picture(frame.reshape(1, 1), None, "", "", "a single value")
    if frame.ndim == 1:
        return Picture(
            frame.reshape(1, -1),
            None,
            "",
            "unit",
            f"{_count(frame.size, 'value')}, one per unit",
            locate=lambda r, c: (c,),
        )
    if frame.ndim == 4:
        out_channels, in_channels, kh, kw = frame.shape
        if 0 <= channel < out_channels:
            grid = _near_square_grid(in_channels, kh, kw)
            columns = grid[1]
            values, gaps, locate = _mosaic(
                frame[channel], grid, lambda i, j, r, c: (channel, i * columns + j, r, c)
            )
            return Picture(
                values,
                gaps,
                f"grid row (input channels {columns} per row)",
                "grid column",
                f"output channel {channel}: {_count(in_channels, 'kernel')} of {kh}x{kw}, "
                "one per input channel",
                tile=(kh, kw),
                locate=locate,
            )
        if in_channels == 1:
            grid = _near_square_grid(out_channels, kh, kw)
            columns = grid[1]
            values, gaps, locate = _mosaic(
                frame[:, 0], grid, lambda i, j, r, c: (i * columns + j, 0, r, c)
            )
            return Picture(
                values,
                gaps,
                f"grid row (output channels {columns} per row)",
                "grid column",
                f"{_count(out_channels, 'kernel')} of {kh}x{kw}, one per output channel",
                tile=(kh, kw),
                locate=locate,
            )
        values, gaps, locate = _mosaic(
            frame, (out_channels, in_channels), lambda i, j, r, c: (i, j, r, c)
        )
        return Picture(
            values,
            gaps,
            "output channel",
            "input channel",
            f"{out_channels}x{in_channels} kernels of {kh}x{kw} (output x input channels)",
            tile=(kh, kw),
            locate=locate,
        )
    if frame.ndim == 2:
        units, features = frame.shape
        image = _probe_image_shape(probe_shape)
        if image is not None and image[0] == 1 and image[1] * image[2] == features and units > 1:
            # a first layer on images: each unit's weights read best as the image they match
            _, h, w = image
            grid = _near_square_grid(units, h, w)
            columns = grid[1]
            values, gaps, locate = _mosaic(
                frame.reshape(units, h, w),
                grid,
                lambda i, j, r, c: (i * columns + j, r * w + c),
            )
            return Picture(
                values,
                gaps,
                f"grid row (units {columns} per row)",
                "grid column",
                f"{_count(units, 'unit')}, each unit's {features} input weights as a {h}x{w} image",
                tile=(h, w),
                locate=locate,
            )
        return Picture(
            frame,
            None,
            "output unit",
            "input feature",
            f"{units}x{features} matrix (outputs x inputs)"
            + (f", {layer_type}" if layer_type else ""),
        )
    # Conv1d (out, in, k), Conv3d and others: one row per output unit
    flat = frame.reshape(frame.shape[0], -1)
    rest = frame.shape[1:]

    def locate(r: int, c: int) -> tuple:
        return (r, *np.unravel_index(c, rest))

    return Picture(
        flat,
        None,
        "output unit",
        "x".join(str(s) for s in rest) + " (flattened)",
        f"{frame.shape[0]} rows of {flat.shape[1]} values, flattened from {frame.shape}",
        locate=locate,
    )


def _layout_per_sample(frame: np.ndarray, kind: str, sample: int, channel: int) -> Picture:
    if frame.ndim <= 1:
        flat = frame.reshape(1, -1)
        return Picture(flat, None, "", "unit", f"{flat.size} values", locate=lambda r, c: (c,))
    samples = frame.shape[0]
    if sample >= samples:
        sample = samples - 1
    maps = None  # (samples, channels, h, w) when the frame is image-like
    if frame.ndim == 4:
        maps = frame
    elif frame.ndim == 3 and kind == "input":
        maps = frame[:, None]
    elif frame.ndim == 2 and kind == "input" and _image_side(frame.shape[1]):
        side = _image_side(frame.shape[1])
        maps = frame.reshape(samples, 1, side, side)
    if maps is None:
        if frame.ndim == 2:
            return Picture(
                frame,
                None,
                "probe sample",
                "unit",
                f"{samples} samples x {frame.shape[1]} units",
            )
        if sample >= 0:
            # Conv1d-like (N, C, L) and others: one sample's channels x positions
            flat = frame[sample].reshape(frame.shape[1], -1)
            rest = frame.shape[2:]
            return Picture(
                flat,
                None,
                "channel",
                "position",
                f"sample {sample}: {flat.shape[0]} channels x {flat.shape[1]} positions",
                locate=lambda r, c: (sample, r, *np.unravel_index(c, rest)),
            )
        flat = frame.reshape(samples, -1)
        return Picture(
            flat,
            None,
            "probe sample",
            "value (flattened)",
            f"{samples} samples x {flat.shape[1]} values",
            locate=lambda r, c: (r, *np.unravel_index(c, frame.shape[1:])),
        )
    _, channels, h, w = maps.shape
    unflat = frame.ndim == 2  # (N, F) probe shown as images: map back to a flat index
    squeeze = frame.ndim == 3

    def index(s: int, k: int, r: int, c: int) -> tuple:
        if unflat:
            return (s, r * w + c)
        if squeeze:
            return (s, r, c)
        return (s, k, r, c)

    what = "feature map" if kind == "activation" else "channel"
    if sample < 0:
        # every sample: rows are samples, columns channels (or one chosen channel)
        if 0 <= channel < channels:
            grid = _near_square_grid(samples, h, w)
            columns = grid[1]
            values, gaps, locate = _mosaic(
                maps[:, channel],
                grid,
                lambda i, j, r, c: index(i * columns + j, channel, r, c),
            )
            return Picture(
                values,
                gaps,
                f"grid row (probe samples {columns} per row)",
                "grid column",
                f"{what} {channel} of all {samples} samples, {h}x{w} each",
                tile=(h, w),
                locate=locate,
            )
        if channels == 1:
            grid = _near_square_grid(samples, h, w)
            columns = grid[1]
            values, gaps, locate = _mosaic(
                maps[:, 0], grid, lambda i, j, r, c: index(i * columns + j, 0, r, c)
            )
            return Picture(
                values,
                gaps,
                f"grid row (probe samples {columns} per row)",
                "grid column",
                f"all {samples} samples, {h}x{w} each",
                tile=(h, w),
                locate=locate,
            )
        values, gaps, locate = _mosaic(
            maps, (samples, channels), lambda i, j, r, c: index(i, j, r, c)
        )
        return Picture(
            values,
            gaps,
            "probe sample",
            what,
            f"{samples} samples x {channels} {what}s of {h}x{w}",
            tile=(h, w),
            locate=locate,
        )
    if 0 <= channel < channels or channels == 1:
        k = channel if 0 <= channel < channels else 0
        return Picture(
            np.ascontiguousarray(maps[sample, k]),
            None,
            "row (pixel)",
            "column (pixel)",
            f"sample {sample}" + (f", {what} {k}" if channels > 1 else "") + f": {h}x{w}",
            locate=lambda r, c: index(sample, k, r, c),
        )
    grid = _near_square_grid(channels, h, w)
    columns = grid[1]
    values, gaps, locate = _mosaic(
        maps[sample], grid, lambda i, j, r, c: index(sample, i * columns + j, r, c)
    )
    return Picture(
        values,
        gaps,
        f"grid row ({what}s {columns} per row)",
        "grid column",
        f"sample {sample}: {channels} {what}s of {h}x{w}",
        tile=(h, w),
        locate=locate,
    )
