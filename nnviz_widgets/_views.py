"""Views: how a recorded numpy frame becomes a picture, and the bqplot figures that show it.

Two halves:

- *Layout* (:func:`layout_frame`, :func:`reduce_picture`): the tensor-to-picture rules of
  ``DESIGN.md``. A frame of any shape becomes one 2-D :class:`Picture` (a matrix, or a mosaic of
  small maps with one-cell gaps) that knows what its rows and columns are and which tensor
  element each cell came from; a picture larger than the view is reduced by block means.
- *Figures* (:class:`HeatmapView`, :class:`MetricsView`, :class:`GradientNormView`,
  :class:`HistogramView`): bqplot figures that take pictures and series and show them. The heatmap
  is coloured in the kernel and sent as one PNG to a bqplot ``Image`` mark (measured: it reaches
  the round-trip floor, where ``HeatMap`` costs N^2 in the browser); its axes, colour bar and
  pointer readout stay bqplot.

Views import numpy, bqplot and ipywidgets only, never torch: a recording can be shown where no
model exists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import bqplot
import ipywidgets
import numpy as np

from nnviz_widgets._colour import (
    DIVERGING,
    ColourMap,
    colour_indices,
    encode_png,
)

__all__ = [
    "GradientNormView",
    "HeatmapView",
    "HistogramView",
    "MetricsView",
    "Picture",
    "describe_nonfinite",
    "layout_frame",
    "quantity_kind",
    "reduce_picture",
]

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


# --------------------------------------------------------------------------- reduction
def _block_sums(values: np.ndarray, factor_rows: int, factor_columns: int) -> np.ndarray:
    """Sums over blocks of ``factor_rows x factor_columns``; the last blocks may be partial."""
    rows, columns = values.shape
    out_rows, out_columns = -(-rows // factor_rows), -(-columns // factor_columns)
    whole_rows, whole_columns = rows // factor_rows, columns // factor_columns
    by_rows = np.empty((out_rows, columns), dtype=np.float32)
    # reshape + sum over the short axis is ~10x faster than np.add.reduceat on big frames
    by_rows[:whole_rows] = (
        values[: whole_rows * factor_rows].reshape(whole_rows, factor_rows, columns).sum(axis=1)
    )
    if whole_rows < out_rows:
        by_rows[-1] = values[whole_rows * factor_rows :].sum(axis=0)
    out = np.empty((out_rows, out_columns), dtype=np.float32)
    out[:, :whole_columns] = (
        by_rows[:, : whole_columns * factor_columns]
        .reshape(out_rows, whole_columns, factor_columns)
        .sum(axis=2)
    )
    if whole_columns < out_columns:
        out[:, -1] = by_rows[:, whole_columns * factor_columns :].sum(axis=1)
    return out


def reduce_picture(picture: Picture, max_rows: int, max_columns: int) -> Picture:
    """Reduce a picture larger than ``max_rows x max_columns`` by block means.

    Each block of ``ceil(rows / max_rows) x ceil(columns / max_columns)`` cells becomes its
    mean. The mean is a plain sum, so a NaN anywhere in a block makes the block NaN (and an Inf
    makes it Inf): a non-finite value never disappears into an average. Gap cells of a mosaic
    are left out of the means; a block made only of gaps stays a gap.
    """
    rows, columns = picture.values.shape
    factor_rows = max(1, -(-rows // max_rows))
    factor_columns = max(1, -(-columns // max_columns))
    if factor_rows == 1 and factor_columns == 1:
        return picture
    sums = _block_sums(picture.values, factor_rows, factor_columns)
    if picture.gaps is None:
        row_counts = np.full(sums.shape[0], factor_rows, dtype=np.float32)
        row_counts[-1] = rows - factor_rows * (sums.shape[0] - 1)
        column_counts = np.full(sums.shape[1], factor_columns, dtype=np.float32)
        column_counts[-1] = columns - factor_columns * (sums.shape[1] - 1)
        counts = np.outer(row_counts, column_counts)
        gaps = None
    else:
        counts = _block_sums((~picture.gaps).astype(np.float32), factor_rows, factor_columns)
        gaps = counts == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / np.maximum(counts, 1)
    return Picture(
        means.astype(np.float32, copy=False),
        gaps,
        picture.row_label,
        picture.column_label,
        picture.layout,
        tile=picture.tile,
        locate=picture.locate,
        reduction=(factor_rows, factor_columns),
        full_shape=tuple(picture.values.shape),
    )


def describe_nonfinite(full: np.ndarray, *, limit: int = 3) -> str:
    """One line saying how many NaN and Inf values a frame has, and where the first ones are.

    Positions are the frame's own indices (what a user finds in their tensor).

    Parameters
    ----------
    full : ndarray
        The recorded frame.
    limit : int
        How many positions to name per kind.
    """
    finite = np.isfinite(full)
    if finite.all():
        return ""
    parts = []
    for label, mask in (
        ("NaN", np.isnan(full)),
        ("+Inf", full == np.inf),
        ("-Inf", full == -np.inf),
    ):
        count = int(mask.sum())
        if count:
            where = np.argwhere(mask)[:limit]
            places = ", ".join(str(tuple(int(i) for i in w)) for w in where)
            more = " ..." if count > limit else ""
            parts.append(f"{count} {label} at {places}{more}")
    return "; ".join(parts) + f" (of {full.size} values)"


# --------------------------------------------------------------------------- figures
#: Pixel size of the main heatmap figure and its margins (so cells can be kept square).
HEATMAP_SIZE = (480, 450)
HEATMAP_MARGIN = {"top": 40, "bottom": 45, "left": 60, "right": 8}
#: Width of the colour bar figure beside the heatmap, in pixels.
COLOUR_BAR_WIDTH = 88
#: Most hover targets per side, per level. Each target is one SVG element, and the browser's
#: per-frame compositing cost grows with their number (4096 targets cost ~20 ms a frame in
#: Chromium, measured by benchmarks/bench_browser.py): so a large picture gets a coarse grid of
#: blocks, and the block under the pointer a finer grid of its own (see ``HeatmapView``).
HOVER_CELLS = 16


class HeatmapView:
    """The main heatmap: a picture coloured in the kernel, with axes, colour bar and readout.

    Parameters
    ----------
    max_cells : (int, int)
        Largest picture shown cell for cell (rows, columns); larger ones are reduced by block
        means to fit, and the title says so. The default matches the figure's plot area.
    on_hover : callable, optional
        Called as ``on_hover(row, column, row_end, column_end)`` (picture cells, end exclusive)
        when the pointer moves onto a cell or a block of cells, or one is clicked.

    Attributes
    ----------
    figure : bqplot.Figure
        The figure to put in a layout.
    image : bqplot.Image
        The mark that shows the PNG.
    hover : bqplot.Scatter
        Invisible square markers over the picture: bqplot's ``Image`` reports clicks but no
        pointer moves, while a ``Scatter`` reports hovering over each marker. At most
        ``HOVER_CELLS`` per side: over a larger picture each covers a block of cells.
    hover_fine : bqplot.Scatter
        A finer grid over the block the pointer is on, drawn above ``hover``: entering a block
        shows its summary and lays finer markers over it, down to single cells, so every value
        can be read while the page never holds more than ``2 * HOVER_CELLS**2`` markers.
    """

    def __init__(
        self,
        *,
        max_cells: tuple[int, int] = (400, 450),
        on_hover: Callable[[int, int, int, int], None] | None = None,
    ) -> None:
        self.max_cells = max_cells
        self._on_hover = on_hover
        self.x_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_scale = bqplot.LinearScale(min=-0.5, max=0.5, reverse=True, allow_padding=False)
        # axes count tiles of a mosaic, so they use scales of their own in tile units
        self.x_axis_scale = bqplot.LinearScale(min=-0.5, max=0.5, allow_padding=False)
        self.y_axis_scale = bqplot.LinearScale(min=-0.5, max=0.5, reverse=True, allow_padding=False)
        self.colour_scale = bqplot.ColorScale(colors=list(DIVERGING.anchors), min=-1.0, max=1.0)
        self.x_axis = bqplot.Axis(scale=self.x_axis_scale, label="", grid_lines="none")
        self.y_axis = bqplot.Axis(scale=self.y_axis_scale, side="left", label="", grid_lines="none")
        # the colour bar is an image of the same lookup table the picture is coloured with, so
        # bar and picture match exactly; its axis is a plain bqplot axis in data units
        self.bar_scale = bqplot.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.bar_x_scale = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        self._bar_pngs = _ImagePair(_colour_bar_png(DIVERGING))
        self.bar_image = bqplot.Image(
            image=self._bar_pngs.shown,
            x=np.array([0.0, 1.0]),
            y=np.array([-1.0, 1.0]),
            scales={"x": self.bar_x_scale, "y": self.bar_scale},
            pixelated=False,
        )
        self.colour_axis = bqplot.Axis(
            scale=self.bar_scale, side="right", label="", tick_format=".3~g", grid_lines="none"
        )
        self.colour_bar = bqplot.Figure(
            marks=[self.bar_image],
            axes=[self.colour_axis],
            scale_x=self.bar_x_scale,
            scale_y=self.bar_scale,
            fig_margin={
                "top": HEATMAP_MARGIN["top"], "bottom": HEATMAP_MARGIN["bottom"],
                "left": 2, "right": COLOUR_BAR_WIDTH - 20,
            },
            padding_x=0.0,
            padding_y=0.0,
            layout=ipywidgets.Layout(
                width=f"{COLOUR_BAR_WIDTH}px", height=f"{HEATMAP_SIZE[1]}px", flex="0 0 auto"
            ),
        )  # fmt: skip
        self.colour_bar.add_class("nnviz-colour-bar")
        self._pngs = _ImagePair(encode_png(np.full((1, 1, 3), 255, np.uint8)))
        self.image = bqplot.Image(
            image=self._pngs.shown,
            x=np.array([-0.5, 0.5]),
            y=np.array([0.5, -0.5]),
            scales={"x": self.x_scale, "y": self.y_scale},
        )
        self.hover, self.hover_fine = self._hover_mark(), self._hover_mark()
        self.hover.on_hover(self._handle_hover)
        self.hover.on_element_click(self._handle_hover)
        self.hover_fine.on_hover(self._handle_hover_fine)
        self.hover_fine.on_element_click(self._handle_hover_fine)
        self.image.on_element_click(self._handle_image_click)
        self._hover_shape: tuple = ()
        #: per mark: (first row, first column, block side in cells) of its grid
        self._grids: dict[str, tuple[int, int, int]] = {}
        self.figure = bqplot.Figure(
            marks=[self.image, self.hover, self.hover_fine],
            axes=[self.x_axis, self.y_axis],
            scale_x=self.x_scale,
            scale_y=self.y_scale,
            fig_margin=dict(HEATMAP_MARGIN),
            padding_x=0.0,
            padding_y=0.0,
            title="no snapshots yet",
            title_style={"font-size": "13px"},
            layout=ipywidgets.Layout(
                width=f"{HEATMAP_SIZE[0]}px", height=f"{HEATMAP_SIZE[1]}px", flex="0 0 auto"
            ),
        )
        self.figure.add_class("nnviz-heatmap")
        self.widget = ipywidgets.HBox([self.figure, self.colour_bar])
        self.picture: Picture | None = None
        self.shown: Picture | None = None
        self.indices: np.ndarray | None = None
        self.colour_map: ColourMap = DIVERGING
        self.colour_limits = (-1.0, 1.0)

    # ------------------------------------------------------------------ drawing
    def show(
        self,
        picture: Picture,
        low: float,
        high: float,
        colour_map: ColourMap,
        *,
        title: str,
        colour_label: str = "",
        reduced: Picture | None = None,
        indices: np.ndarray | None = None,
        png: bytes | None = None,
    ) -> None:
        """Show ``picture`` (or its given reduction) coloured between ``low`` and ``high``.

        ``indices`` and ``png``, when given, are the reduction already coloured (palette
        indices, see :func:`colour_indices`) and encoded: the explorer prepares them ahead.
        """
        shown = reduced if reduced is not None else reduce_picture(picture, *self.max_cells)
        if indices is None or png is None:
            indices = colour_indices(shown.values, low, high, gaps=shown.gaps)
            png = encode_png(indices, palette=colour_map.palette)
        rows, columns = picture.values.shape
        x_span, y_span = self._square_cells(rows, columns)
        tile_rows, tile_columns = picture.tile
        step_rows = tile_rows + 1 if picture.tile != (1, 1) else 1
        step_columns = tile_columns + 1 if picture.tile != (1, 1) else 1
        # in tile units the centre of tile k sits at k: shift by the tile's half-width
        shift_rows = (tile_rows - 1) / 2 if picture.tile != (1, 1) else 0.0
        shift_columns = (tile_columns - 1) / 2 if picture.tile != (1, 1) else 0.0
        anchors = list(colour_map.anchors)
        # centre the picture; cells stay square, the spare room is split on both sides
        x_low = -0.5 - (x_span - columns) / 2
        y_low = -0.5 - (y_span - rows) / 2
        with self.figure.hold_sync(), self.image.hold_sync():
            self._pngs.show(self.image, png)
            self.image.x = np.array([-0.5, columns - 0.5])
            self.image.y = np.array([rows - 0.5, -0.5])
            if (self.x_scale.min, self.x_scale.max) != (x_low, x_low + x_span):
                with self.x_scale.hold_sync():
                    self.x_scale.min, self.x_scale.max = x_low, x_low + x_span
            axis_x = (
                (x_low - shift_columns) / step_columns,
                (x_low + x_span - shift_columns) / step_columns,
            )
            if (self.x_axis_scale.min, self.x_axis_scale.max) != axis_x:
                with self.x_axis_scale.hold_sync():
                    self.x_axis_scale.min, self.x_axis_scale.max = axis_x
            if (self.y_scale.min, self.y_scale.max) != (y_low, y_low + y_span):
                with self.y_scale.hold_sync():
                    self.y_scale.min, self.y_scale.max = y_low, y_low + y_span
            axis_y = ((y_low - shift_rows) / step_rows, (y_low + y_span - shift_rows) / step_rows)
            if (self.y_axis_scale.min, self.y_axis_scale.max) != axis_y:
                with self.y_axis_scale.hold_sync():
                    self.y_axis_scale.min, self.y_axis_scale.max = axis_y
            if self.colour_scale.colors != anchors:
                self.colour_scale.colors = anchors
                self._bar_pngs.show(self.bar_image, _colour_bar_png(colour_map))
            if (self.colour_scale.min, self.colour_scale.max) != (low, high):
                with self.colour_scale.hold_sync():
                    self.colour_scale.min, self.colour_scale.max = float(low), float(high)
                with self.bar_scale.hold_sync():
                    self.bar_scale.min, self.bar_scale.max = float(low), float(high)
                self.bar_image.y = np.array([float(low), float(high)])
            self.colour_axis.label = colour_label
            self.x_axis.label = picture.column_label
            self.y_axis.label = picture.row_label
            self._set_tick_mode(picture)
            self.figure.title = title
            self._update_hover_targets(rows, columns)
        self.picture, self.shown, self.indices = picture, shown, indices
        self.colour_map, self.colour_limits = colour_map, (float(low), float(high))

    @property
    def png(self) -> ipywidgets.Image:
        """The image widget the heatmap shows now (its ``value`` is the PNG bytes)."""
        return self._pngs.shown

    @property
    def image_widgets(self) -> list[ipywidgets.Image]:
        """Every image widget this view made, shown or spare."""
        return [*self._pngs.widgets, *self._bar_pngs.widgets]

    @property
    def bar_png(self) -> ipywidgets.Image:
        """The image widget the colour bar shows now."""
        return self._bar_pngs.shown

    @property
    def rgb(self) -> np.ndarray | None:
        """The picture shown, as ``(rows, columns, 3)`` uint8 RGB (None when empty)."""
        if self.indices is None:
            return None
        return self.colour_map.palette[self.indices]

    def _set_tick_mode(self, picture: Picture) -> None:
        # integer ticks only: a mosaic's axis counts tiles, a matrix's axis counts rows
        tick_format = "d"
        if self.x_axis.tick_format != tick_format:
            self.x_axis.tick_format = tick_format
            self.y_axis.tick_format = tick_format
        for axis, count in (
            (self.x_axis, self._tile_count(picture, 1)),
            (self.y_axis, self._tile_count(picture, 0)),
        ):
            # at most about ten whole-number ticks, so "d" never rounds a fractional tick
            step = max(1, -(-count // 10))
            wanted = np.arange(0, count, step, dtype=np.float64)
            current = axis.tick_values
            if current is None or not np.array_equal(current, wanted):
                axis.tick_values = wanted

    @staticmethod
    def _tile_count(picture: Picture, axis: int) -> int:
        size = picture.values.shape[axis]
        step = picture.tile[axis] + 1 if picture.tile != (1, 1) else 1
        return (size + 1) // step if step > 1 else size

    def _square_cells(self, rows: int, columns: int) -> tuple[float, float]:
        """Scale spans (x, y) in cells that keep cells square in the plot area."""
        width = HEATMAP_SIZE[0] - HEATMAP_MARGIN["left"] - HEATMAP_MARGIN["right"]
        height = HEATMAP_SIZE[1] - HEATMAP_MARGIN["top"] - HEATMAP_MARGIN["bottom"]
        # rows and columns fill the plot area in one direction; the other gets spare room
        if columns / width >= rows / height:
            return float(columns), columns * height / width
        return rows * width / height, float(rows)

    def _hover_mark(self) -> bqplot.Scatter:
        return bqplot.Scatter(
            x=np.zeros(0),
            y=np.zeros(0),
            marker="square",
            opacities=[0.0],
            colors=["#000000"],
            default_size=64,
            scales={"x": self.x_scale, "y": self.y_scale},
            enable_hover=True,
            interactions={"hover": "tooltip", "click": "select"},
            tooltip=None,
        )

    def _update_hover_targets(self, rows: int, columns: int) -> None:
        """Lay the coarse hover grid over a picture of a new shape (scrubbing keeps it)."""
        if self._hover_shape == (rows, columns):
            return
        self._hover_shape = (rows, columns)
        self._place_grid("coarse", 0, 0, rows, columns)
        self._place_grid("fine", 0, 0, 0, 0)

    def _place_grid(self, which: str, row: int, column: int, rows: int, columns: int) -> None:
        """Cover cells ``[row:row + rows, column:column + columns]`` with square markers.

        Blocks are square (the same number of cells both ways, as cells are square on
        screen), at most ``HOVER_CELLS`` per side; the last ones may reach past the region,
        and read the cells they really cover.
        """
        mark = self.hover if which == "coarse" else self.hover_fine
        if rows <= 0 or columns <= 0:
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0, np.float32), np.zeros(0, np.float32)
            self._grids.pop(which, None)
            return
        side = max(1, -(-max(rows, columns) // HOVER_CELLS))
        centres_r = row + np.arange(0, rows, side) + (side - 1) / 2
        centres_c = column + np.arange(0, columns, side) + (side - 1) / 2
        grid_r, grid_c = np.meshgrid(centres_r, centres_c, indexing="ij")
        pixels = side * self._cell_pixels()
        with mark.hold_sync():
            mark.x = grid_c.ravel().astype(np.float32)
            mark.y = grid_r.ravel().astype(np.float32)
            # a square marker's size is its area in pixels; round up so blocks leave no gaps
            mark.default_size = max(1, math.ceil(pixels * pixels))
        self._grids[which] = (row, column, side, len(centres_c))

    def _cell_pixels(self) -> float:
        """The side of one picture cell on screen, in pixels."""
        rows, columns = self._hover_shape
        x_span, _ = self._square_cells(rows, columns)
        width = HEATMAP_SIZE[0] - HEATMAP_MARGIN["left"] - HEATMAP_MARGIN["right"]
        return width / x_span

    def clear(self, message: str) -> None:
        """Show no picture, only ``message`` as the title (e.g. "no snapshots yet")."""
        with self.figure.hold_sync():
            self._pngs.show(self.image, encode_png(np.full((1, 1, 3), 255, np.uint8)))
            self.figure.title = message
            self._place_grid("coarse", 0, 0, 0, 0)
            self._place_grid("fine", 0, 0, 0, 0)
        self._hover_shape = ()
        self.picture = self.shown = self.indices = None

    # ------------------------------------------------------------------ pointer
    def _handle_hover(self, _mark, content: dict) -> None:
        self._pointer_on("coarse", content)

    def _handle_hover_fine(self, _mark, content: dict) -> None:
        self._pointer_on("fine", content)

    def _pointer_on(self, which: str, content: dict) -> None:
        """Report the cells under the marker the pointer is on; refine a block of several."""
        data = content.get("data") or content.get("point") or {}
        index = data.get("index")
        grid = self._grids.get(which)
        if index is None or grid is None or not self._hover_shape:
            return
        rows, columns = self._hover_shape
        first_row, first_column, side, per_row = grid
        r, c = divmod(int(index), per_row)
        row, column = first_row + r * side, first_column + c * side
        row_end, column_end = min(row + side, rows), min(column + side, columns)
        if row >= rows or column >= columns:
            return
        if side > 1:
            # finer markers over this block, above the coarse ones: the next pointer move
            # inside it reads smaller blocks, down to one cell
            self._place_grid("fine", row, column, row_end - row, column_end - column)
        if self._on_hover is not None:
            self._on_hover(row, column, row_end, column_end)

    def _handle_image_click(self, _mark, content: dict) -> None:
        data = content.get("data") or {}
        if self.picture is None or self._on_hover is None or "click_x" not in data:
            return
        row, column = round(float(data["click_y"])), round(float(data["click_x"]))
        rows, columns = self.picture.values.shape
        if 0 <= row < rows and 0 <= column < columns:
            self._on_hover(row, column, row + 1, column + 1)


class MetricsView:
    """Metrics per snapshot (loss, accuracy, ...) as lines, with the current snapshot marked.

    Clicking a point calls ``on_select(index)``. Each metric has its own y scale; the first two
    get an axis (left and right).
    """

    def __init__(self, *, on_select: Callable[[int], None] | None = None) -> None:
        self._on_select = on_select
        self.x_scale = bqplot.LinearScale()
        self.figure = bqplot.Figure(
            marks=[],
            axes=[bqplot.Axis(scale=self.x_scale, label="epoch")],
            title="metrics",
            title_style={"font-size": "12px"},
            fig_margin={"top": 30, "bottom": 40, "left": 55, "right": 55},
            legend_location="top-right",
            layout=ipywidgets.Layout(width="340px", height="215px"),
        )
        self.figure.add_class("nnviz-metrics")
        self._names: tuple[str, ...] = ()
        self._lines: dict[str, bqplot.Lines] = {}
        self._points: dict[str, bqplot.Scatter] = {}
        self._current: dict[str, bqplot.Scatter] = {}

    _COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")

    def show(self, epochs: np.ndarray, metrics: dict[str, np.ndarray], index: int) -> None:
        """Draw every metric against ``epochs`` and mark snapshot ``index``."""
        names = tuple(metrics)
        if names != self._names:
            self._build(names)
        x = np.asarray(epochs, dtype=np.float64)
        with self.figure.hold_sync():
            for name in names:
                y = np.asarray(metrics[name], dtype=np.float64)
                if len(self._lines[name].x) != len(x) or not np.array_equal(
                    self._lines[name].y, y, equal_nan=True
                ):
                    with self._lines[name].hold_sync():
                        self._lines[name].x, self._lines[name].y = x, y
                    with self._points[name].hold_sync():
                        self._points[name].x, self._points[name].y = x, y
            self.mark(x, metrics, index)

    def mark(self, epochs: np.ndarray, metrics: dict[str, np.ndarray], index: int) -> None:
        """Move the current-snapshot markers to ``index`` (cheap: one point per metric)."""
        for name in self._names:
            values = metrics.get(name)
            if values is None or not 0 <= index < len(values):
                continue
            marker = self._current[name]
            with marker.hold_sync():
                marker.x = np.array([float(epochs[index])])
                marker.y = np.array([float(values[index])])

    def _build(self, names: tuple[str, ...]) -> None:
        marks, axes = [], [self.figure.axes[0]]
        self._lines, self._points, self._current = {}, {}, {}
        for k, name in enumerate(names):
            colour = self._COLOURS[k % len(self._COLOURS)]
            y_scale = bqplot.LinearScale()
            scales = {"x": self.x_scale, "y": y_scale}
            line = bqplot.Lines(
                x=np.zeros(0),
                y=np.zeros(0),
                scales=scales,
                colors=[colour],
                labels=[name],
                display_legend=len(names) > 2,  # two metrics are named by their coloured axes
            )
            points = bqplot.Scatter(
                x=np.zeros(0),
                y=np.zeros(0),
                scales=scales,
                colors=[colour],
                default_size=20,
                interactions={"click": "select"},
                tooltip=None,
            )
            points.on_element_click(self._handle_click)
            current = bqplot.Scatter(
                x=np.zeros(0),
                y=np.zeros(0),
                scales=scales,
                colors=[colour],
                default_size=110,
                stroke="black",
                stroke_width=1.5,
                enable_hover=False,
            )
            marks += [line, points, current]
            self._lines[name], self._points[name], self._current[name] = line, points, current
            if k < 2:
                axes.append(
                    bqplot.Axis(
                        scale=y_scale,
                        side="left" if k == 0 else "right",
                        label=name,
                        color=colour,
                        grid_lines="solid" if k == 0 else "none",
                    )
                )
        with self.figure.hold_sync():
            self.figure.marks = marks
            self.figure.axes = axes
            self.figure.title = "metrics" if names else "no metrics recorded"
        self._names = names

    def _handle_click(self, _mark, content: dict) -> None:
        data = content.get("data") or {}
        if "index" in data and self._on_select is not None:
            self._on_select(int(data["index"]))


class _ImagePair:
    """Two image widgets that take turns behind one bqplot ``Image`` mark.

    The mark's browser view redraws when its ``image`` trait points to another widget, not when
    the widget's ``value`` changes (bqplot 0.13, ``js/src/Image.ts`` listens to
    ``change:image`` only): so each new picture goes into the widget not on screen, which then
    takes the mark's place.
    """

    def __init__(self, value: bytes) -> None:
        self._images = [
            ipywidgets.Image(value=value, format="png"),
            ipywidgets.Image(value=value, format="png"),
        ]
        self._current = 0

    @property
    def shown(self) -> ipywidgets.Image:
        return self._images[self._current]

    @property
    def widgets(self) -> list[ipywidgets.Image]:
        return list(self._images)

    def show(self, mark: bqplot.Image, value: bytes) -> None:
        spare = 1 - self._current
        self._images[spare].value = value  # reaches the browser before the swap below
        mark.image = self._images[spare]
        self._current = spare


def _colour_bar_png(colour_map: ColourMap) -> bytes:
    """A 256 x 1 PNG of the colour map, high values at the top."""
    return encode_png(colour_map.table[::-1][:, None, :])


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log scale: zero, negative and non-finite become NaN (a gap)."""
    values = np.asarray(values, dtype=np.float64).copy()
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


