"""Real-size networks on the CPU (issue 12): what recording costs, what a snapshot weighs, and
what a scrub move costs on the largest frames.

1. ResNet-18 and the ~14M-parameter transformer LM: a bare copy and a recorded copy of the same
   initial model step alternately (AdamW, the same batch), first with default settings and no
   snapshot, then with a snapshot every ``SNAPSHOT_EVERY`` steps. Reported: the per-step ratio
   (median of recorded/bare over the pairs), a snapshot's time in training steps, MiB per
   snapshot in memory (``Recording.nbytes`` growth) and on disk (``path=``, the directory's
   growth), the device memory the Recorder holds and the snapshots the default budget keeps.
2. The LeNet-5 digits epoch with one snapshot, as :mod:`benchmarks.bench_recorder` measures it.
3. The explorer's kernel-side scrub move (timed as in :mod:`benchmarks.bench_scrub`) on Linear
   weights of 4096 x 4096 and 4096 x 11008 values recorded by a Recorder to disk, shown from the
   Recorder's own Recording and from the directory opened again.

Then every goal of the issue, met or missed. Run: ``python -m benchmarks bench_scale``. The
shared tools (workloads, alternating copies, the Recorder's memory) are in
:mod:`benchmarks.scale`.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import nnviz_widgets as nv
from benchmarks.scale import (
    MIB,
    WARMUP,
    Alternation,
    Trainee,
    Workload,
    alternate,
    identical,
    recorded_parameter_bytes,
    recorder_memory,
    resnet18,
    transformer_lm,
)
from benchmarks.scale_scrub import (
    PAUSE,
    SCRUB_CASES,
    SCRUB_SHAPES,
    SCRUB_SNAPSHOTS,
    measure_scrubs,
    scrub_table,
)

STEPS = 10  # timed steps of each copy with default settings (after WARMUP untimed pairs)
SNAPSHOT_STEPS = 8  # timed steps of each copy with a snapshot every SNAPSHOT_EVERY steps
SNAPSHOT_EVERY = 2
DISK_SNAPSHOTS = 3  # snapshots taken with path= to weigh them on disk


@dataclass
class Scale:
    """What one workload measured; the derived figures are properties."""

    workload: Workload
    layers: int
    default: Alternation  # default settings, no snapshot
    snapshotting: Alternation  # a snapshot every SNAPSHOT_EVERY steps
    first_snapshot: float  # seconds
    first_bytes: int  # Recording.nbytes after the first snapshot (it has no update frames)
    max_bytes: int
    memory: int
    memory_how: str
    parameter_bytes: int
    identical: bool
    disk_bytes: float  # per snapshot
    disk_snapshot: float  # seconds, the snapshot call with path=

    @property
    def per_snapshot(self) -> float:
        """Bytes a snapshot adds to the Recording: the median growth after the first snapshot,
        before the budget thinned any."""
        sizes = [self.first_bytes, *self.snapshotting.nbytes]
        if self.snapshotting.kept is not None:
            sizes = sizes[: self.snapshotting.kept]
        growth = np.diff(sizes)
        return float(np.median(growth)) if growth.size else float(self.first_bytes)

    @property
    def kept(self) -> int:
        """Snapshots the budget holds before thinning, from the sizes per snapshot."""
        room = self.max_bytes - self.first_bytes
        return 1 + int(room // self.per_snapshot) if room >= 0 and self.per_snapshot else 0


def measure_training(
    workload: Workload, steps=STEPS, snapshot_steps=SNAPSHOT_STEPS, disk_snapshots=DISK_SNAPSHOTS
) -> Scale:
    """Both runs of one workload (default settings, then with snapshots), and its disk run."""
    bare, recorded = Trainee(workload), Trainee(workload)
    with warnings.catch_warnings():  # thinning is measured, not shown
        warnings.simplefilter("ignore", nv.RecordingBudgetWarning)
        rec = recorded.recorder()
        try:
            default = alternate(bare, recorded, steps)
            first = recorded.snapshot(rec)
            first_bytes = rec.recording.nbytes
            snapshotting = alternate(bare, recorded, snapshot_steps, rec, SNAPSHOT_EVERY)
            memory, how = recorder_memory(rec, exclude=workload.probe)
            parameter_bytes = recorded_parameter_bytes(rec)
            max_bytes, layers = rec.recording.max_bytes, len(rec.layers)
        finally:
            rec.close()
    same = identical(bare.model, recorded.model)
    del bare, recorded, rec
    gc.collect()
    disk_bytes, disk_snapshot = measure_disk(workload, disk_snapshots)
    return Scale(
        workload,
        layers,
        default,
        snapshotting,
        first,
        first_bytes,
        max_bytes,
        memory,
        how,
        parameter_bytes,
        same,
        disk_bytes,
        disk_snapshot,
    )


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure_disk(workload: Workload, snapshots: int) -> tuple[float, float]:
    """Bytes per snapshot on disk (a Recorder with ``path=``; the directory's growth over
    ``snapshots`` snapshots, one training step apart, the first without update frames, step
    series included) and the snapshot call's median seconds there."""
    trainee = Trainee(workload)
    times = []
    with tempfile.TemporaryDirectory(prefix="nnviz-bench-scale-") as folder:
        path = Path(folder) / "run"
        rec = trainee.recorder(path=path)
        try:
            empty = folder_bytes(path)
            for _ in range(snapshots):
                trainee.step()
                times.append(trainee.snapshot(rec))
        finally:
            rec.close()  # waits for the writes in the background
        grown = folder_bytes(path) - empty
    return grown / snapshots, statistics.median(times)


