"""How a recorded frame becomes a 2-D picture: the tensor-to-picture rules.

A frame of any shape becomes one :class:`Picture`: a matrix, or a mosaic of small maps with
one-cell gaps (:mod:`render.mosaic`), that knows what its rows and columns are and which tensor
element each cell came from (``docs/architecture.md``, "Pictures"). Parameters (weights, biases,
their gradients and updates) follow one set of rules, per-sample quantities (activations, output
gradients, the probe and its saliency) another, attention maps a third. What a layer's info says
of it (``channel_first``, heads, gates) decides between them; the rules for transformers and
recurrent layers are in :mod:`render.sequence`. Numpy only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from nnviz_widgets.render.mosaic import grid_mosaic, mosaic
from nnviz_widgets.render.picture import Picture
from nnviz_widgets.render.sequence import (
    attention_maps,
    is_recurrent,
    sequence_parameter,
    tokens_by_features,
)

__all__ = ["INPUT_QUANTITIES", "Picture", "layout_frame", "quantity_kind"]

#: Quantities that are laid out like the probe input (one image per sample).
INPUT_QUANTITIES = ("probe", "saliency")
#: Module types whose 3-D outputs are (samples, channels, positions), for layer infos that do
#: not say (``channel_first``); with no type at all, 3-D outputs are taken as channels first.
_CHANNEL_FIRST_TYPES = re.compile(r"Conv|BatchNorm|InstanceNorm|GroupNorm|Pool")

#: ``index(sample, channel, r, c)``: the tensor index of a pixel of a per-sample image.
_PixelIndex = Callable[[int, int, int, int], tuple]


def quantity_kind(quantity: str) -> str:
    """Which layout family a quantity belongs to: ``"parameter"``, ``"activation"``,
    ``"attention"`` or ``"input"``.

    ``activation``, ``output_grad`` and their ``[k]`` variants (a module called k times per
    forward) are activations; ``attention`` (and ``attention[k]``), a MultiheadAttention's
    weights per head, is attention; ``probe`` and ``saliency`` are input-shaped; everything
    else (``weight``, ``bias_grad``, ``weight_ih_l0_update``, ``row_norm``, ...) is shaped like
    a parameter.
    """
    base = re.sub(r"\[\d+\]$", "", quantity)
    if base in ("activation", "output_grad"):
        return "activation"
    if base == "attention":
        return "attention"
    if base in INPUT_QUANTITIES:
        return "input"
    return "parameter"


def parameter_name(quantity: str) -> str:
    """The parameter a parameter quantity shows: ``weight`` for ``weight_grad`` and ``update``,
    ``in_proj_bias`` for ``in_proj_bias_update``, ..."""
    if quantity == "update":
        return "weight"
    return re.sub(r"_(grad|update)$", "", quantity)


def layout_frame(
    frame: np.ndarray,
    quantity: str,
    *,
    layer_type: str = "",
    probe_shape: Sequence[int] | None = None,
    sample: int = 0,
    channel: int = -1,
    layer_info: Mapping | None = None,
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
        A single channel (feature map, output channel of a conv kernel, head of an attention
        map); -1 shows all.
    layer_info : mapping, optional
        ``Recording.layer_info(layer)``: its ``type`` (when ``layer_type`` is not given),
        ``channel_first``, ``heads``, ``gates``, ``probe_rows``, ... decide the layout of
        sequence models (:mod:`render.sequence`).

    Returns
    -------
    Picture
    """
    info = layer_info or {}
    layer_type = layer_type or str(info.get("type", ""))
    kind = quantity_kind(quantity)
    if kind == "input" and np.asarray(frame).dtype.kind in "iub" and np.ndim(frame) == 2:
        return _token_ids(np.asarray(frame, dtype=np.float32))
    frame = np.asarray(frame, dtype=np.float32)
    if kind == "attention" and frame.ndim == 4:
        return attention_maps(frame, sample, channel)
    if kind == "parameter":
        special = sequence_parameter(frame, quantity, parameter_name(quantity), layer_type, info)
        if special is not None:
            return special
        return _layout_parameter(frame, layer_type, probe_shape, channel)
    if frame.ndim == 3 and kind == "activation" and not _channel_first(layer_type, info):
        return tokens_by_features(
            frame,
            min(sample, frame.shape[0] - 1),
            recurrent=is_recurrent(layer_type, info),
            bidirectional=bool(info.get("bidirectional")),
        )
    return _layout_per_sample(frame, kind, sample, channel)


