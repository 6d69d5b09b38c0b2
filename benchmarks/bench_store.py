"""Recordings on disk: what writing a snapshot costs, and what opening a long recording costs.

Run with ``python -m benchmarks.bench_store``; :func:`run` returns a Markdown section for
``benchmarks/RESULTS.md``.

1. Writing one snapshot with :class:`RecordingWriter` against ``numpy.save`` of the same arrays
   (one ``.npy`` file each, no ``fsync``): the floor any format of ours is measured against.
2. Opening a recording of 10, 1,000 and 10,000 snapshots, of two shapes: a tiny one (12 frames,
   24 statistics a snapshot) and one shaped like ResNet-18's (about 300 frames and 1,000
   statistics a snapshot: ``min_``, ``max_`` and ``nonfinite_`` of every frame, norms per
   layer; histograms, previews). Measured: opening; opening and what the explorer reads to show
   it (epochs, metrics, every layer's gradient norms, one quantity's colour range, the newest
   frame); reading a frame once open. Opening must cost the same whatever the number of
   snapshots.

Every snapshot of a recording built here after the second holds the same frames, so that 10,000
of them build in a minute: its file is a hard link to the second snapshot's (opening never reads
snapshot files).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.store import RecordingWriter

#: The numbers of snapshots opened, by default.
COUNTS = (10, 1000, 10000)


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _frames(megabytes: float, count: int, rng: np.random.Generator) -> dict:
    size = max(1, int(megabytes * 2**20 / 4 / count))
    return {
        (f"layer{i // 4}", ("weight", "weight_grad", "activation", "output_grad")[i % 4]): (
            rng.standard_normal(size).astype(np.float32)
        )
        for i in range(count)
    }


def _layers(frames: dict) -> dict:
    return {layer: {"type": "Linear"} for layer, _ in frames}


def _write_speed(root: Path, megabytes: float, repeats: int, rng: np.random.Generator) -> dict:
    frames = _frames(megabytes, 20, rng)
    arrays = list(frames.values())
    data = SnapshotData(epoch=0, step=0, frames=frames, metrics={"loss": 1.0})
    plain = root / f"npy-{megabytes}"
    plain.mkdir()

    def numpy_save() -> None:
        for i, array in enumerate(arrays):
            np.save(plain / f"{i}.npy", array, allow_pickle=False)

    results = {"numpy.save": _median_ms(numpy_save, repeats)}
    for sync in (False, True):
        writer = RecordingWriter(root / f"rec-{megabytes}-{sync}", sync=sync)
        writer.write_layers(_layers(frames))
        counter = iter(range(10**6))
        results[f"write_snapshot (sync={sync})"] = _median_ms(
            lambda writer=writer, counter=counter: writer.write_snapshot(next(counter), data),
            repeats,
        )
        writer.close()
    return results


# ---------------------------------------------------------------------------- long recordings
class _LinkingWriter(RecordingWriter):
    """A RecordingWriter whose snapshot files after the second are hard links to the second's
    (the first may lack frames: nothing was recorded before the first step)."""

    _written: tuple[tuple[Path, int], ...] = ()  # the files written, and their sizes

    def _write_npz(self, target: Path, arrays: dict) -> int:
        if target.parent.name != "snapshots":
            return super()._write_npz(target, arrays)
        if len(self._written) < 2:
            self._written = (*self._written, (target, super()._write_npz(target, arrays)))
            return self._written[-1][1]
        os.link(self._written[-1][0], target)
        return self._written[-1][1]


def _resnet_layers() -> dict[str, str]:
    """ResNet-18's recorded layers (CIFAR stem) and their types."""
    layers = {"conv1": "Conv2d", "bn1": "BatchNorm2d", "relu": "ReLU"}
    for stage in range(1, 5):
        for block in range(2):
            name = f"layer{stage}.{block}"
            for part in ("conv1", "bn1", "conv2", "bn2"):
                layers[f"{name}.{part}"] = "Conv2d" if part.startswith("conv") else "BatchNorm2d"
            layers[f"{name}.relu"] = "ReLU"
            if stage > 1 and block == 0:
                layers[f"{name}.downsample.0"] = "Conv2d"
                layers[f"{name}.downsample.1"] = "BatchNorm2d"
    layers["avgpool"] = "AdaptiveAvgPool2d"
    layers["fc"] = "Linear"
    return layers


