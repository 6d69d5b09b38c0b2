"""Tools shared by the real-size benchmarks (``bench_scale`` on the CPU, ``device_scale`` on a
GPU): a workload (model, batch, probe, losses), a trainable copy of it, bare and recorded copies
stepping alternately, and what the Recorder holds in memory.

Not a benchmark itself (``python -m benchmarks`` runs only the ``bench_*`` modules).
"""

from __future__ import annotations

import contextlib
import copy
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv

WARMUP = 2  # untimed pairs of steps before each alternating run
MIB = 2**20


@dataclass
class Workload:
    """A model to train (each copy starts from it), its batch, its probe and their losses."""

    name: str
    model: nn.Module
    batch: tuple[torch.Tensor, torch.Tensor]
    probe: tuple[torch.Tensor, torch.Tensor]
    train_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    probe_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    description: str = ""

    def to(self, device: str | torch.device) -> Workload:
        """The same workload with its model, batch and probe on ``device``."""
        return replace(
            self,
            model=self.model.to(device),
            batch=tuple(t.to(device) for t in self.batch),
            probe=tuple(t.to(device) for t in self.probe),
        )


def resnet18() -> Workload:
    """ResNet-18 (CIFAR stem), batch 64 of random 32x32 images, a 16-image probe."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x = torch.randn(64, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    probe = (torch.randn(16, 3, 32, 32, generator=generator), y[:16].clone())
    text = "batch 64 of random 32x32 images, a 16-image probe"
    return Workload("ResNet-18", nv.models.ResNet18(), (x, y), probe, F.cross_entropy, None, text)


def token_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"):
    """Next-token cross-entropy of ``(N, T, vocab)`` logits against ``(N, T)`` targets."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction=reduction)


def summed_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The probe's loss: summed, so that a sequence's gradient does not depend on the others."""
    return token_loss(logits, targets, reduction="sum")


def transformer_lm(model: nn.Module | None = None, batch=(16, 128), probe=4) -> Workload:
    """A GPT-style LM (by default ``nv.models.TransformerLM()``, 13.8M parameters), batch
    ``batch`` = (sequences, tokens) of random tokens, a ``probe``-sequence probe."""
    torch.manual_seed(0)
    model = nv.models.TransformerLM() if model is None else model
    vocabulary = model.embedding.num_embeddings
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, vocabulary, (batch[0] + probe, batch[1] + 1), generator=generator)
    x, y = tokens[: batch[0], :-1], tokens[: batch[0], 1:]
    probe_batch = (tokens[batch[0] :, :-1].clone(), tokens[batch[0] :, 1:].clone())
    text = f"batch {batch[0]} x {batch[1]} random tokens, a {probe}-sequence probe"
    return Workload(
        "transformer LM", model, (x, y), probe_batch, token_loss, summed_token_loss, text
    )


class Trainee:
    """One copy of a workload's model with its own AdamW.

    ``autocast`` (a dtype) runs the forward pass, the loss and snapshots under
    ``torch.autocast``; ``synchronize`` (e.g. ``torch.cuda.synchronize``) is called before and
    after each timed step and snapshot, so that a time covers the device's work.
    """

    def __init__(self, workload: Workload, *, autocast=None, synchronize=None) -> None:
        self.workload = workload
        self.model = copy.deepcopy(workload.model)  # keeps tied weights tied
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self._autocast = autocast
        self._synchronize = synchronize or (lambda: None)

    def context(self) -> contextlib.AbstractContextManager:
        """Autocast, if asked for, on the model's device."""
        if self._autocast is None:
            return contextlib.nullcontext()
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=self._autocast)

    def step(self) -> float:
        """One training step; its seconds."""
        self._synchronize()
        start = time.perf_counter()
        self.optimizer.zero_grad()
        x, y = self.workload.batch
        with self.context():
            loss = self.workload.train_loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        self._synchronize()
        return time.perf_counter() - start

    def recorder(self, **options) -> nv.Recorder:
        """A Recorder of this copy with the workload's probe and probe loss."""
        w = self.workload
        return nv.Recorder(
            self.model, probe=w.probe, optimizer=self.optimizer, loss_fn=w.probe_loss, **options
        )

    def snapshot(self, rec: nv.Recorder) -> float:
        """``rec.snapshot()`` (under autocast, if asked for); its seconds."""
        self._synchronize()
        start = time.perf_counter()
        with self.context():
            rec.snapshot()
        self._synchronize()
        return time.perf_counter() - start


