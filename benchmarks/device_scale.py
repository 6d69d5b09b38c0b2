"""Real-size networks on a CUDA GPU (issue 12), run by hand where one is lent; never in CI.

A ResNet-50 (bottleneck blocks, ImageNet stem, 224x224 images, written here: no download, no
torchvision) and a GPT-2-small-sized LM (``nv.models.TransformerLM(50257, width=768, layers=12,
heads=12, context=1024)``), trained with AdamW under bf16 autocast; a bare and a recorded copy
of the same initial model step alternately. Per model:

- the per-step ratio (median of recorded/bare) with default settings, and with a snapshot every
  other step; a snapshot's time in training steps (every time taken after a device sync);
- the device memory the Recorder holds: ``torch.cuda.memory_allocated`` after a recorded step,
  before the Recorder was made and with it (between snapshots, and after one), against the
  recorded parameters' bytes; and the Recorder's own account (``Recorder.memory()`` when it
  exists, else the tensors reachable from it);
- whether the Recorder's optimizer step hooks synchronise with the host:
  ``torch.cuda.set_sync_debug_mode("error")`` is on only while its hooks run (hooks run in the
  order they were registered, so the switch is registered before the Recorder and the switch
  back after it).

Prints a Markdown table. Usage: ``python -m benchmarks.device_scale`` on a GPU (a few minutes);
``python -m benchmarks.device_scale --dry-run`` runs the same code with tiny models on the CPU in
float32 (a check that it works, not a measurement).
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from benchmarks.scale import (
    MIB,
    WARMUP,
    Trainee,
    Workload,
    alternate,
    recorded_parameter_bytes,
    recorder_memory,
    transformer_lm,
)

SNAPSHOT_EVERY = 2


class Bottleneck(nn.Module):
    """ResNet's bottleneck block (1x1, 3x3, 1x1 convolutions; 4x wider out), torchvision's names."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        out = 4 * channels
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet50(nn.Module):
    """ResNet-50 (He et al., 2016) for 224x224 images: 25.6M parameters with 1000 classes.
    ``blocks`` and ``width`` make smaller ones of the same shape (the dry run)."""

    def __init__(self, num_classes: int = 1000, blocks=(3, 4, 6, 3), width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        in_channels, stages = width, []
        for i, count in enumerate(blocks):
            channels = width * 2**i
            stage = [Bottleneck(in_channels, channels, 1 if i == 0 else 2)]
            stage += [Bottleneck(4 * channels, channels) for _ in range(count - 1)]
            stages.append(nn.Sequential(*stage))
            in_channels = 4 * channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(dry_run: bool) -> Workload:
    """ResNet-50, batch 64 of random 224x224 images, a 16-image probe (dry run: tiny)."""
    torch.manual_seed(0)
    model = ResNet50(10, (1, 1, 1, 1), 4) if dry_run else ResNet50()
    batch, probe, size = (4, 2, 32) if dry_run else (64, 16, 224)
    classes = model.fc.out_features
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch + probe, 3, size, size, generator=generator)
    y = torch.randint(0, classes, (batch + probe,), generator=generator)
    text = f"batch {batch} of random {size}x{size} images, a {probe}-image probe"
    train, probe_batch = (x[:batch], y[:batch]), (x[batch:], y[batch:])
    return Workload("ResNet-50", model, train, probe_batch, F.cross_entropy, None, text)


def gpt2_small(dry_run: bool) -> Workload:
    """A GPT-2-small-sized LM, batch 8 x 1024 random tokens, a 4-sequence probe."""
    torch.manual_seed(0)
    if dry_run:
        model = nv.models.TransformerLM(100, width=32, layers=2, heads=4, context=16)
        workload = transformer_lm(model, batch=(2, 16), probe=2)
    else:
        model = nv.models.TransformerLM(50257, width=768, layers=12, heads=12, context=1024)
        workload = transformer_lm(model, batch=(8, 1024), probe=4)
    workload.name = "GPT-2 small"
    return workload


