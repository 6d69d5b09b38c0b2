"""The update norm of a training step, estimated from a fixed sample of each parameter's elements.

The exact norm of a step's update needs the weights from before the step, a full copy of every
parameter. Instead, :class:`UpdateSample` keeps a fixed subset of each parameter's elements: a
strided sample, with a stride ``s`` near ``numel / 64`` (at least :data:`MINIMUM` elements)
chosen coprime to the length of a row (so the sample visits every column, every input channel and
kernel position alike), and an offset drawn once at random in ``[0, s)``; the few elements past
the last whole stride (the tail) are always included. A parameter of at most ``2 x MINIMUM``
elements (or one whose coprime stride would leave fewer than ``MINIMUM / 2``) is kept whole.
Before a step the sampled values are gathered into one flat buffer per (device, dtype); after it
they are gathered again (into a transient buffer) and subtracted in place, and one fused norm
gives each piece's norm. No index is
stored: the sample is a strided view of the parameter (only a parameter whose elements do not
fill one block of memory, which is rare, is gathered by index).

The estimate of a parameter's squared update norm is ``s * |sampled update|^2 + |tail update|^2``:
every element is in the sample with probability ``1/s`` under the random offset, so the estimate
is unbiased for the squared norm (its square root is very slightly biased low). Its error, measured
on real models, is in ``docs/recorder.md``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nnviz_widgets.record.layouts import flat_view, norm_operand

__all__ = ["MINIMUM", "SAMPLE_STRIDE", "UpdateSample"]

#: Elements sampled from a parameter at least; a parameter of up to twice this is kept whole.
MINIMUM = 4096
#: The sample keeps about one element in this many (memory: 1 / SAMPLE_STRIDE of the parameter).
SAMPLE_STRIDE = 64
#: The sample is the same for every Recorder of a model of the same shapes.
SEED = 0


class _Piece:
    """One part of a parameter's sample: a 1-D view (or the index of a gather) and its weight."""

    __slots__ = ("index", "param", "start", "step", "stop", "weight")

    def __init__(self, param: int, start: int, stop: int, step: int, weight: float) -> None:
        self.param = param
        self.start, self.stop, self.step = start, stop, step
        self.weight = weight
        self.index: torch.Tensor | None = None  # for a parameter with no flat view (rare)

    @property
    def size(self) -> int:
        return len(range(self.start, self.stop, self.step))


class _Group:
    """The pieces of one (device, dtype): their views and one flat buffer."""

    def __init__(self, pieces: list[_Piece], like: torch.Tensor) -> None:
        self.pieces = pieces
        total = sum(piece.size for piece in pieces)
        self.before = torch.empty(total, dtype=like.dtype, device=like.device)
        # after the step the buffer holds before - after: minus the update, piece by piece
        self.differences = list(self.before.split([piece.size for piece in pieces]))
        self.views: list[torch.Tensor] = []
        self.gathered: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    def bind(self, params: list[torch.Tensor]) -> None:
        """Make the views of the parameters' current storage."""
        self.views, self.gathered = [], []
        for position, piece in enumerate(self.pieces):
            flat = flat_view(params[piece.param])
            if flat is None:  # overlapping or gapped strides: gather by index every time
                if piece.index is None or piece.index.device != self.before.device:
                    piece.index = torch.arange(
                        piece.start, piece.stop, piece.step, device=self.before.device
                    )
                self.gathered.append((position, params[piece.param], piece.index))
                self.views.append(self.before[:0])  # replaced at each gather
            else:
                self.views.append(flat[piece.start : piece.stop : piece.step])

    def gather(self, out: torch.Tensor | None = None) -> torch.Tensor:
        views = self.views
        if self.gathered:
            views = list(views)
            for position, param, index in self.gathered:
                views[position] = torch.take(param, index)
        return torch.cat(views, out=out)

    @property
    def nbytes(self) -> int:
        indices = sum(p.index.nbytes for p in self.pieces if p.index is not None)
        return self.before.nbytes + indices