@dataclass
class Alternation:
    """Times of one alternating run: per step of each copy, per snapshot, and memory after each."""

    bare: list[float] = field(default_factory=list)
    recorded: list[float] = field(default_factory=list)
    snapshots: list[float] = field(default_factory=list)
    nbytes: list[int] = field(default_factory=list)  # Recording.nbytes after each snapshot
    kept: int | None = None  # snapshots held when the budget first thinned, if it did

    @property
    def ratio(self) -> float:
        """Median over the pairs of recorded/bare step time."""
        return statistics.median(r / b for r, b in zip(self.recorded, self.bare))

    @property
    def snapshot_steps(self) -> float:
        """A snapshot's median time in median bare training steps of the same run."""
        return statistics.median(self.snapshots) / statistics.median(self.bare)


def alternate(
    bare: Trainee, recorded: Trainee, steps: int, rec=None, every=0, warmup=WARMUP
) -> Alternation:
    """Step both copies in turn (who goes first alternates), ``warmup`` pairs untimed; with
    ``every``, ``rec`` takes a timed snapshot after every ``every``-th timed pair."""
    run = Alternation()
    for i in range(warmup + steps):
        first, second = (bare, recorded) if i % 2 == 0 else (recorded, bare)
        times = {id(first): first.step(), id(second): second.step()}
        if i < warmup:
            continue
        run.bare.append(times[id(bare)])
        run.recorded.append(times[id(recorded)])
        if every and (i - warmup + 1) % every == 0:
            run.snapshots.append(recorded.snapshot(rec))
            run.nbytes.append(rec.recording.nbytes)
            if rec.recording.thinned and run.kept is None:
                run.kept = len(rec.recording) - 1
    return run


def identical(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models' parameters and buffers are bit for bit the same."""
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def recorded_parameter_bytes(rec: nv.Recorder) -> int:
    """Bytes of the parameters of the recorded layers (each parameter once)."""
    unique = {}
    for name in rec.layers:
        for param in rec.model.get_submodule(name).parameters(recurse=False):
            unique[id(param)] = param.numel() * param.element_size()
    return sum(unique.values())


def held_tensors(rec: nv.Recorder, *, exclude=()) -> dict[str, int]:
    """Bytes of the tensors reachable from the Recorder on its model's device, by the attribute
    that holds them (``Class.attribute``); the model's, its gradients', its optimizer's and
    ``exclude``'s storages are left out.

    A walk over the Recorder's objects rather than a list of its buffers, so that it keeps
    counting whatever the Recorder comes to hold. On the CPU, host copies count too: there
    they are the same memory.
    """
    device = next(rec.model.parameters()).device
    owned = [*rec.model.parameters(), *rec.model.buffers(), *exclude]
    owned += [p.grad for p in rec.model.parameters() if p.grad is not None]
    if rec.optimizer is not None:
        owned += [t for s in rec.optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    counted = {t.untyped_storage().data_ptr() for t in owned}
    skip = (nn.Module, torch.optim.Optimizer, nv.Recording, np.ndarray, str, bytes, type)
    found: dict[str, int] = defaultdict(int)
    stack, seen = [("Recorder", rec)], set()
    while stack:
        path, obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            if obj.device == device and storage.data_ptr() not in counted:
                counted.add(storage.data_ptr())
                found[path] += storage.nbytes()
        elif isinstance(obj, dict):
            stack += [(path, value) for value in obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += [(path, value) for value in obj]
        elif type(obj).__module__.startswith("nnviz_widgets"):
            names = [*getattr(obj, "__dict__", {}), *getattr(type(obj), "__slots__", ())]
            owner = type(obj).__name__
            stack += [(f"{owner}.{n}", getattr(obj, n)) for n in names if hasattr(obj, n)]
    return dict(found)


def recorder_memory(rec: nv.Recorder, *, exclude=()) -> tuple[int, str]:
    """Device bytes the Recorder holds besides the probe batch (``Recorder.memory()``), and how
    they were found: its parts, and :func:`held_tensors`'s walk as a cross-check (on a CPU the
    walk also finds the host copies, which there are the same memory)."""
    reported = rec.memory()
    device = {k: v for k, v in reported["device"].items() if k != "probe"}
    parts = ", ".join(f"{k} {v / MIB:.2f}" for k, v in device.items())
    held = held_tensors(rec, exclude=exclude)
    walk = ", ".join(f"{k} {v / MIB:.2f}" for k, v in sorted(held.items(), key=lambda i: -i[1]))
    how = (
        f"`Recorder.memory()['device']` less the probe, MiB: {parts or 'none'}; "
        f"tensors reachable from the Recorder, MiB: {walk or 'none'}"
    )
    return sum(device.values()), how
