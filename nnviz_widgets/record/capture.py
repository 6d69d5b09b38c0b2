"""A tensor becomes a frame: a small numpy copy for memory, the full one for disk, and its facts.

Every frame a Recorder keeps passes through :class:`FrameCapture`: weights, gradients and updates
at a snapshot, and activations, output gradients and saliency in the probe pass. What it takes,
on the tensor's device and in float32 (a bf16 reduction cannot count past 256 exactly):

- the facts that stay exact whatever is kept: the count of NaN and Inf, the squared norm, the
  smallest and largest finite values, the dead fraction; and a histogram of the finite values
  (of an evenly strided sample past :data:`HISTOGRAM_SAMPLE` values);
- the frame kept in memory: the tensor itself when it has at most ``memory_values`` values,
  otherwise a block-mean *preview* of at most that many values (each dimension pooled once,
  the samples of a per-sample frame never): what the explorer draws, prepared once here so that
  a scrub never reads a full tensor (``docs/architecture.md``, "Where time goes");
- the full tensor, only when it is going to disk (``keep_full``), block-averaged only past
  ``full_values`` values.

A large tensor costs little beyond itself: the squared norm is summed in float64 from float32
norms of short rows (never a float64 copy of the tensor), block means pool on views in memory
order (:mod:`~nnviz_widgets.record.pooling`), and a complex tensor is kept as its magnitudes
(one float32 copy). ``docs/recorder.md`` ("Memory and disk") has the figures.

On a GPU each frame's extremes are read at once (one short wait per frame); the copies of its
values to the host are queued without waiting (pinned buffers, non-blocking copies), and the
snapshot waits for them once, when the first frame is read. On a CPU they are plain copies.
:func:`add_frame` and :func:`add_missing` put a frame, or the reason for its absence, into a
:class:`~nnviz_widgets.recording.SnapshotData`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nnviz_widgets.record.layouts import flat_view
from nnviz_widgets.record.pooling import MIN_PREVIEW_VALUES, block_mean, plan_memory_values
from nnviz_widgets.recording import HISTOGRAM_BINS, SnapshotData

__all__ = [
    "Captured",
    "FrameCapture",
    "add_frame",
    "add_missing",
    "block_mean",
    "plan_memory_values",
    "squared_norm",
]

#: Most values a frame's histogram counts (an evenly strided sample past that).
HISTOGRAM_SAMPLE = 1 << 18
#: Frames up to this many values kept whole on a CPU are measured with numpy, on the host copy.
SMALL = 1 << 18
#: Values per row whose float32 norm is taken before the rows' squares are summed in float64.
NORM_ROW = 1024
#: What the frame of a complex tensor shows.
COMPLEX_NOTE = "complex values: the frame shows their magnitudes |z|"


class Captured:
    """One frame taken from a tensor, and the exact facts about the tensor.

    The copies to the host may still be on their way when it is made (on a GPU); reading any
    attribute waits for them.

    Attributes
    ----------
    array : numpy.ndarray
        The frame kept in memory, float32: the tensor itself, or its block-mean preview.
    shape : tuple of int
        The tensor's shape.
    full_shape : tuple of int
        The shape of the tensor as kept at full size: its own, or its block average past
        ``full_values`` (then :attr:`note` says so).
    full : numpy.ndarray or None
        The tensor at full size (block-averaged past ``full_values``) when it goes to disk and
        ``array`` is a preview; None otherwise.
    histogram : numpy.ndarray or None
        ``HISTOGRAM_BINS`` counts (float64) of the finite values, in equal bins from
        ``minimum`` to ``maximum``, for a tensor kept as a preview; None for one kept whole
        (the Recording counts its values when asked).
    nonfinite, squared_norm, minimum, maximum, dead_fraction : float
        NaN and Inf count; squared L2 norm (NaN for per-sample frames, where it is not used);
        smallest and largest finite values (NaN when there are none); the share of units (along
        the unit dimension) that are <= 0 everywhere (NaN without a unit dimension).
    note : str or None
        How the full tensor was block-averaged past ``full_values``, if it was.
    """

    __slots__ = ("_host", "_pending", "full_shape", "note", "shape")

    def __init__(
        self,
        pending: dict[str, object],
        shape: tuple[int, ...],
        full_shape: tuple[int, ...],
        note: str | None,
    ) -> None:
        self._pending = pending  # numpy arrays, or pinned torch tensors still being filled
        self._host: dict[str, np.ndarray] | None = None
        self.shape = shape
        self.full_shape = full_shape
        self.note = note

    def _values(self) -> dict[str, np.ndarray]:
        if self._host is None:
            pinned = [v for v in self._pending.values() if isinstance(v, torch.Tensor)]
            if pinned:
                torch.cuda.current_stream().synchronize()  # one wait for every queued copy
            # arrays numpy owns: a Recording holds no torch object, and no pinned memory
            self._host = {
                name: np.array(value.numpy()) if isinstance(value, torch.Tensor) else value
                for name, value in self._pending.items()
            }
            self._pending = {}
        return self._host

    @property
    def array(self) -> np.ndarray:
        return self._values()["frame"]

    @property
    def full(self) -> np.ndarray | None:
        return self._values().get("full")

    @property
    def histogram(self) -> np.ndarray | None:
        return self._values().get("histogram")

    @property
    def nonfinite(self) -> float:
        return float(self._values()["facts"][0])

    @property
    def squared_norm(self) -> float:
        return float(self._values()["facts"][1])

    @property
    def minimum(self) -> float:
        return float(self._values()["facts"][2])

    @property
    def maximum(self) -> float:
        return float(self._values()["facts"][3])

    @property
    def dead_fraction(self) -> float:
        return float(self._values()["facts"][4])

    @property
    def reduced(self) -> bool:
        """Whether :attr:`array` is a block-mean preview of the tensor kept at full size."""
        return self.array.shape != self.full_shape


class FrameCapture:
    """Turns tensors into :class:`Captured` frames.

    Parameters
    ----------
    memory_values : int
        Most values a frame kept in memory has; larger tensors are kept as previews.
    full_values : int
        Most values a full frame has; larger tensors are block-averaged to fit before copying.
    keep_full : bool
        Whether full tensors are wanted (the Recorder writes them to disk).
    """

    def __init__(self, memory_values: int, full_values: int, *, keep_full: bool) -> None:
        self.memory_values = max(int(memory_values), MIN_PREVIEW_VALUES)
        self.full_values = int(full_values)
        self.keep_full = keep_full

    def __call__(
        self, tensor: torch.Tensor, *, keep_first: bool, unit_dim: int | None = None
    ) -> Captured:
        """Capture ``tensor``; ``keep_first`` keeps dimension 0 (samples) whole when reducing.

        ``unit_dim`` is the dimension that holds the units, for the dead fraction.
        """
        with torch.no_grad():
            tensor = tensor.detach()
            complex_note = None
            if tensor.is_complex():  # magnitudes: no kernel below takes complex values
                tensor, complex_note = tensor.abs(), COMPLEX_NOTE
            if tensor.dtype != torch.float32:
                tensor = tensor.float()
            shape = tuple(tensor.shape)
            if not tensor.is_cuda and tensor.numel() <= min(
                SMALL, self.memory_values, self.full_values
            ):
                # kept whole: one copy, then numpy, whose calls cost a few microseconds where
                # torch's cost tens (a LeNet snapshot is forty such frames)
                array = np.array(tensor.numpy())
                # no histogram: the Recording counts the whole frame's values when asked
                pending = {"facts": _small_facts(array, keep_first, unit_dim), "frame": array}
                return Captured(pending, shape, shape, complex_note)
            facts = _facts(tensor, keep_first, unit_dim)
            pending = {"facts": facts}
            pending["histogram"] = _histogram(
                tensor, float(facts[2]), float(facts[3]), finite_only=bool(facts[0] > 0)
            )
            full = block_mean(tensor, self.full_values, keep_first=keep_first)
            note = complex_note
            if tuple(full.shape) != shape:
                reduced = (
                    f"block-averaged from {shape} to {tuple(full.shape)} to stay under "
                    f"{self.full_values:,} values per frame"
                )
                note = reduced if note is None else f"{note}; {reduced}"
            preview = block_mean(full, self.memory_values, keep_first=keep_first)
            pending["frame"] = preview
            if self.keep_full and preview.shape != full.shape:
                pending["full"] = full
            host = {k: _to_host(v) for k, v in pending.items()}
            return Captured(host, shape, tuple(full.shape), note)


def _facts(tensor: torch.Tensor, keep_first: bool, unit_dim: int | None) -> torch.Tensor:
    """``[nonfinite, squared norm, finite min, finite max, dead fraction]`` (float64).

    The extremes come first, in one pass: when both are finite there is no NaN or Inf in the
    tensor (a NaN makes them NaN), and the masked passes that would find them are skipped. The
    squared norm, only for parameters (the snapshot's weight norm and update ratio), is summed
    in float64: exact, at about the cost of the rest of the frame on a CPU.
    """
    nan = math.nan
    minimum = maximum = nan
    nonfinite = 0.0
    if tensor.numel():
        low, high = torch.aminmax(tensor)
        minimum, maximum = float(low), float(high)  # one wait on a GPU, per frame
        if not (math.isfinite(minimum) and math.isfinite(maximum)):
            finite = torch.isfinite(tensor)
            nonfinite = float((~finite).sum())
            found = bool(finite.any())
            minimum = float(torch.where(finite, tensor, math.inf).amin()) if found else nan
            maximum = float(torch.where(finite, tensor, -math.inf).amax()) if found else nan
    norm = nan if keep_first else squared_norm(tensor)
    dead = nan
    if unit_dim is not None and tensor.ndim >= 2:
        others = [d for d in range(tensor.ndim) if d != unit_dim]
        dead = float((tensor.amax(dim=others) <= 0).float().mean())
    return torch.tensor([nonfinite, norm, minimum, maximum, dead], dtype=torch.float64)


def _small_facts(array: np.ndarray, keep_first: bool, unit_dim: int | None) -> np.ndarray:
    """What :func:`_facts` takes, for a small array on the host."""
    nan = math.nan
    minimum = maximum = nan
    nonfinite = 0.0
    values = array.reshape(-1)
    if values.size:
        minimum, maximum = float(values.min()), float(values.max())
        if not (math.isfinite(minimum) and math.isfinite(maximum)):
            finite = np.isfinite(values)
            nonfinite = float(values.size - np.count_nonzero(finite))
            values = values[finite]
            minimum = float(values.min()) if values.size else nan
            maximum = float(values.max()) if values.size else nan
    norm = nan
    if not keep_first:
        # squares summed in float64 by a ufunc: np.dot would call BLAS, whose threads then spin
        # against torch's (docs/architecture.md, "Facts")
        norm = float(np.square(array.reshape(-1), dtype=np.float64).sum())
    dead = nan
    if unit_dim is not None and array.ndim >= 2:
        others = tuple(d for d in range(array.ndim) if d != unit_dim)
        dead = float((array.max(axis=others) <= 0).mean())
    return np.array([nonfinite, norm, minimum, maximum, dead], dtype=np.float64)


def _histogram(tensor: torch.Tensor, low: float, high: float, *, finite_only: bool) -> torch.Tensor:
    """``HISTOGRAM_BINS`` counts of the finite values from ``low`` to ``high``.

    Past :data:`HISTOGRAM_SAMPLE` values the counts are of an evenly strided sample, scaled to
    the tensor's size: a histogram shows a distribution's shape, which such a sample keeps,
    at a cost that does not grow with the tensor (a full ``histc`` of 2.4M values costs more
    than the rest of a frame's capture together).
    """
    values = _flat(tensor)  # memory order: a histogram does not care, and a view costs nothing
    if not values.numel() or not (math.isfinite(low) and math.isfinite(high)):
        return torch.zeros(HISTOGRAM_BINS, dtype=torch.float64)
    stride = max(1, -(-values.numel() // HISTOGRAM_SAMPLE))
    sample = values[::stride].contiguous()
    if finite_only:
        sample = sample[torch.isfinite(sample)]
    scale = HISTOGRAM_BINS / (high - low) if high > low else 0.0  # one value: all in bin 0
    # a bin number per value and one bincount: several times faster than histc
    bins = ((sample - low) * scale).long().clamp_(0, HISTOGRAM_BINS - 1)
    counts = torch.bincount(bins, minlength=HISTOGRAM_BINS).to(torch.float64).cpu()
    return counts * (values.numel() / max(values[::stride].numel(), 1))


def _to_host(tensor: torch.Tensor) -> object:
    """Start copying to the host: into an array numpy owns on a CPU (a copy: the tensor may be
    changed in place later, by an in-place ReLU after the module); into a pinned buffer with a
    non-blocking copy on a GPU."""
    if tensor.is_cuda:
        host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        host.copy_(tensor, non_blocking=True)
        return host
    array = np.empty(tuple(tensor.shape), dtype=_NUMPY[tensor.dtype])
    torch.from_numpy(array).copy_(tensor)
    return array


_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}


def add_frame(data: SnapshotData, layer: str, quantity: str, captured: Captured) -> None:
    """Put a captured frame and its facts into a snapshot.

    The statistics ``nonfinite_<quantity>``, ``min_<quantity>`` and ``max_<quantity>`` (finite
    extremes) go with every frame: the views colour and describe a frame from them without
    reading it.
    """
    key = (layer, quantity)
    data.frames[key] = captured.array
    if captured.histogram is not None:
        data.histograms[key] = captured.histogram
    if captured.reduced:
        data.reduced[key] = captured.full_shape
        if captured.full is not None:
            data.full[key] = captured.full
    data.statistics[(layer, f"nonfinite_{quantity}")] = captured.nonfinite
    data.statistics[(layer, f"min_{quantity}")] = captured.minimum
    data.statistics[(layer, f"max_{quantity}")] = captured.maximum
    if captured.note:
        data.notes[key] = captured.note


def add_missing(data: SnapshotData, key: tuple[str, str], reason: str) -> None:
    """Say in a snapshot that a frame could not be recorded, and why."""
    data.frames[key] = None  # keeps the quantity's place in the order
    data.missing[key] = reason


def squared_norm(tensor: torch.Tensor) -> float:
    """The squared L2 norm, summed in float64 (a complex tensor's: the sum of ``|z|^2``).

    Rows of :data:`NORM_ROW` values get a float32 norm each and their squares are summed in
    float64: a relative error near 1e-7, without the float64 copy of the whole tensor that a
    float64 norm makes (twice the tensor's bytes, and ten times slower on a CPU).
    """
    if tensor.is_complex():
        tensor = torch.view_as_real(tensor.resolve_conj())
    flat = _flat(tensor)
    if flat.dtype not in (torch.float32, torch.float64):
        flat = flat.float()
    whole = flat.numel() // NORM_ROW * NORM_ROW
    total = torch.zeros((), dtype=torch.float64, device=flat.device)
    if whole:
        rows = torch.linalg.vector_norm(flat[:whole].view(-1, NORM_ROW), dim=1)
        total += rows.double().square().sum()
    if whole < flat.numel():
        total += torch.linalg.vector_norm(flat[whole:], dtype=torch.float64) ** 2
    return float(total)


def _flat(tensor: torch.Tensor) -> torch.Tensor:
    """Every element as a 1-D tensor: a view in memory order when there is one, else a copy."""
    flat = flat_view(tensor)
    return tensor.reshape(-1) if flat is None else flat