class SyncCheck:
    """``set_sync_debug_mode("error")`` while the Recorder's step hooks run, and only then.

    Made before the Recorder (its hooks run first: switch on), then :meth:`close_around` after
    it (its hooks run last: switch off). Inactive until :attr:`active` is set.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.active = False
        self._handles = [
            optimizer.register_step_pre_hook(self._on),
            optimizer.register_step_post_hook(self._on),
        ]

    def close_around(self, optimizer: torch.optim.Optimizer) -> None:
        self._handles += [
            optimizer.register_step_pre_hook(self._off),
            optimizer.register_step_post_hook(self._off),
        ]

    def _on(self, *args) -> None:
        if self.active:
            torch.cuda.set_sync_debug_mode("error")

    def _off(self, *args) -> None:
        torch.cuda.set_sync_debug_mode("default")

    def check(self, trainee: Trainee, steps: int) -> str:
        """Run ``steps`` training steps with the check on; what happened, in words."""
        self.active = True
        try:
            for _ in range(steps):
                trainee.step()
            return f"none in {steps} steps"
        except RuntimeError as error:
            return f"**a sync**: {str(error).splitlines()[0]}"
        finally:
            self.active = False
            torch.cuda.set_sync_debug_mode("default")

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def measure(workload: Workload, device: str, steps: int, warmup: int, sync_steps: int) -> dict:
    """One model's figures (see the module's notes)."""
    cuda = device == "cuda"
    workload = workload.to(device)
    # the dry run in float32: bf16 kernels on a CPU without bf16 units are ~10x slower
    options = {"autocast": torch.bfloat16, "synchronize": torch.cuda.synchronize} if cuda else {}
    bare, recorded = Trainee(workload, **options), Trainee(workload, **options)
    bare.step()  # the optimizer's state exists before memory is counted
    recorded.step()
    allocated = torch.cuda.memory_allocated if cuda else (lambda: 0)
    before = allocated()
    check = SyncCheck(recorded.optimizer) if cuda else None
    rec = recorded.recorder()
    try:
        if check is not None:
            check.close_around(recorded.optimizer)
        recorded.step()
        held = allocated() - before
        default = alternate(bare, recorded, steps, warmup=warmup)
        snapshotting = alternate(bare, recorded, steps, rec, SNAPSHOT_EVERY, warmup=warmup)
        recorded.step()
        held_after_snapshot = allocated() - before
        sync = check.check(recorded, sync_steps) if check is not None else "not checked on a CPU"
        own, how = recorder_memory(rec, exclude=workload.probe)
        parameter_bytes = recorded_parameter_bytes(rec)
    finally:
        rec.close()
        if check is not None:
            check.remove()
    return {
        "parameters": f"{sum(p.numel() for p in workload.model.parameters()):,}",
        "bare step (median)": f"{1000 * statistics.median(default.bare):.1f} ms",
        "per-step ratio, default settings": f"**{default.ratio:.3f}**",
        f"per-step ratio, a snapshot every {SNAPSHOT_EVERY} steps": f"{snapshotting.ratio:.3f}",
        "one snapshot": f"{1000 * statistics.median(snapshotting.snapshots):.0f} ms = "
        f"**{snapshotting.snapshot_steps:.2f} steps**",
        "device memory held, between snapshots": _share(held, parameter_bytes),
        "device memory held, after a snapshot": _share(held_after_snapshot, parameter_bytes),
        "the Recorder's own account": f"{_share(own, parameter_bytes)} ({how})",
        "host sync in the step hooks": sync,
    }


def _share(nbytes: int, parameter_bytes: int) -> str:
    return f"{nbytes / MIB:,.1f} MiB = {100 * nbytes / parameter_bytes:.1f}%"


def main(argv: list[str] | None = None) -> str:
    """Measure both models; print and return the Markdown report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device_scale")
    parser.add_argument("--dry-run", action="store_true", help="tiny models on the CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run and copy")
    args = parser.parse_args(argv)
    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here; --dry-run runs tiny models on the CPU")
    steps = args.steps or (SNAPSHOT_EVERY if args.dry_run else 20)
    warmup = 0 if args.dry_run else WARMUP
    results = {
        w.name: measure(w, device, steps, warmup, sync_steps=20) for w in _workloads(args.dry_run)
    }
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (dry run, tiny models)"
    rows = list(next(iter(results.values())))
    lines = [
        f"# Real-size networks on {name} (torch {torch.__version__}), "
        + ("bf16 autocast" if device == "cuda" else "float32"),
        "",
        f"Bare and recorded copies alternating, AdamW, {steps} timed steps of each per run "
        f"(after {warmup} untimed pairs); memory held = `torch.cuda.memory_allocated` "
        "difference after a recorded step, as a share of the recorded parameters' bytes.",
        "",
        "| | " + " | ".join(results) + " |",
        "| --- |" + " --- |" * len(results),
        *(f"| {row} | " + " | ".join(r[row] for r in results.values()) + " |" for row in rows),
    ]
    report = "\n".join(lines)
    print(report)
    return report


def _workloads(dry_run: bool):
    yield resnet50(dry_run)
    yield gpt2_small(dry_run)


if __name__ == "__main__":
    main()
