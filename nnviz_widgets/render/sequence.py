"""Pictures of sequence models: the tensor-to-picture rules for transformers and recurrent layers.

:mod:`render.layout` hands these frames here (``docs/explorer.md``, "Transformers and sequence
models"):

- per-sample ``(samples, tokens, features)`` outputs of modules that keep features last
  (Linear, LayerNorm, Embedding, attention, ...) as tokens x features, and recurrent outputs as
  time steps x hidden units (forward and backward apart);
- attention maps ``(samples, heads, target, source)`` as one target x source map per head;
- blocks stacked in one parameter, split apart: Q, K and V of ``in_proj_weight`` and
  ``in_proj_bias`` with each head its own tile, the heads of ``q/k/v_proj_weight`` and of the
  output projection's inputs, the gates of LSTM and GRU weights and biases;
- an Embedding table as the rows of the tokens the probe reads, and its row norms as a grid of
  token ids.

Every picture's ``locate`` gives the index into the frame as recorded. Numpy only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from nnviz_widgets.render.mosaic import grid_mosaic, mosaic
from nnviz_widgets.render.picture import Picture

__all__ = [
    "attention_maps",
    "is_recurrent",
    "sequence_parameter",
    "token_grid",
    "tokens_by_features",
]

#: Recurrent module types, for recordings whose layer info names no gates.
RECURRENT_TYPES = ("RNN", "LSTM", "GRU")
#: Parameters of a recurrent layer whose rows stack the gates: weight_ih_l0, bias_hh_l1_reverse, ...
_GATED = re.compile(r"^(weight|bias)_(ih|hh)_l\d+(_reverse)?$")
_PROJECTIONS = {"q_proj_weight": "Q", "k_proj_weight": "K", "v_proj_weight": "V"}


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def is_recurrent(layer_type: str, info: Mapping) -> bool:
    """Whether a layer's outputs are hidden states over time (RNN, LSTM, GRU)."""
    return "gates" in info or layer_type in RECURRENT_TYPES


# --------------------------------------------------------------------------- per sample
def tokens_by_features(
    frame: np.ndarray, sample: int, *, recurrent: bool = False, bidirectional: bool = False
) -> Picture:
    """A ``(samples, tokens, features)`` frame: one sample's tokens x features, or every sample's.

    Recurrent outputs read as time steps x hidden units; a bidirectional layer's two directions
    (forward first, as PyTorch concatenates them) are shown side by side.
    """
    samples, steps, features = frame.shape
    rows, columns = ("time step", "hidden unit") if recurrent else ("token", "feature")
    if sample < 0:
        return mosaic(
            frame,
            noun="probe samples",
            layout=f"all {samples} samples, {steps} {rows}s x {features} {columns}s each",
            index_of=lambda n, r, c: (n, r, c),
        )
    if recurrent and bidirectional and features % 2 == 0:
        half = features // 2
        tiles = frame[sample].reshape(steps, 2, half).transpose(1, 0, 2)[None]
        return grid_mosaic(
            tiles,
            row_label=rows,
            column_label=f"direction: forward | backward ({half} hidden units each)",
            layout=f"sample {sample}: {steps} time steps x {half} hidden units, "
            "forward then backward",
            index_of=lambda i, j, r, c: (sample, r, j * half + c),
        )
    return Picture(
        np.ascontiguousarray(frame[sample]),
        None,
        rows,
        columns,
        f"sample {sample}: {steps} {rows}s x {features} {columns}s",
        locate=lambda r, c: (sample, r, c),
    )