_QUANTITIES = {
    "Conv2d": ("weight", "weight_grad", "update", "activation", "output_grad"),
    "BatchNorm2d": ("weight", "weight_grad", "update", "bias", "bias_grad", "bias_update",
                    "activation", "output_grad"),
    "Linear": ("weight", "weight_grad", "update", "bias", "bias_grad", "bias_update",
               "activation", "output_grad"),
    "ReLU": ("activation", "activation[1]", "output_grad", "output_grad[1]"),
    "AdaptiveAvgPool2d": ("activation", "output_grad"),
}  # fmt: skip


def _real_size(index: int) -> tuple[dict, SnapshotData]:
    """Layers and snapshot ``index`` shaped like a ResNet-18 snapshot (small arrays)."""
    types = _resnet_layers()
    data = SnapshotData(epoch=float(index), step=100 * index)
    data.metrics = {"loss": 1.0 / (index + 1), "accuracy": index / (index + 1)}
    small, counts = np.ones((2, 2), np.float32), np.ones(64, np.float32)
    keys = [(INPUT, "saliency")]
    keys += [(layer, q) for layer, kind in types.items() for q in _QUANTITIES[kind]]
    for layer, quantity in keys:
        key = (layer, quantity)
        if index == 0 and quantity.endswith(("_grad", "update")) and "output" not in quantity:
            data.frames[key] = None
            data.missing[key] = "no optimizer step ran before this snapshot"
            continue
        data.frames[key] = small
        data.histograms[key] = counts
        if quantity.startswith("activation") and layer.startswith(("conv1", "layer1")):
            data.reduced[key] = (64, 32, 32)
            data.full[key] = np.ones((4, 4), np.float32)
        for statistic in ("nonfinite", "min", "max"):
            data.statistics[(layer, f"{statistic}_{quantity}")] = 0.5 + index
    for layer, kind in types.items():
        if kind != "ReLU" and kind != "AdaptiveAvgPool2d":
            for name in ("grad_norm", "weight_norm", "update_ratio", "dead_fraction"):
                data.statistics[(layer, name)] = 1.0 / (index + 1)
    layers = {INPUT: {"type": "input"}}
    layers.update({layer: {"type": kind, "calls": 1} for layer, kind in types.items()})
    return layers, data


def _tiny(index: int) -> tuple[dict, SnapshotData]:
    """Layers and snapshot ``index`` of the tiny shape: 12 frames, 24 statistics."""
    frames = {(f"layer{i // 4}", ("weight", "weight_grad", "activation", "output_grad")[i % 4]):
              np.ones(8, np.float32) for i in range(12)}  # fmt: skip
    statistics_ = {(layer, name): float(index) for layer, _ in frames
                   for name in ("grad_norm", "weight_norm")}  # fmt: skip
    data = SnapshotData(epoch=index, step=10 * index, frames=frames, statistics=statistics_)
    return _layers(frames), data


SHAPES = {"tiny": _tiny, "ResNet-18-like": _real_size}


def build(path: Path, snapshots: int, shape: Callable = _real_size) -> None:
    """Write a recording of ``snapshots`` snapshots of ``shape`` to ``path``, with one block of
    10 steps of every layer's three norms after each."""
    layers, _ = shape(0)
    columns = [(layer, name) for layer in layers for name in ("grad", "weight", "update")]
    with _LinkingWriter(path, sync=False) as writer:
        writer.write_layers(layers)
        for index in range(snapshots):
            writer.write_snapshot(index, shape(index)[1])
            steps = np.arange(10 * index, 10 * index + 10)
            writer.write_steps(steps, {key: np.full(10, 0.5) for key in columns})