def lenet_epoch_ratio() -> tuple[float, bool]:
    """The LeNet-5 digits epoch with one snapshot, recorded/bare, and whether the parameters
    ended identical: :mod:`benchmarks.bench_recorder`'s interleaved epochs, run again here."""
    from benchmarks import bench_recorder

    medians, identical, _ = bench_recorder._speed(nv.datasets.digits(size=28))
    return medians["recorder"] / medians["bare"], identical


def _progress(what: str) -> None:
    if what:  # a run takes minutes: say where it is
        print(f"  bench_scale: {what} ...", file=sys.stderr, flush=True)


def _mib(nbytes: float) -> str:
    return f"{nbytes / MIB:,.1f} MiB"


def _cells(s: Scale) -> list[tuple[str, str]]:
    """One model's column of the training table: (row label, cell)."""
    count = sum(p.numel() for p in s.workload.model.parameters())
    default, snapshotting = s.default, s.snapshotting
    snapshot = statistics.median(snapshotting.snapshots)
    thinned = snapshotting.kept
    share = 100 * s.memory / s.parameter_bytes
    return [
        (
            "model",
            f"{count:,} parameters, {s.layers} recorded layers; {s.workload.description}",
        ),
        ("bare training step (median)", f"{1000 * statistics.median(default.bare):.0f} ms"),
        (
            "**per-step ratio, default settings**",
            f"**{default.ratio:.3f}** (median of {len(default.bare)} pairs)",
        ),
        (
            f"per-step ratio with a snapshot every {SNAPSHOT_EVERY} steps (the steps alone)",
            f"{snapshotting.ratio:.3f}",
        ),
        (
            "one snapshot",
            f"{1000 * snapshot:.0f} ms = **{snapshotting.snapshot_steps:.2f} steps** "
            f"(median of {len(snapshotting.snapshots)}); "
            f"the first {1000 * s.first_snapshot:.0f} ms",
        ),
        (
            "memory per snapshot (`Recording.nbytes` growth)",
            f"**{_mib(s.per_snapshot)}** (the first {_mib(s.first_bytes)})",
        ),
        (
            "on disk per snapshot (`path=`, directory growth)",
            f"{_mib(s.disk_bytes)}; the snapshot call {1000 * s.disk_snapshot:.0f} ms",
        ),
        (
            "device memory the Recorder holds",
            f"**{_mib(s.memory)} = {share:.0f}%** of the recorded parameters' "
            f"{_mib(s.parameter_bytes)}",
        ),
        (
            f"snapshots the default {_mib(s.max_bytes)} budget keeps",
            f"**{s.kept}** (from the sizes)"
            + (f"; thinning began at snapshot {thinned + 1}" if thinned is not None else ""),
        ),
        ("parameters bit-identical to bare after training", str(s.identical)),
    ]


def _training_table(scales: list[Scale]) -> list[str]:
    columns = [_cells(s) for s in scales]
    lines = [
        "| | " + " | ".join(s.workload.name for s in scales) + " |",
        "| --- |" + " --- |" * len(scales),
    ]
    for i, (label, _) in enumerate(columns[0]):
        lines.append(f"| {label} | " + " | ".join(c[i][1] for c in columns) + " |")
    lines += [
        "",
        "How the device memory was found (on a CPU, host copies count too: they are the same "
        "memory; the parts are named so that a GPU's share can be read off):",
        "",
    ]
    lines += [f"- {s.workload.name}: {s.memory_how}." for s in scales]
    return lines