#: Log-scale limits shown before any gradient norm is recorded.
_EMPTY_DECADES = (1e-3, 1.0)


def _decades(values: np.ndarray) -> tuple[float, float]:
    """The powers of ten around positive ``values``: at least one decade apart."""
    low = 10.0 ** math.floor(math.log10(float(values.min())))
    high = 10.0 ** math.ceil(math.log10(float(values.max())))
    if high <= low:
        high = low * 10.0
    return low, high


def _decade_ticks(low: float, high: float, most: int = 6) -> np.ndarray:
    """Powers of ten from ``low`` to ``high``, every k-th one so at most ``most`` show."""
    first, last = round(math.log10(low)), round(math.log10(high))
    step = max(1, -(-(last - first) // (most - 1)))
    return 10.0 ** np.arange(first, last + 1, step, dtype=np.float64)


class GradientNormView:
    """Gradient norms: across the network at the current snapshot, and their history.

    Both on a log scale, so vanishing (orders of magnitude smaller towards the input) and
    exploding gradients show at a glance.
    """

    def __init__(self) -> None:
        self.layer_scale = bqplot.OrdinalScale()
        # both log scales get explicit limits and ticks at powers of ten, from the start
        # (_set_limits at the end): bqplot 0.13 cannot render a log axis with num_ticks over an
        # empty domain (the figure's axes then never appear, nor later titles: seen in
        # JupyterLab when the explorer is shown before the first snapshot), and automatic
        # ticks crowd when norms span many decades
        self.norm_scale = bqplot.LogScale()
        self.across = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self.layer_scale, "y": self.norm_scale},
            marker="circle",
            colors=["#d62728"],
        )
        self.across_figure = bqplot.Figure(
            marks=[self.across],
            axes=[
                bqplot.Axis(scale=self.layer_scale, label="layer (input to output)"),
                bqplot.Axis(
                    scale=self.norm_scale,
                    side="left",
                    label="gradient norm",
                    tick_format=".0e",  # 1e-7 ... 1e+1: short, and every label alike
                ),
            ],
            title="gradient norm per layer",
            title_style={"font-size": "12px"},
            fig_margin={"top": 30, "bottom": 45, "left": 65, "right": 15},
            layout=ipywidgets.Layout(width="445px", height="215px"),
        )
        self.across_figure.add_class("nnviz-gradnorm")
        self.epoch_scale = bqplot.LinearScale()
        self.history_scale = bqplot.LogScale()
        self.history = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros((0, 0)),
            scales={"x": self.epoch_scale, "y": self.history_scale},
            display_legend=True,
        )
        self.cursor = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": self.epoch_scale, "y": self.history_scale},
            colors=["#555555"],
            line_style="dashed",
        )
        self.history_figure = bqplot.Figure(
            marks=[self.history, self.cursor],
            axes=[
                bqplot.Axis(scale=self.epoch_scale, label="epoch"),
                bqplot.Axis(
                    scale=self.history_scale,
                    side="left",
                    label="gradient norm",
                    tick_format=".0e",  # 1e-7 ... 1e+1: short, and every label alike
                ),
            ],
            title="gradient norm history",
            title_style={"font-size": "12px"},
            fig_margin={"top": 30, "bottom": 45, "left": 65, "right": 15},
            legend_location="top-left",  # early epochs sit low on a log scale: room for it
            layout=ipywidgets.Layout(width="445px", height="215px"),
        )
        self.history_figure.add_class("nnviz-gradhistory")
        self.norm_axes = [self.across_figure.axes[1], self.history_figure.axes[1]]
        self._key: tuple = ()
        self._limits: tuple[float, float] | None = None
        self._set_limits(*_EMPTY_DECADES)

    def show(self, epochs: np.ndarray, norms: dict[str, np.ndarray], index: int) -> None:
        """``norms`` maps layer to its gradient norm per snapshot; ``index`` is the current one."""
        layers = list(norms)
        if not layers or not len(epochs):
            with self.across.hold_sync():
                self.across.x, self.across.y = np.zeros(0), np.zeros(0)
            self.across_figure.title = "no gradient norms recorded"
            self._key = ()
            self._set_limits(*_EMPTY_DECADES)
            return
        history = np.stack([_positive(norms[layer]) for layer in layers])
        key = (tuple(layers), history.shape, history.tobytes())
        if key != self._key:
            with self.history.hold_sync():
                self.history.x = np.asarray(epochs, dtype=np.float64)
                self.history.y = history
                self.history.labels = layers
            self._key = key
            # one range for both figures, over every snapshot: scrubbing never rescales
            finite = history[np.isfinite(history)]
            self._set_limits(*_decades(finite) if finite.size else _EMPTY_DECADES)
        current = history[:, index] if 0 <= index < history.shape[1] else np.full(len(layers), 1.0)
        with self.across.hold_sync():
            self.across.x = np.array(layers, dtype=object)
            self.across.y = current
        finite = history[np.isfinite(history)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            with self.cursor.hold_sync():
                self.cursor.x = np.full(2, float(epochs[index]))
                self.cursor.y = np.array([low, high])
        self.across_figure.title = f"gradient norm per layer, epoch {float(epochs[index]):g}"

    def _set_limits(self, low: float, high: float) -> None:
        """Both log scales from ``low`` to ``high`` (powers of ten), ticks at decades."""
        if (low, high) == self._limits:
            return
        # a little room beyond the decades, so points on them are not cut by the frame
        room = (high / low) ** 0.04
        for scale in (self.norm_scale, self.history_scale):
            with scale.hold_sync():
                scale.min, scale.max = low / room, high * room
        for axis in self.norm_axes:
            axis.tick_values = _decade_ticks(low, high)
        self._limits = (low, high)


class HistogramView:
    """A histogram of the current frame's finite values, bars coloured like the heatmap.

    The bins span the colour range, so the histogram reads as a detailed colour bar; values
    outside the range are counted in the end bins and the title says how many.
    """

    BINS = 40
    #: Frames larger than this are histogrammed from an evenly strided sample of about this size.
    SAMPLE = 1 << 16

    def __init__(self, colour_scale: bqplot.ColorScale) -> None:
        self.x_scale = bqplot.LinearScale()
        self.y_scale = bqplot.LinearScale(min=0.0)
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="value", tick_format=".2~g")
        self.bars = bqplot.Bars(
            x=np.zeros(0),
            y=np.zeros(0),
            color=np.zeros(0),
            scales={"x": self.x_scale, "y": self.y_scale, "color": colour_scale},
            padding=0.0,
            stroke="#777777",
            stroke_width=0.3,
        )
        self.figure = bqplot.Figure(
            marks=[self.bars],
            axes=[
                self.x_axis,
                bqplot.Axis(scale=self.y_scale, side="left", label="count", tick_format="~s"),
            ],
            title="histogram",
            title_style={"font-size": "12px"},
            fig_margin={"top": 30, "bottom": 45, "left": 55, "right": 15},
            layout=ipywidgets.Layout(width="340px", height="215px"),
        )
        self.figure.add_class("nnviz-histogram")
        self.counts: np.ndarray = np.zeros(0)

    @classmethod
    def count(cls, frame: np.ndarray, low: float, high: float) -> tuple:
        """Histogram ``frame`` over ``[low, high]``: returns ``(centres, counts, title)``.

        Frames larger than :attr:`SAMPLE` values are histogrammed from an evenly strided
        sample (the title says so): the shape of a distribution needs no more.
        """
        values = np.asarray(frame, dtype=np.float32).ravel()
        sampled = values.size > cls.SAMPLE
        if sampled:
            values = values[:: -(-values.size // cls.SAMPLE)]
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        clipped = np.clip(finite, low, high)
        outside = int(np.count_nonzero(clipped != finite))
        # equal bins over a known range: a bin number per value and one bincount (several
        # times faster than np.histogram, which also handles uneven bins)
        where = ((clipped - np.float32(low)) * np.float32(cls.BINS / (high - low))).astype(np.intp)
        np.clip(where, 0, cls.BINS - 1, out=where)
        counts = np.bincount(where, minlength=cls.BINS)
        edges = np.linspace(low, high, cls.BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        title = "histogram" + (f" ({values.size:,}-value sample)" if sampled else "")
        if outside:
            title += f", {outside} outside the colour range (in the end bins)"
        return centres, counts, title

    def show(self, frame: np.ndarray, low: float, high: float) -> None:
        """Histogram ``frame`` over ``[low, high]``."""
        self.show_counts(*self.count(frame, low, high))

    def show_counts(self, centres: np.ndarray, counts: np.ndarray, title: str) -> None:
        """Show counts computed by :meth:`count`."""
        centres = np.asarray(centres, dtype=np.float64)
        if len(centres) > 1:
            half = (centres[1] - centres[0]) / 2
            ticks = np.linspace(centres[0] - half, centres[-1] + half, 5)
            # a symmetric range puts a tick at 0: make it exactly 0, not 5.6e-17
            ticks[np.abs(ticks) < 1e-9 * np.abs(ticks).max()] = 0.0
            if not np.array_equal(self.x_axis.tick_values, ticks):
                self.x_axis.tick_values = ticks
        with self.bars.hold_sync():
            self.bars.x = centres
            self.bars.y = np.asarray(counts, dtype=np.float64)
            self.bars.color = np.asarray(centres, dtype=np.float64)
        self.figure.title = title
        self.counts = np.asarray(counts)
