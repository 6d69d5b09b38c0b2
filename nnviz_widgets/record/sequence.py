"""What the probe pass records of sequence models beyond activations and their gradients.

- :class:`SequenceProbe`: the sequence-model side of a probe pass, used by
  :class:`~nnviz_widgets.record.probe.Probe`: its hooks, what the check pass learns (whether
  the probe itself is ``(tokens, samples, ...)``, which rows of an Embedding it reads) and the
  frames it adds (``attention``, ``row_norm``).
- :class:`AttentionHooks`: the attention weights of every head of an ``nn.MultiheadAttention``
  for the probe, even when the model calls it with ``need_weights=False`` (as
  ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer`` do). For the probe pass only,
  a pre-hook asks the module for ``need_weights=True, average_attn_weights=False``, and a forward
  hook hands the caller back exactly the output it asked for: the same attention output (the
  weights-returning path computes it with explicit matrix products instead of the fused
  ``scaled_dot_product_attention``: equal within float tolerance) and, in the weights slot,
  None, the head average or the per-head weights, as the caller asked. Training never sees
  these hooks (``docs/explorer.md``, "Transformers and sequence models").
- :func:`sequence_first_layers`: the recorded layers whose outputs are ``(tokens, samples, ...)``
  (``batch_first=False``), whose frames the probe turns samples-first.
- :func:`row_norms`: an ``nn.Embedding``'s L2 norm per row (per token), a frame of its own.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nnviz_widgets.record.capture import Captured, FrameCapture, add_frame, add_missing
from nnviz_widgets.record.layers import RecordedLayers
from nnviz_widgets.recording import SnapshotData

__all__ = [
    "ATTENTION",
    "MAX_PROBE_ROWS",
    "AttentionHooks",
    "SequenceFrames",
    "SequenceProbe",
    "row_norms",
    "samples_first",
    "sequence_first_layers",
]

#: The quantity name of the attention maps, ``(samples, heads, target length, source length)``.
ATTENTION = "attention"
#: Modules whose calls say which dimension holds the samples (``batch_first``).
_BATCHED = (nn.MultiheadAttention, nn.RNNBase)
#: Most distinct rows of an Embedding the layer info lists as the ones the probe reads.
MAX_PROBE_ROWS = 4096


@dataclass
class SequenceFrames:
    """What one probe pass captured of sequence models.

    Attributes
    ----------
    attention : dict
        ``{layer: [captured attention weights, one per call]}`` of MultiheadAttention layers.
    indices : dict
        ``{layer: the distinct indices an Embedding was given}`` (check pass only).
    batch_sizes : set of int
        The batch sizes attention and recurrent layers were called with (check pass only).
    """

    attention: dict[str, list[Captured]] = field(default_factory=dict)
    indices: dict[str, torch.Tensor] = field(default_factory=dict)
    batch_sizes: set[int] = field(default_factory=set)


class SequenceProbe:
    """The sequence-model side of the probe pass: attention maps, Embedding rows, and which
    outputs are turned samples-first.

    Parameters
    ----------
    model : torch.nn.Module
        The (unwrapped) model.
    layers : RecordedLayers
        The recorded layers.
    capture : FrameCapture
        How a tensor becomes a frame.
    samples : int
        The probe's first dimension, taken as its samples until :meth:`learn` says otherwise.

    Attributes
    ----------
    probe_turned : bool
        True when the probe is ``(tokens, samples, ...)``: the model takes sequences first, and
        the probe, its saliency and every ``(tokens, samples, ...)`` output are recorded
        samples-first.
    samples : int
        How many samples the probe holds.
    """

    def __init__(
        self, model: nn.Module, layers: RecordedLayers, capture: FrameCapture, samples: int
    ) -> None:
        self._layers = layers
        self._capture = capture
        self.samples = samples
        self.probe_turned = False
        # outputs (tokens, samples, ...) are recorded samples-first, like every other frame
        self._sequence_first = sequence_first_layers(model, layers.modules)
        self._attending = [(n, m) for n, m in layers.modules if AttentionHooks.supports(m)]
        self._embeddings = [(n, m) for n, m in layers.modules if isinstance(m, nn.Embedding)]
        # whose calls tell the batch size: how many samples the probe really holds
        self._batched = [m for m in model.modules() if isinstance(m, _BATCHED)]
        self._attention_calls: dict[str, int] = {}  # maps per pass, set by learn()

    def turned(self, layer: str) -> int | None:
        """The sample count when ``layer``'s 3-D outputs are turned samples-first, else None."""
        return self.samples if self.probe_turned or layer in self._sequence_first else None

    def hooks(self, frames: SequenceFrames, *, trace: bool) -> list:
        """The hooks of one pass (the caller removes them); ``trace`` adds what the check pass
        learns from."""
        handles: list = []
        try:
            for name, module in self._attending:
                maps = frames.attention.setdefault(name, [])
                handles.extend(AttentionHooks(_keeper(self._capture, maps)).register(module))
            if trace:
                for name, module in self._embeddings:
                    hook = _note_indices(name, frames.indices)
                    handles.append(module.register_forward_pre_hook(hook))
                for module in self._batched:
                    hook = _note_batch_size(frames.batch_sizes)
                    handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
        except BaseException:
            for handle in handles:
                handle.remove()
            raise
        return handles

    def learn(self, x: torch.Tensor, frames: SequenceFrames) -> bool:
        """What the check pass showed; returns True when the probe turned out to be
        ``(tokens, samples, ...)`` (its frames must then be taken again)."""
        self._attention_calls = {name: len(maps) for name, maps in frames.attention.items()}
        for name, indices in frames.indices.items():
            if indices.numel() <= MAX_PROBE_ROWS:  # a list the layer info can carry
                self._layers.note(name, probe_rows=indices.tolist())
        sizes = frames.batch_sizes
        turned = x.dim() >= 2 and x.shape[0] not in sizes and x.shape[1] in sizes
        if turned and not self.probe_turned:
            self.probe_turned, self.samples = True, int(x.shape[1])
            return True
        return False

    def record(self, data: SnapshotData, frames: SequenceFrames) -> None:
        """Add each attention layer's maps, or why one that had them at the check has none."""
        for name, _ in self._attending:
            maps = frames.attention.get(name, [])
            for k in range(max(len(maps), self._attention_calls.get(name, 0))):
                suffix = "" if k == 0 else f"[{k}]"
                if k < len(maps):
                    add_frame(data, name, ATTENTION + suffix, maps[k])
                else:
                    add_missing(
                        data,
                        (name, ATTENTION + suffix),
                        "the layer was not called through its forward() this time (a fused "
                        "fast path, or a different control flow), so no attention was captured",
                    )

    def record_row_norms(self, data: SnapshotData) -> None:
        """Add each Embedding's row norms (no pass needed)."""
        for name, embedding in self._embeddings:
            add_frame(data, name, "row_norm", self._capture(row_norms(embedding), keep_first=False))

    def record_failure(self, data: SnapshotData, reason: str) -> None:
        """Mark the attention maps missing because the pass failed."""
        for name, calls in self._attention_calls.items():
            for k in range(calls):
                add_missing(data, (name, ATTENTION + ("" if k == 0 else f"[{k}]")), reason)