def _goals(scales: list[Scale], lenet: tuple[float, bool] | None, scrubs: list) -> list[str]:
    """The issue's goals, each met or missed, with the figure that decides."""
    goals = [
        (
            s.default.ratio <= 1.02,
            f"per-step cost at most 1.02x bare with default settings, "
            f"{s.workload.name}: {s.default.ratio:.3f}x",
        )
        for s in scales
    ]
    if lenet is not None:
        goals.append(
            (
                lenet[0] <= 1.03,
                f"LeNet-5 digits epoch with one snapshot at most 1.03x bare: {lenet[0]:.3f}x",
            )
        )
    goals += [
        (
            s.snapshotting.snapshot_steps <= 1,
            f"a snapshot at most one training step, "
            f"{s.workload.name}: {s.snapshotting.snapshot_steps:.2f} steps",
        )
        for s in scales
    ]
    resnet = next((s for s in scales if s.workload.name == "ResNet-18"), None)
    if resnet is not None:
        goals.append(
            (
                resnet.per_snapshot <= 10 * MIB,
                f"at most 10 MiB per ResNet-18 snapshot in memory: {_mib(resnet.per_snapshot)}",
            )
        )
    goals += [
        (
            s.memory <= 0.05 * s.parameter_bytes,
            f"device memory held at most 5% of the recorded "
            f"parameters' bytes, {s.workload.name}: {100 * s.memory / s.parameter_bytes:.0f}%",
        )
        for s in scales
    ]
    if scrubs:
        worst = max(
            (r[case][0], case, f"Linear({shape[1]}, {shape[0]})", source)
            for shape, source, r in scrubs
            for case, _, _ in SCRUB_CASES
        )
        goals.append(
            (
                worst[0] < 10,
                "scrub move under 10 ms at every size, first visit and key "
                f"repeat included (medians): slowest {worst[0]:.1f} ms ({', '.join(worst[1:])})",
            )
        )
    if resnet is not None:
        goals.append(
            (resnet.kept >= 100, f"100 ResNet-18 snapshots in the default budget: {resnet.kept}")
        )
    return [f"- {'met' if met else '**missed**'}: {text}" for met, text in goals]


def run(
    workloads=(resnet18, transformer_lm),
    *,
    steps: int = STEPS,
    snapshot_steps: int = SNAPSHOT_STEPS,
    disk_snapshots: int = DISK_SNAPSHOTS,
    scrub_shapes=SCRUB_SHAPES,
    scrub_snapshots: int = SCRUB_SNAPSHOTS,
    lenet: bool = True,
) -> str:
    """Measure everything and return the Markdown section. ``workloads`` are functions that
    make a :class:`~benchmarks.scale.Workload`; the other arguments make a smaller run."""
    load = os.getloadavg()[0]
    scales = []
    for make in workloads:
        workload = make()
        _progress(f"{workload.name}: bare and recorded copies alternating")
        scales.append(measure_training(workload, steps, snapshot_steps, disk_snapshots))
        gc.collect()
    _progress("LeNet-5 digits epochs" if lenet else "")
    lenet_result = lenet_epoch_ratio() if lenet else None
    _progress("scrub moves" if scrub_shapes else "")
    scrubs = measure_scrubs(scrub_shapes, scrub_snapshots) if scrub_shapes else []
    lines = [
        "## Real-size networks on the CPU (issue 12)",
        "",
        f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads; load average "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (other work on the "
        "machine inflates the Recorder's extra memory passes more than training).",
        "",
        "Each model: a bare and a recorded copy of the same initial model, AdamW, the same batch "
        f"every step, stepping alternately (who goes first alternates), {WARMUP} untimed pairs "
        f"before each run. Default settings: {steps} timed steps of each, no snapshot. Then "
        f"{snapshot_steps} more each with a snapshot every {SNAPSHOT_EVERY} steps (after one "
        f"untimed first snapshot). On disk: a third copy with `path=`, {disk_snapshots} snapshots "
        "one step apart (the first has no update frames). So few steps keep the run under ~10 "
        "minutes on 2 cores: compare the same-run ratios, not the absolute times.",
        "",
        *_training_table(scales),
    ]
    if lenet_result is not None:
        lines += [
            "",
            f"LeNet-5 on the digits, one epoch with one snapshot: **{lenet_result[0]:.3f}x** bare "
            "(`bench_recorder`'s interleaved epochs, run again here; its section has the "
            f"details). Parameters identical to bare: {lenet_result[1]}.",
        ]
    if scrubs:
        lines += [
            "",
            "### Scrub move in the kernel, large Linear weights",
            "",
            f"A `Linear` layer recorded by a Recorder with default settings and `path=`, "
            f"{scrub_snapshots} snapshots; the explorer shows its `weight` from the Recorder's "
            "own Recording (as during training: frames past the memory budget are read back "
            "from disk) and from the directory opened again (`Recording.open`). A move is "
            "timed from `explorer.index = i` until every message is JSON-serialized "
            f"(`bench_scrub`'s method), stepping from the first snapshot to the last. First "
            f"visit: nothing prepared, no prefetch. Stepping: {1000 * PAUSE:.0f} ms between "
            "moves (the browser round trip), prefetch on. Key repeat: no pause, prefetch on. "
            'Milliseconds, median / p90; "explorer made": building and drawing it, ms.',
            "",
            *scrub_table(scrubs),
        ]
    lines += ["", "### Goals (issue 12)", "", *_goals(scales, lenet_result, scrubs), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
