"""What the probe pass records of sequence models beyond activations and their gradients.

- :class:`AttentionHooks`: the attention weights of every head of an ``nn.MultiheadAttention``
  for the probe, even when the model calls it with ``need_weights=False`` (as
  ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer`` do). For the probe pass only,
  a pre-hook asks the module for ``need_weights=True, average_attn_weights=False``, and a forward
  hook hands the caller back exactly the output it asked for: the same attention output (the
  weights-returning path computes it with explicit matrix products instead of the fused
  ``scaled_dot_product_attention``: equal within float tolerance) and, in the weights slot,
  None, the head average or the per-head weights, as the caller asked. Training never sees
  these hooks (``docs/recorder.md``, "Transformers and sequence models").
- :func:`sequence_first_layers`: the recorded layers whose outputs are ``(tokens, samples, ...)``
  (``batch_first=False``), whose frames the probe turns samples-first.
- :func:`row_norms`: an ``nn.Embedding``'s L2 norm per row (per token), a frame of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["ATTENTION", "AttentionHooks", "row_norms", "samples_first", "sequence_first_layers"]

#: The quantity name of the attention maps, ``(samples, heads, target length, source length)``.
ATTENTION = "attention"

#: The arguments of ``nn.MultiheadAttention.forward`` the pre-hook sets for the probe pass.
_ASKED = ("need_weights", "average_attn_weights")


class AttentionHooks:
    """Hooks that take one ``nn.MultiheadAttention``'s per-head weights during a probe pass.

    Parameters
    ----------
    keep : callable
        ``keep(weights)`` is given the detached ``(samples, heads, target, source)`` weights of
        each call, in call order.
    """

    def __init__(self, keep: Callable[[torch.Tensor], None]) -> None:
        self._keep = keep
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
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
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