class UpdateSample:
    """A fixed sample of each parameter's elements, to estimate the norm of each step's update.

    Parameters
    ----------
    params : list of torch.nn.Parameter
        The recorded parameters (each once).

    Notes
    -----
    Call :meth:`gather` before the step and :meth:`differences` after it; pass the latter to
    ``torch._foreach_norm`` (one fused norm together with the weights) and the norms, on the
    host, to :meth:`squared_updates` with the :attr:`weights` they were taken with. If a
    parameter's storage is replaced (``param.data = ...``, a wider tensor included,
    ``model.to(...)``), the sample is made again (on the parameter's device, in its dtype) at
    the next :meth:`gather`, or at :meth:`differences`, whose update is then unknown (NaN).
    """

    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        self._params = params
        self._build()

    @torch.no_grad()  # views of the parameters without autograd history
    def _build(self) -> None:
        """Choose the sample and make its buffers and views (again when a parameter moved)."""
        params = self._params
        rng = np.random.default_rng(SEED)
        by_kind: dict[tuple, list[_Piece]] = {}
        for i, param in enumerate(params):
            for piece in _pieces(i, param, rng):
                by_kind.setdefault((param.device, param.dtype), []).append(piece)
        self._groups = [_Group(group, params[group[0].param]) for group in by_kind.values()]
        # the pieces in the order of differences(), each as a weighted row of its parameter
        ordered = [piece for group in self._groups for piece in group.pieces]
        self._weights = np.zeros((len(ordered), len(params)))
        for row, piece in enumerate(ordered):
            self._weights[row, piece.param] = piece.weight
        # the norms' operands: the buffer's pieces, as real views when complex
        self._differences = [norm_operand(d) for group in self._groups for d in group.differences]
        self._storage = self._storage_now()
        for group in self._groups:
            group.bind(params)

    def _storage_now(self) -> list[tuple[int, int]]:
        """Where each parameter's values are and how many: changed by ``param.data = ...``."""
        return [(p.data_ptr(), p.numel()) for p in self._params]

    @property
    def weights(self) -> np.ndarray:
        """``(pieces, parameters)``: each piece's weight in its parameter's squared update, for
        :meth:`squared_updates`; a new array whenever the sample is made again."""
        return self._weights

    @property
    def pieces(self) -> int:
        """How many tensors :meth:`differences` returns."""
        return len(self._differences)

    @property
    def size(self) -> int:
        """How many elements the sample holds, in all."""
        return sum(group.before.numel() for group in self._groups)

    @property
    def nbytes(self) -> int:
        """Device bytes held: the flat buffers (and the index of a parameter with no flat view,
        if any). :meth:`differences` also needs as many bytes again while it runs."""
        return sum(group.nbytes for group in self._groups)

    @torch.no_grad()
    def gather(self) -> None:
        """Keep the sampled values as they are now (before the step)."""
        if self._storage_now() != self._storage:
            self._build()  # param.data was replaced: model.to(...), load into a new tensor
        for group in self._groups:
            group.gather(group.before)

    @torch.no_grad()
    def differences(self) -> list[torch.Tensor]:
        """The sampled values' change since :meth:`gather` (with its sign flipped: the norm is
        the same), one real tensor per piece, in the buffer :meth:`gather` filled; NaN when a
        parameter's storage was replaced since (the sample is made again for the next step)."""
        if self._storage_now() != self._storage:
            self._build()
            for group in self._groups:
                group.before.fill_(math.nan)
            return self._differences
        for group in self._groups:
            group.before.sub_(group.gather())  # the gather is a transient buffer of that size
        return self._differences

    def squared_updates(
        self, piece_norms: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """Estimated squared update norms per parameter, from the norms of :meth:`differences`
        (``(..., pieces)`` to ``(..., parameters)``) and the :attr:`weights` they were taken
        with (by default the current ones)."""
        weights = self._weights if weights is None else weights
        # einsum, not @: no BLAS call in the training thread (docs/architecture.md, "Facts")
        return np.einsum("...q,qp->...p", piece_norms.astype(np.float64) ** 2, weights)


def _pieces(index: int, param: torch.Tensor, rng: np.random.Generator) -> list[_Piece]:
    """The pieces of one parameter's sample: the whole of a small one; a strided sample from a
    random offset and the tail past the last whole stride of a large one."""
    n = param.numel()
    if n <= 2 * MINIMUM:
        return [_Piece(index, 0, n, 1, 1.0)] if n else []
    stride = _coprime_stride(max(2, n // max(MINIMUM, math.ceil(n / SAMPLE_STRIDE))), param)
    count = n // stride
    if count < MINIMUM // 2:  # a small parameter whose rows share the small strides' factors
        return [_Piece(index, 0, n, 1, 1.0)]
    offset = int(rng.integers(stride))
    pieces = [_Piece(index, offset, offset + stride * (count - 1) + 1, stride, float(stride))]
    if count * stride < n:
        pieces.append(_Piece(index, count * stride, n, 1, 1.0))
    return pieces


def _coprime_stride(stride: int, param: torch.Tensor) -> int:
    """The stride nearest ``stride`` (smaller first, down to half: more elements) that is coprime
    to the length of a row, so that the sample visits every column alike."""
    row = _row_length(param)
    for smaller in range(stride, max(1, stride // 2), -1):  # at most twice the elements
        if math.gcd(smaller, row) == 1:
            return smaller
    while math.gcd(stride, row) != 1:
        stride += 1
    return stride


def _row_length(param: torch.Tensor) -> int:
    """How many elements one step along the outermost dimension spans, in the order the sample
    walks them: memory order for a view (a transposed weight's rows are its columns)."""
    if param.ndim < 2:
        return param.numel()
    outer = 0
    if not param.is_contiguous() and flat_view(param) is not None:
        outer = max(range(param.ndim), key=param.stride)
    return param.numel() // param.shape[outer]