def attention_maps(frame: np.ndarray, sample: int, head: int) -> Picture:
    """Attention weights ``(samples, heads, target, source)`` as target x source maps.

    One sample's heads side by side (or one head alone), or, for every sample, samples x heads.
    """
    samples, heads, target, source = frame.shape
    size = f"{target} target x {source} source positions"
    if 0 <= head < heads and sample >= 0:
        return Picture(
            np.ascontiguousarray(frame[sample, head]),
            None,
            "target position (query)",
            "source position (key)",
            f"sample {sample}, head {head}: attention weights, {size}",
            locate=lambda r, c: (sample, head, r, c),
        )
    if 0 <= head < heads:
        return mosaic(
            frame[:, head],
            noun="probe samples",
            layout=f"head {head} of all {samples} samples, {size} each",
            index_of=lambda n, r, c: (n, head, r, c),
        )
    if sample >= 0:
        return mosaic(
            frame[sample],
            noun="heads",
            layout=f"sample {sample}: {_count(heads, 'head')}, {size} each",
            index_of=lambda n, r, c: (sample, n, r, c),
        )
    return grid_mosaic(
        frame,
        row_label="probe sample",
        column_label="head",
        layout=f"{samples} samples x {_count(heads, 'head')}, {size} each",
        index_of=lambda i, j, r, c: (i, j, r, c),
    )


# --------------------------------------------------------------------------- parameters
def sequence_parameter(
    frame: np.ndarray, quantity: str, stem: str, layer_type: str, info: Mapping
) -> Picture | None:
    """A parameter (or its ``_grad``/``_update``: ``quantity``, of the parameter ``stem``) of an
    attention, recurrent or embedding layer whose blocks read better apart; None when
    ``frame`` is none of those."""
    heads = int(info.get("heads") or 1)
    if stem in ("in_proj_weight", "in_proj_bias"):
        return _query_key_value(frame, quantity, heads)
    if stem in _PROJECTIONS and frame.ndim == 2 and heads > 1:
        return _head_rows(frame, _PROJECTIONS[stem], heads)
    if stem == "weight" and frame.ndim == 2 and int(info.get("input_heads") or 1) > 1:
        return _head_columns(frame, int(info["input_heads"]))
    gates = tuple(info.get("gates") or ())
    if len(gates) > 1 and _GATED.match(stem):
        return _gates(frame, quantity, gates)
    if stem == "weight" and frame.ndim == 2 and layer_type == "Embedding":
        return _embedding_rows(frame, info)
    if stem == "row_norm" and frame.ndim == 1:
        return token_grid(frame)
    return None


def _query_key_value(frame: np.ndarray, name: str, heads: int) -> Picture | None:
    """``in_proj_weight`` (3E, E) or ``in_proj_bias`` (3E,): Q, K and V side by side, a grid row
    per head."""
    rows = frame.shape[0]
    if frame.ndim not in (1, 2) or rows % (3 * heads):
        return None
    width = rows // 3  # E: one of Q, K, V
    size = width // heads  # rows of one head in one of them
    per_head = f"{_count(heads, 'head')} of {size}"
    if frame.ndim == 1:
        tiles = frame.reshape(3, heads, 1, size).transpose(1, 0, 2, 3)
        return grid_mosaic(
            tiles,
            row_label="head",
            column_label=f"Q | K | V ({size} values per head)",
            layout=f"{name}: the Q, K and V biases ({width} each), {per_head}",
            index_of=lambda i, j, r, c: (j * width + i * size + c,),
        )
    columns = frame.shape[1]
    tiles = frame.reshape(3, heads, size, columns).transpose(1, 0, 2, 3)
    return grid_mosaic(
        tiles,
        row_label=f"head ({size} output units each)",
        column_label=f"Q | K | V ({columns} input features each)",
        layout=f"{name}: the Q, K and V projections ({width}x{columns} each), "
        f"{per_head} output units",
        index_of=lambda i, j, r, c: (j * width + i * size + r, c),
    )


def _head_rows(frame: np.ndarray, which: str, heads: int) -> Picture | None:
    """A separate Q, K or V projection (E, kdim): a tile per head."""
    rows, columns = frame.shape
    if rows % heads:
        return None
    size = rows // heads
    return grid_mosaic(
        frame.reshape(heads, 1, size, columns),
        row_label=f"head ({size} output units each)",
        column_label="input feature",
        layout=f"the {which} projection, {rows}x{columns}, {_count(heads, 'head')} of {size} "
        "output units",
        index_of=lambda i, j, r, c: (i * size + r, c),
    )


