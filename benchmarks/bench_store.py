"""Recordings on disk: what writing a snapshot costs, and what opening a long recording costs.

Run with ``python -m benchmarks.bench_store``; :func:`run` returns a Markdown section for
``benchmarks/RESULTS.md``.

1. Writing one snapshot with :class:`RecordingWriter` against ``numpy.save`` of the same arrays
   (one ``.npy`` file each, no ``fsync``): the floor any format of ours is measured against.
2. Opening a recording and reading its last frame, for 10 and for 1,000 snapshots: opening must
   not read snapshot files, so the time should barely grow with the number of snapshots.
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

from nnviz_widgets.recording import Recording, SnapshotData
from nnviz_widgets.store import RecordingWriter


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


def _build(path: Path, snapshots: int, rng: np.random.Generator) -> None:
    # small frames: the point is the number of snapshots, not their size
    frames = _frames(0.25, 12, rng)
    columns = [(layer, name) for layer, _ in frames for name in ("grad_norm", "weight_norm")]
    with RecordingWriter(path, sync=False) as writer:
        writer.write_layers(_layers(frames))
        for index in range(snapshots):
            statistics_ = {key: float(index) for key in columns}
            writer.write_snapshot(
                index,
                SnapshotData(epoch=index, step=10 * index, frames=frames, statistics=statistics_),
            )
            steps = np.arange(10 * index, 10 * index + 10)
            writer.write_steps(steps, {key: np.ones(10) for key in columns})


def _open_speed(root: Path, counts: tuple[int, ...], repeats: int, rng) -> dict:
    results = {}
    for count in counts:
        path = root / f"long-{count}"
        _build(path, count, rng)
        opened = _median_ms(lambda path=path: Recording.open(path), repeats)
        recording = Recording.open(path)
        assert len(recording) == count
        read = _median_ms(lambda r=recording: r.frame("layer2", "activation", -1), repeats)
        both = _median_ms(
            lambda path=path: Recording.open(path).frame("layer2", "activation", -1), repeats
        )
        size = sum(f.stat().st_size for f in path.rglob("*")) / 2**20
        results[count] = (opened, read, both, size)
    return results


def run(
    *,
    repeats: int = 7,
    megabytes: tuple[float, ...] = (3.0, 16.0),
    counts: tuple[int, ...] = (10, 1000),
) -> str:
    """Measure and return a Markdown section; the defaults take about 20 s."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_store-") as directory:
        root = Path(directory)
        writes = {mb: _write_speed(root, mb, repeats, rng) for mb in megabytes}
        opens = _open_speed(root, counts, repeats, rng)
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
        "**Opening a recording and reading its last frame**, by number of snapshots (12 frames "
        "and one block of 10 steps x 24 series each). Opening reads the manifest, the log and "
        "the step file, and checks each snapshot file's size; it never reads a snapshot file.",
        "",
        "| snapshots | on disk | open | read the last frame | open + read the last frame |",
        "| --- | --- | --- | --- | --- |",
    ]
    for count, (opened, read, both, size) in opens.items():
        lines.append(
            f"| {count:,} | {size:.0f} MiB | {opened:.1f} ms | {read:.2f} ms | {both:.1f} ms |"
        )
    if len(opens) >= 2:
        (small, first), (large, second) = list(opens.items())[:2]
        per = (second[0] - first[0]) / (large - small) * 1e3
        lines += [
            "",
            f"Reading a frame costs the same whatever the number of snapshots. Opening is not "
            f"free of it: each snapshot adds about {per:.0f} µs (its log line parsed, its file's "
            "size checked, its scalars added to the in-memory Recording); frames are never read.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(run())
