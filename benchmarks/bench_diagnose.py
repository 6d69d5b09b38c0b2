"""What ``nv.diagnose`` costs on a long recording: 1,000 snapshots of a 50-layer model.

Run with ``python -m benchmarks.bench_diagnose``; :func:`run` returns a Markdown section for
``benchmarks/RESULTS.md``.

The recording is made from random numbers through the Recording's public append methods, shaped
as a Recorder would fill it: 50 layers (ten blocks of Linear, BatchNorm1d, ReLU, Linear, Tanh),
per snapshot every statistic a Recorder takes (norms, update ratio, dead fraction, NaN/Inf
counts and extremes of every frame: about 1,000), the probe activations of the Tanh layers
(16 x 64), the loss, and ten steps of per-step series after each snapshot. Two of the Tanh
layers are saturated at every snapshot (the worst case of the saturation check: it measures
their newest 32 frames, then looks for the start of the run further back) and one ReLU is dead,
so that the diagnosis reports findings. Measured:
``diagnose`` on it in memory, and on the same recording written to a directory and opened
(statistics then read from disk a column at a time, frames when asked for).
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nnviz_widgets as nv
from nnviz_widgets.recording import SnapshotData
from nnviz_widgets.store import RecordingWriter

#: Blocks of five layers; snapshots; steps with statistics per snapshot; probe samples.
BLOCKS, SNAPSHOTS, STEPS_PER_SNAPSHOT, PROBE = 10, 1000, 10, 16
WIDTH = 64


def _layers() -> dict[str, dict]:
    infos = {}
    for b in range(BLOCKS):
        linear = {"parameters": {"weight": [WIDTH, WIDTH], "bias": [WIDTH]}, "frozen": []}
        infos[f"block{b}.fc1"] = {"type": "Linear", **linear}
        infos[f"block{b}.norm"] = {
            "type": "BatchNorm1d",
            "parameters": {"weight": [WIDTH], "bias": [WIDTH]},
            "frozen": [],
        }
        infos[f"block{b}.relu"] = {"type": "ReLU", "parameters": {}, "frozen": []}
        infos[f"block{b}.fc2"] = {"type": "Linear", **linear}
        infos[f"block{b}.tanh"] = {"type": "Tanh", "parameters": {}, "frozen": []}
    return infos


def _statistic_names(infos: dict[str, dict]) -> list[tuple[str, str]]:
    """The statistics a Recorder takes per snapshot, but the norms and the dead fractions
    (drawn apart): NaN/Inf counts and extremes of every frame."""
    names = []
    for layer, info in infos.items():
        quantities = ["activation", "output_grad"]
        if info["parameters"]:
            quantities = ["weight", "bias", "weight_grad", "bias_grad", "update", *quantities]
        for quantity in quantities:
            names += [(layer, f"{what}_{quantity}") for what in ("nonfinite", "min", "max")]
    return names


def _snapshot(
    index: int, infos: dict[str, dict], names: list, rng: np.random.Generator
) -> SnapshotData:
    data = SnapshotData(epoch=index, step=index * STEPS_PER_SNAPSHOT)
    data.metrics["loss"] = 2.3 * np.exp(-index / 300) + 0.05 * rng.random()
    values = rng.random(len(names)).tolist()
    stats = data.statistics
    for name, value in zip(names, values):
        what = name[1].partition("_")[0]
        stats[name] = 0.0 if what == "nonfinite" else (-value if what == "min" else value)
    with_parameters = [layer for layer, info in infos.items() if info["parameters"]]
    norms = rng.uniform(0.1, 1.0, (3, len(with_parameters)))
    for layer, grad, weight, ratio in zip(with_parameters, *norms):
        stats[(layer, "grad_norm")] = grad if index else np.nan
        stats[(layer, "weight_norm")] = 3.0 + 2.0 * weight
        stats[(layer, "update_ratio")] = 1e-2 * ratio if index else np.nan
    for layer, dead in zip(infos, rng.uniform(0.0, 0.2, len(infos))):
        stats[(layer, "dead_fraction")] = 0.9 if layer == "block3.relu" else dead
    for layer, info in infos.items():
        if info["type"] == "Tanh":
            scale = 50.0 if layer in ("block1.tanh", "block7.tanh") else 1.0
            activation = np.tanh(scale * rng.standard_normal((PROBE, WIDTH))).astype(np.float32)
            data.frames[(layer, "activation")] = activation
            stats[(layer, "min_activation")] = float(activation.min())
            stats[(layer, "max_activation")] = float(activation.max())
    return data


def _steps(index: int, infos: dict[str, dict], rng: np.random.Generator) -> tuple:
    first = index * STEPS_PER_SNAPSHOT + 1
    steps = np.arange(first, first + STEPS_PER_SNAPSHOT)
    series = {}
    for layer, info in infos.items():
        if info["parameters"]:
            series[(layer, "grad_norm")] = rng.uniform(0.1, 1.0, steps.size)
            series[(layer, "weight_norm")] = rng.uniform(3.0, 5.0, steps.size)
            series[(layer, "update_ratio")] = rng.uniform(1e-3, 1e-2, steps.size)
    return steps, series


def build(snapshots: int = SNAPSHOTS, path: Path | None = None) -> nv.Recording:
    """The recording in memory (and written to ``path`` alike, without fsync)."""
    rng = np.random.default_rng(0)
    infos = _layers()
    names = _statistic_names(infos)
    recording = nv.Recording()
    recording.set_layers(infos)
    writer = None if path is None else RecordingWriter(path, sync=False)
    if writer is not None:
        writer.write_layers(infos)
    for index in range(snapshots):
        if index:  # the steps since the previous snapshot, flushed before it as a Recorder does
            steps, series = _steps(index - 1, infos, rng)
            recording.append_steps(steps, series)
            if writer is not None:
                writer.write_steps(steps, series)
        data = _snapshot(index, infos, names, rng)
        recording.append_snapshot(data)
        if writer is not None:
            writer.write_snapshot(index, data)
    if writer is not None:
        writer.close()
    return recording


def _median_ms(action, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times), times


class _Fresh:
    """The same recording under a new identity: what a diagnosis remembers of a recording's
    frames (their saturation, measured once) is not found, as on a first diagnosis."""

    def __init__(self, recording: nv.Recording) -> None:
        self.recording = recording

    def __len__(self) -> int:
        return len(self.recording)

    def __getattr__(self, name: str):
        return getattr(self.recording, name)


def run(*, snapshots: int = SNAPSHOTS, repeats: int = 7) -> str:
    """Measure and return a Markdown section."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_diagnose-") as directory:
        path = Path(directory) / "recording"
        start = time.perf_counter()
        recording = build(snapshots, path)
        built = time.perf_counter() - start
        findings = nv.diagnose(recording)
        rows.append(
            (
                "in memory, first diagnosis",
                *_median_ms(lambda: nv.diagnose(_Fresh(recording)), repeats),
            )
        )
        rows.append(("in memory, again", *_median_ms(lambda: nv.diagnose(recording), repeats)))
        opened = nv.Recording.open(path)
        assert nv.diagnose(opened) == findings
        rows.append(
            (
                "opened from disk, first diagnosis after opening",
                *_median_ms(lambda: nv.diagnose(nv.Recording.open(path)), max(3, repeats // 2)),
            )
        )
        rows.append(("opened from disk, again", *_median_ms(lambda: nv.diagnose(opened), repeats)))
    layers = len(recording.layers)
    statistic_count = sum(len(recording.statistics(layer)) for layer in recording.layers)
    kinds = ", ".join(f"{f.kind} ({f.layer})" for f in findings)
    lines = [
        "## Diagnosis of a long recording (`benchmarks/bench_diagnose.py`)",
        "",
        f"`nv.diagnose` on {snapshots:,} snapshots of a {layers}-layer model from random data "
        f"({statistic_count:,} statistics a snapshot, {len(recording.steps):,} steps of "
        "per-step series, the probe activations of 10 Tanh layers, two of them saturated "
        f"throughout); built in {built:.0f} s "
        "(in memory and on disk). A diagnosis remembers what it measured on a recording's "
        "frames, so that one repeated as snapshots arrive reads each frame once: *first* is a "
        "recording never diagnosed, *again* one diagnosed before. Median of the runs; Python "
        f"{platform.python_version()}, numpy {np.__version__}.",
        "",
        "| recording | diagnose (median) | runs (ms) |",
        "| --- | --- | --- |",
    ]
    for name, median, times in rows:
        lines.append(f"| {name} | {median:.0f} ms | {', '.join(f'{t:.0f}' for t in times)} |")
    lines += ["", f"Findings: {kinds}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(run())