def _channel_first(layer_type: str, info: Mapping) -> bool:
    """Whether a layer's 3-D outputs are (samples, channels, positions)."""
    if "channel_first" in info:
        return bool(info["channel_first"])
    return not layer_type or bool(_CHANNEL_FIRST_TYPES.search(layer_type))


def _token_ids(frame: np.ndarray) -> Picture:
    """An integer probe ``(samples, tokens)``: the token ids, a row per sample."""
    samples, tokens = frame.shape
    return Picture(
        frame, None, "probe sample", "token position", f"{samples} samples x {tokens} token ids"
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


#: A 1-D frame longer than this is wrapped into rows (a single row of 500 biases is a strip a
#: pixel wide per value); rows take one of these lengths, so a row's first unit is easy to read.
ONE_ROW_MOST = 64
_ROW_LENGTHS = (10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 500, 512, 1000, 1024)


def _one_row(frame: np.ndarray, layout: str) -> Picture:
    """A 0-D or 1-D frame as a single row of units; a long one wrapped into rows of a round
    length, about four times as wide as tall (``docs/explorer.md``, "Tall and wide pictures")."""
    values = frame.reshape(-1)
    count = values.size
    if count <= ONE_ROW_MOST:
        return Picture(values.reshape(1, -1), None, "", "unit", layout, locate=lambda r, c: (c,))
    wanted = math.sqrt(4 * count)
    length = min(_ROW_LENGTHS, key=lambda n: abs(math.log(n / wanted)))
    rows = -(-count // length)
    grid = np.zeros(rows * length, np.float32)
    grid[:count] = values
    gaps = np.arange(rows * length) >= count  # the last row's cells past the end
    gaps = gaps.reshape(rows, length) if gaps.any() else None

    def locate(r: int, c: int) -> tuple | None:
        unit = r * length + c
        return (unit,) if unit < count else None

    return Picture(
        grid.reshape(rows, length),
        gaps,
        f"row of {length} units",
        "unit in the row",
        f"{layout}, {length} a row",
        locate=locate,
    )


# --------------------------------------------------------------------------- parameters
def _layout_parameter(
    frame: np.ndarray, layer_type: str, probe_shape: Sequence[int] | None, channel: int
) -> Picture:
    if frame.ndim == 0:
        return Picture(frame.reshape(1, 1), None, "", "", "a single value")
    if frame.ndim == 1:
        return _one_row(frame, f"{_count(frame.size, 'value')}, one per unit")
    if frame.ndim == 4:
        return _conv_kernels(frame, channel)
    if frame.ndim == 2:
        return _weight_matrix(frame, layer_type, probe_shape)
    # Conv1d (out, in, k), Conv3d and others: one row per output unit
    flat = frame.reshape(frame.shape[0], -1)
    rest = frame.shape[1:]
    return Picture(
        flat,
        None,
        "output unit",
        "x".join(str(s) for s in rest) + " (flattened)",
        f"{frame.shape[0]} rows of {flat.shape[1]} values, flattened from {frame.shape}",
        locate=lambda r, c: (r, *np.unravel_index(c, rest)),
    )


def _conv_kernels(frame: np.ndarray, channel: int) -> Picture:
    """Conv2d weights ``(out, in, kh, kw)``: one output channel's kernels, or every kernel."""
    out_channels, in_channels, kh, kw = frame.shape
    if 0 <= channel < out_channels:
        return mosaic(
            frame[channel],
            noun="input channels",
            layout=f"output channel {channel}: {_count(in_channels, 'kernel')} of {kh}x{kw}, "
            "one per input channel",
            index_of=lambda n, r, c: (channel, n, r, c),
        )
    if in_channels == 1:
        return mosaic(
            frame[:, 0],
            noun="output channels",
            layout=f"{_count(out_channels, 'kernel')} of {kh}x{kw}, one per output channel",
            index_of=lambda n, r, c: (n, 0, r, c),
        )
    return grid_mosaic(
        frame,
        row_label="output channel",
        column_label="input channel",
        layout=f"{out_channels}x{in_channels} kernels of {kh}x{kw} (output x input channels)",
        index_of=lambda i, j, r, c: (i, j, r, c),
    )


def _weight_matrix(
    frame: np.ndarray, layer_type: str, probe_shape: Sequence[int] | None
) -> Picture:
    """A 2-D weight ``(units, features)``: the matrix, or one image per unit on image inputs."""
    units, features = frame.shape
    image = _probe_image_shape(probe_shape)
    if image is not None and image[0] == 1 and image[1] * image[2] == features and units > 1:
        # a first layer on images: each unit's weights read best as the image they match
        _, h, w = image
        return mosaic(
            frame.reshape(units, h, w),
            noun="units",
            layout=f"{_count(units, 'unit')}, each unit's {features} input weights as a "
            f"{h}x{w} image",
            index_of=lambda n, r, c: (n, r * w + c),
        )
    return Picture(
        frame,
        None,
        "output unit",
        "input feature",
        f"{units}x{features} matrix (outputs x inputs)" + (f", {layer_type}" if layer_type else ""),
    )


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


# --------------------------------------------------------------------------- per sample
def _layout_per_sample(frame: np.ndarray, kind: str, sample: int, channel: int) -> Picture:
    if frame.ndim <= 1:
        return _one_row(frame, f"{frame.size} values")
    sample = min(sample, frame.shape[0] - 1)
    images = _as_images(frame, kind)
    if images is None:
        return _samples_as_rows(frame, sample)
    maps, index = images
    what = "feature map" if kind == "activation" else "channel"
    if sample < 0:
        return _every_sample(maps, index, what, channel)
    return _one_sample(maps, index, what, sample, channel)


def _as_images(frame: np.ndarray, kind: str) -> tuple[np.ndarray, _PixelIndex] | None:
    """An image-like frame as maps ``(samples, channels, h, w)`` and the index of a pixel.

    None when the frame is not image-like.
    """
    if frame.ndim == 4:
        return frame, lambda s, k, r, c: (s, k, r, c)
    if frame.ndim == 3 and kind == "input":
        return frame[:, None], lambda s, k, r, c: (s, r, c)
    side = _image_side(frame.shape[1]) if frame.ndim == 2 and kind == "input" else None
    if side:
        # an (N, F) probe shown as images: a pixel maps back to a flat index
        return frame.reshape(frame.shape[0], 1, side, side), lambda s, k, r, c: (s, r * side + c)
    return None


def _samples_as_rows(frame: np.ndarray, sample: int) -> Picture:
    """A frame that is not image-like: samples x units, or one sample's channels x positions."""
    samples = frame.shape[0]
    if frame.ndim == 2:
        return Picture(
            frame, None, "probe sample", "unit", f"{samples} samples x {frame.shape[1]} units"
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


def _every_sample(maps: np.ndarray, index: _PixelIndex, what: str, channel: int) -> Picture:
    """Every sample: one chosen channel per sample, or rows of samples by columns of channels."""
    samples, channels, h, w = maps.shape
    if 0 <= channel < channels:
        return mosaic(
            maps[:, channel],
            noun="probe samples",
            layout=f"{what} {channel} of all {samples} samples, {h}x{w} each",
            index_of=lambda n, r, c: index(n, channel, r, c),
        )
    if channels == 1:
        return mosaic(
            maps[:, 0],
            noun="probe samples",
            layout=f"all {samples} samples, {h}x{w} each",
            index_of=lambda n, r, c: index(n, 0, r, c),
        )
    return grid_mosaic(
        maps,
        row_label="probe sample",
        column_label=what,
        layout=f"{samples} samples x {channels} {what}s of {h}x{w}",
        index_of=index,
    )


def _one_sample(
    maps: np.ndarray, index: _PixelIndex, what: str, sample: int, channel: int
) -> Picture:
    """One sample: a single image (one channel), or a mosaic of its channels."""
    _, channels, h, w = maps.shape
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
    return mosaic(
        maps[sample],
        noun=f"{what}s",
        layout=f"sample {sample}: {channels} {what}s of {h}x{w}",
        index_of=lambda n, r, c: index(sample, n, r, c),
    )