#: The arguments of ``nn.MultiheadAttention.forward`` the pre-hook sets for the probe pass.
_ASKED = ("need_weights", "average_attn_weights")


class AttentionHooks:
    """Hooks that take one ``nn.MultiheadAttention``'s per-head weights during a probe pass.

    Parameters
    ----------
    keep : callable
        ``keep(weights)`` is given the detached ``(samples, heads, target, source)`` weights of
        each call, in call order.

    Notes
    -----
    Only calls made by the thread that made the hooks are touched: a forward pass of the same
    module in another thread (training, while a snapshot's probe pass runs) is left as it is.
    """

    def __init__(self, keep: Callable[[torch.Tensor], None]) -> None:
        self._keep = keep
        self._thread = threading.get_ident()
        # per call in progress: what the caller asked for, and whether its query was batched
        self._asked: list[tuple[bool, bool, bool]] = []

    @staticmethod
    def supports(module: nn.Module) -> bool:
        """True for a MultiheadAttention whose ``forward`` takes the two arguments the hooks set."""
        if not isinstance(module, nn.MultiheadAttention):
            return False
        parameters = inspect.signature(type(module).forward).parameters
        return all(name in parameters for name in _ASKED)

    def register(self, module: nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
        """Place the two hooks on ``module``; the caller removes the returned handles."""
        names = list(inspect.signature(type(module).forward).parameters)[1:]  # without self
        positions = {name: names.index(name) for name in _ASKED}
        handles = [module.register_forward_pre_hook(self._pre_hook(positions), with_kwargs=True)]
        try:
            # first among the forward hooks, so that any other hook sees what the caller sees
            handles.append(
                module.register_forward_hook(self._forward_hook, prepend=True, with_kwargs=True)
            )
        except BaseException:
            handles[0].remove()
            raise
        return handles

    def _pre_hook(self, positions: dict[str, int]) -> Callable:
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            if threading.get_ident() != self._thread:
                return None
            args, kwargs = list(args), dict(kwargs)
            asked = []
            for name, value in zip(_ASKED, (True, False), strict=True):
                position = positions[name]
                if position < len(args):
                    asked.append(bool(args[position]))
                    args[position] = value
                else:
                    asked.append(bool(kwargs.get(name, True)))  # both default to True
                    kwargs[name] = value
            query = args[0] if args else kwargs.get("query")
            batched = isinstance(query, torch.Tensor) and query.dim() == 3
            self._asked.append((asked[0], asked[1], batched))
            return tuple(args), kwargs

        return hook

    def _forward_hook(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        if threading.get_ident() != self._thread:
            return None
        need_weights, average, batched = self._asked.pop()
        attn_output, weights = output
        if weights is None:  # not expected: MultiheadAttention returns them when asked
            return output if need_weights else (attn_output, None)
        self._keep((weights if batched else weights.unsqueeze(0)).detach())
        if not need_weights:
            return attn_output, None
        if average:  # what MultiheadAttention itself computes with average_attn_weights=True
            return attn_output, weights.mean(dim=1 if batched else 0)
        return attn_output, weights


def _keeper(capture: FrameCapture, maps: list) -> Callable[[torch.Tensor], None]:
    def keep(weights: torch.Tensor) -> None:
        maps.append(capture(weights, keep_first=True))

    return keep


def _note_indices(name: str, indices: dict) -> Callable:
    """A pre-hook that notes the distinct indices an Embedding is given (the rows it reads)."""

    def hook(module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor) and not args[0].is_floating_point():
            seen = torch.unique(args[0].detach()).cpu()
            if name in indices:  # called more than once
                seen = torch.unique(torch.cat([indices[name], seen]))
            indices[name] = seen
        return None

    return hook


def _note_batch_size(sizes: set) -> Callable:
    """A pre-hook that notes the batch size an attention or recurrent layer is called with."""

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        size = _batch_size(module, args or tuple(kwargs.values())[:1])
        if size:
            sizes.add(size)
        return None

    return hook


def _batch_size(module: nn.Module, args: tuple) -> int:
    """The batch size of a call of an attention or recurrent layer (0 without a 3-D input)."""
    given = args[0] if args else None
    if not isinstance(given, torch.Tensor) or given.dim() != 3:
        return 0
    return int(given.shape[0] if module.batch_first else given.shape[1])


def sequence_first_layers(model: nn.Module, layers: list[tuple[str, nn.Module]]) -> set[str]:
    """The recorded layers whose 3-D outputs put tokens before samples.

    A layer is sequence-first when it, or else its nearest ancestor that says, has
    ``batch_first=False``: RNNs and MultiheadAttention carry the attribute, a Transformer
    encoder or decoder layer says it through its ``self_attn``.
    """
    said: dict[str, bool] = {}
    for name, module in model.named_modules():
        value = getattr(module, "batch_first", None)
        if not isinstance(value, bool):
            value = getattr(getattr(module, "self_attn", None), "batch_first", None)
        if isinstance(value, bool):
            said[name] = value
    chosen = set()
    for name, _ in layers:
        for scope in _scopes(name):
            if scope in said:
                if not said[scope]:
                    chosen.add(name)
                break
    return chosen


def _scopes(name: str) -> Iterator[str]:
    """``name`` and its ancestors' names, nearest first, the root (``""``) last."""
    parts = name.split(".") if name else []
    for end in range(len(parts), -1, -1):
        yield ".".join(parts[:end])


def samples_first(tensor: torch.Tensor, samples: int) -> torch.Tensor:
    """A ``(tokens, samples, features)`` output as ``(samples, tokens, features)``.

    Only a 3-D tensor whose second dimension is the probe's sample count is moved; anything
    else (an unbatched call, a reshaped batch) is returned as it is.
    """
    if tensor.dim() == 3 and tensor.shape[1] == samples:
        return tensor.transpose(0, 1)
    return tensor


@torch.no_grad()
def row_norms(embedding: nn.Embedding) -> torch.Tensor:
    """The L2 norm of each row of an embedding table (one per token), in float32."""
    return torch.linalg.vector_norm(embedding.weight.detach().float(), dim=1)
