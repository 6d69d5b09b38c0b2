"""Tensors in every layout a parameter or its gradient may take, made fit for the reductions.

The step hooks and the snapshots reduce tensors with kernels that take dense real tensors only:
a fused norm has no sparse kernel (``nn.Embedding(sparse=True)`` gives a sparse COO gradient),
and asks for a complex dtype on complex tensors. Training with such tensors must run with a
Recorder as without one (``docs/recorder.md``, "What it never does"), so:

- :func:`norm_operand`: a dense real tensor with the same L2 norm as the given one, without a
  copy where a view does: the tensor itself; the real view of a complex tensor; the values of a
  sparse tensor, duplicates of an uncoalesced COO tensor summed by a sort and an ``index_add``
  (fixed sizes: no host-device synchronisation, unlike ``coalesce()``); None for a layout with
  none (the statistic is then left out, as for a missing gradient).
- :func:`host_dense`: a gradient for a snapshot, dense on the host (a sparse gradient is
  densified there: its dense size is the parameter's, which the snapshot copies anyway).
- :func:`sum_dtype`: the dtype a parameter's gradients are summed in (``mean_gradient=True``).
- :func:`flat_view`: every element of a dense tensor as a 1-D view in memory order (a
  channels-last or transposed tensor included), for reductions whose order does not matter.
"""

from __future__ import annotations

import torch

__all__ = ["describe_layout", "flat_view", "host_dense", "norm_operand", "sum_dtype"]

#: Sparse layouts whose ``values()`` hold each element once (no duplicates to sum).
_COMPRESSED = (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc)


def norm_operand(tensor: torch.Tensor) -> torch.Tensor | None:
    """A dense real tensor whose L2 norm is ``tensor``'s (often ``tensor`` itself), or None."""
    layout = tensor.layout
    if layout is not torch.strided:
        if layout is torch.sparse_coo:
            tensor = _summed_values(tensor)
        elif layout in _COMPRESSED:
            tensor = tensor.values()
        else:  # mkldnn and other layouts: no dense view to reduce
            return None
    if tensor.is_complex():
        tensor = torch.view_as_real(tensor.resolve_conj())
    return tensor


def _summed_values(tensor: torch.Tensor) -> torch.Tensor:
    """The values of a sparse COO tensor, one row per distinct index (duplicates summed).

    An uncoalesced gradient (an Embedding's: one row per token read, repeated tokens repeated)
    has the norm of its summed rows, not of its raw values. ``coalesce()`` would give them, but
    waits for the device to learn how many rows remain; here every size is known in advance.
    """
    values = torch.Tensor._values(tensor)  # the raw values: .values() refuses uncoalesced
    if tensor.is_coalesced() or values.shape[0] < 2:
        return values
    indices = torch.Tensor._indices(tensor)
    linear = indices[0]
    for dim in range(1, indices.shape[0]):  # one number per index tuple
        linear = linear * tensor.shape[dim] + indices[dim]
    order = torch.argsort(linear)
    ordered = linear[order]
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group = torch.cumsum(starts, 0) - 1  # each value's distinct index, in sorted order
    return torch.zeros_like(values).index_add_(0, group, values[order])


def host_dense(grad: torch.Tensor) -> torch.Tensor:
    """``grad`` as a dense tensor: a sparse one densified on the host, a dense one as it is.

    Raises TypeError for a layout that cannot be made dense.
    """
    if grad.layout is torch.strided:
        return grad
    try:
        return grad.detach().to("cpu").to_dense()
    except (RuntimeError, NotImplementedError) as error:
        raise TypeError(
            f"a gradient in layout {grad.layout} cannot be made dense: {error}"
        ) from error


def describe_layout(tensor: torch.Tensor) -> str | None:
    """How a snapshot's frame of ``tensor`` differs from the tensor, in words (None: it does
    not)."""
    if tensor.layout is not torch.strided:
        return f"a {_layout_name(tensor.layout)} gradient, densified (absent entries are zeros)"
    return None


def _layout_name(layout: torch.layout) -> str:
    return str(layout).removeprefix("torch.").replace("_", " ")


def sum_dtype(param: torch.Tensor) -> torch.dtype:
    """float32, or complex64 for a complex parameter (a real sum would drop the imaginary
    part)."""
    return torch.complex64 if param.is_complex() else torch.float32


def flat_view(tensor: torch.Tensor) -> torch.Tensor | None:
    """A 1-D view of every element of ``tensor`` (in memory order), or None when its elements
    do not fill a block of memory (overlapping or gapped strides)."""
    if tensor.is_contiguous():
        return tensor.view(-1)
    expected = 1
    for dim in sorted(range(tensor.ndim), key=tensor.stride):
        if tensor.shape[dim] != 1 and tensor.stride(dim) != expected:
            return None
        expected *= tensor.shape[dim]
    return tensor.as_strided((tensor.numel(),), (1,), tensor.storage_offset())