def _head_columns(frame: np.ndarray, heads: int) -> Picture | None:
    """An attention's output projection (E, E): its input features a tile per head."""
    rows, columns = frame.shape
    if columns % heads:
        return None
    size = columns // heads
    tiles = frame.reshape(rows, heads, size).transpose(1, 0, 2)[None]
    return grid_mosaic(
        tiles,
        row_label="output unit",
        column_label=f"head ({size} input features each)",
        layout=f"{rows}x{columns} matrix (outputs x inputs), the inputs split by the "
        f"{_count(heads, 'head')} they come from",
        index_of=lambda i, j, r, c: (r, j * size + c),
    )


def _gates(frame: np.ndarray, name: str, gates: tuple[str, ...]) -> Picture | None:
    """An LSTM or GRU weight (gates x hidden, inputs) or bias (gates x hidden,): a tile per gate."""
    count = len(gates)
    if frame.ndim not in (1, 2) or frame.shape[0] % count:
        return None
    hidden = frame.shape[0] // count
    names = " | ".join(gates)
    if frame.ndim == 1:
        return grid_mosaic(
            frame.reshape(count, 1, 1, hidden),
            row_label=f"gate: {', '.join(gates)}",
            column_label="hidden unit",
            layout=f"{name}: {count} gates ({', '.join(gates)}) of {hidden} hidden units",
            index_of=lambda i, j, r, c: (i * hidden + c,),
        )
    columns = frame.shape[1]
    inputs = "hidden units" if "_hh_" in name else "input features"
    return grid_mosaic(
        frame.reshape(count, hidden, columns)[None],
        row_label="hidden unit",
        column_label=f"gate: {names} ({columns} {inputs} each)",
        layout=f"{name}: {count} gates of {hidden} hidden units x {columns} {inputs}",
        index_of=lambda i, j, r, c: (j * hidden + r, c),
    )


def _embedding_rows(frame: np.ndarray, info: Mapping) -> Picture:
    """An Embedding table: the rows of the tokens the probe reads, or every row."""
    rows, features = frame.shape
    declared = int(((info.get("parameters") or {}).get("weight") or [rows])[0])
    chosen = np.asarray(info.get("probe_rows") or [], dtype=np.int64)
    if rows != declared:  # reduced to fit: a row is no longer one token
        return Picture(
            frame,
            None,
            f"tokens (block means of {declared} rows)",
            "embedding feature",
            f"{declared} tokens block-averaged to {rows} rows x {features} embedding features",
        )
    if chosen.size in (0, rows) or chosen.min() < 0 or chosen.max() >= rows:
        return Picture(
            frame, None, "token", "embedding feature", f"{rows} tokens x {features} features"
        )
    return Picture(
        np.ascontiguousarray(frame[chosen]),
        None,
        "token (the rows the probe reads)",
        "embedding feature",
        f"the rows of the {chosen.size} tokens the probe reads (of {rows}), in token order, "
        f"{features} features each",
        locate=lambda r, c: (int(chosen[r]), c),
    )


def token_grid(vector: np.ndarray) -> Picture:
    """One value per token (an Embedding's row norms) as a grid, token id = row x width +
    column; cells past the last token are gaps."""
    count = vector.size
    width = _round_width(count)
    rows = math.ceil(count / width)
    values = np.zeros(rows * width, dtype=np.float32)
    values[:count] = vector
    gaps = None
    if rows * width > count:
        gaps = np.zeros(rows * width, dtype=bool)
        gaps[count:] = True
        gaps = gaps.reshape(rows, width)

    def locate(r: int, c: int) -> tuple | None:
        token = int(r) * width + int(c)
        return (token,) if token < count else None

    return Picture(
        values.reshape(rows, width),
        gaps,
        f"token id, {width} per row",
        f"token id mod {width}",
        f"{count} values, one per token (row norms of the table), {width} tokens per row",
        locate=locate,
    )


def _round_width(count: int) -> int:
    """A round row width (1, 2 or 5 times a power of ten) near the square root of ``count``."""
    if count <= 10:
        return max(count, 1)
    root = math.sqrt(count)
    candidates = [m * 10**k for k in range(7) for m in (1, 2, 5)]
    return min(candidates, key=lambda w: abs(math.log(w / root)))
