"""The explorer at real sizes: a kernel-side scrub move on large Linear weights, recorded by a
Recorder (for :mod:`benchmarks.bench_scale`).

A move is timed as :mod:`benchmarks.bench_scrub` times it: from ``explorer.index = i`` until
every comm message it causes is serialized, through a comm that JSON-encodes instead of
sending. The frames come from a real Recorder with default settings and ``path=``, so that they
are stored as the Recorder stores them (in memory within the budget, on disk beyond it), and
are shown from the Recorder's own Recording and from the directory opened again.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from benchmarks.standin_comm import serializing_comms

SCRUB_SHAPES = ((4096, 4096), (11008, 4096))  # Linear weights, (out_features, in_features)
SCRUB_SNAPSHOTS = 8
PAUSE = 0.06  # seconds between moves when stepping: the browser round trip


def scrub_recording(shape: tuple[int, int], snapshots: int, path: Path) -> nv.Recording:
    """A Recorder's recording (to ``path`` as well) of one Linear layer ``fc`` of ``shape``,
    with default settings: ``snapshots`` snapshots, one SGD step apart, a 4-sample probe."""
    out_features, in_features = shape
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(in_features, out_features)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(8, in_features), torch.randint(0, out_features, (8,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nv.RecordingBudgetWarning)
        with nv.Recorder(model, probe=(x[:4], y[:4]), optimizer=optimizer, path=path) as rec:
            for _ in range(snapshots):
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
                rec.snapshot()
    return rec.recording


#: (case, pause before each move, prefetching): a first visit finds nothing prepared
SCRUB_CASES = (("first visit", 0.0, False), ("stepping", PAUSE, True), ("key repeat", 0.0, True))


def measure_scrub(recording: nv.Recording) -> dict:
    """Milliseconds of one move (median, p90) per case, stepping from snapshot 0 to the last,
    the explorer's making and drawing, and the frame's and picture's shapes."""
    start = time.perf_counter()
    explorer = nv.TrainingExplorer(recording)
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 0
    result = {"open": 1000 * (time.perf_counter() - start)}
    result["frame"] = recording.frame("fc", "weight", -1).shape
    result["shown"] = explorer.heatmap.shown.values.shape
    frames = explorer._frames  # the explorer has no public way to forget what it prepared
    try:
        for case, pause, prefetching in SCRUB_CASES:
            frames.prefetching = prefetching
            explorer.index = 0
            frames.wait(60)
            frames.clear()
            times = []
            for target in range(1, len(recording)):
                if not prefetching:
                    frames.clear()
                time.sleep(pause)
                start = time.perf_counter()
                explorer.index = target
                times.append(1000 * (time.perf_counter() - start))
                if explorer.error.value:
                    raise RuntimeError(f"{case}, move to {target}: {explorer.error.value}")
            result[case] = (statistics.median(times), float(np.percentile(times, 90)))
    finally:
        explorer.close(widget=True)
    return result


def measure_scrubs(shapes=SCRUB_SHAPES, snapshots=SCRUB_SNAPSHOTS) -> list[tuple]:
    """``(shape, source, measure_scrub result)`` for each shape, from the Recorder's own
    Recording and from its directory opened again."""
    results = []
    with serializing_comms():
        nv.TrainingExplorer().close(widget=True)  # the first one made pays for imports
        for shape in shapes:
            with tempfile.TemporaryDirectory(prefix="nnviz-bench-scale-") as folder:
                path = Path(folder) / "run"
                recorded = scrub_recording(shape, snapshots, path)
                results.append((shape, "Recorder's", measure_scrub(recorded)))
                del recorded
                gc.collect()
                opened = nv.Recording.open(path)
                try:
                    results.append((shape, "opened", measure_scrub(opened)))
                finally:
                    opened.close()
    return results


def scrub_table(scrubs: list[tuple]) -> list[str]:
    """The Markdown table of :func:`measure_scrubs`'s results."""
    lines = [
        "| layer | `frame()` | shown | from | explorer made | "
        + " | ".join(case for case, _, _ in SCRUB_CASES)
        + " |",
        "| --- " * (5 + len(SCRUB_CASES)) + "|",
    ]
    for (out_features, in_features), source, r in scrubs:
        cells = [f"{r[case][0]:.1f} / {r[case][1]:.1f}" for case, _, _ in SCRUB_CASES]
        lines.append(
            f"| Linear({in_features}, {out_features}) | {'x'.join(map(str, r['frame']))} | "
            f"{'x'.join(map(str, r['shown']))} | {source} | {r['open']:.0f} | "
            + " | ".join(cells)
            + " |"
        )
    return lines