def first_view(recording: Recording) -> None:
    """What the explorer reads to show a recording: epochs, steps, metrics, every layer's
    gradient norms, the colour range of one quantity, and the newest snapshot's frame."""
    np.asarray(recording.snapshots)
    recording.snapshot_steps  # noqa: B018
    recording.metrics  # noqa: B018
    layers = recording.layers
    for layer in layers:
        if "grad_norm" in recording.statistics(layer):
            recording.statistic(layer, "grad_norm")
    layer = layers[-1]
    quantity = recording.quantities(layer)[0]
    if f"min_{quantity}" in recording.statistics(layer):
        recording.statistic(layer, f"min_{quantity}")
        recording.statistic(layer, f"max_{quantity}")
    if recording.missing_reason(layer, quantity, -1) is None:
        recording.frame(layer, quantity, -1)
    recording.note(layer, quantity)


def measure_open(path: Path, repeats: int) -> tuple[float, float, float]:
    """Median ms of: opening; opening and :func:`first_view`; reading the newest frame again."""
    opened = _median_ms(lambda: Recording.open(path), repeats)
    shown = _median_ms(lambda: first_view(Recording.open(path)), repeats)
    recording = Recording.open(path)
    layer = recording.layers[-1]
    quantity = recording.quantities(layer)[0]
    read = _median_ms(lambda: recording.frame(layer, quantity, -1), repeats)
    return opened, shown, read


def _open_speed(root: Path, counts: tuple[int, ...], repeats: int) -> dict:
    results = {}
    for name, shape in SHAPES.items():
        for count in counts:
            path = root / f"{name}-{count}"
            build(path, count, shape)
            assert len(Recording.open(path)) == count
            # fewer repeats where a single open is long
            times = measure_open(path, repeats if count < 10000 else max(1, repeats // 3))
            log = (path / "log.jsonl").stat().st_size / 2**20
            results[(name, count)] = (*times, log)
    return results


def run(
    *,
    repeats: int = 7,
    megabytes: tuple[float, ...] = (3.0, 16.0),
    counts: tuple[int, ...] = COUNTS,
) -> str:
    """Measure and return a Markdown section; the defaults take a few minutes (most of it
    building the 10,000-snapshot recordings)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_store-") as directory:
        root = Path(directory)
        writes = {mb: _write_speed(root, mb, repeats, rng) for mb in megabytes}
        opens = _open_speed(root, counts, repeats)
    lines = [
        "## Recording on disk (`benchmarks/bench_store.py`)",
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, temporary directory on the local disk; median of {repeats} runs.",
        "",
        "**Writing one snapshot** (20 float32 frames; 3 MiB is about a LeNet-5 snapshot of "
        "every layer with a 20-image probe) against `numpy.save` of the same arrays (one `.npy` "
        "each, no fsync). `sync=True` (the default) flushes the snapshot file, its directory "
        "and the log line to disk before returning.",
        "",
        "| snapshot size | numpy.save | write_snapshot (sync=False) | ratio | "
        "write_snapshot (sync=True) | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mb, result in writes.items():
        base = result["numpy.save"]
        fast = result["write_snapshot (sync=False)"]
        safe = result["write_snapshot (sync=True)"]
        lines.append(
            f"| {mb:g} MiB | {base:.2f} ms | {fast:.2f} ms | {fast / base:.2f}x | "
            f"{safe:.2f} ms | {safe / base:.2f}x |"
        )
    lines += [
        "",
        "**Opening a recording**, by shape and number of snapshots (one block of 10 steps after "
        "each snapshot). *Open*: `Recording.open`. *Open and show*: opening and what the "
        "explorer reads to show it (epochs, metrics, every layer's gradient norms, one "
        "quantity's colour range, the newest frame). *Read a frame*: the newest frame again, "
        "once open. The log's size shows what a reader that parses every line would read.",
        "",
        "| shape | snapshots | log | open | open and show | read a frame |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for (name, count), (opened, shown, read, log) in opens.items():
        lines.append(
            f"| {name} | {count:,} | {log:.1f} MiB | {opened:.1f} ms | {shown:.1f} ms | "
            f"{read:.2f} ms |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(run())
