"""Kernel-side cost of one slider move in the TrainingExplorer, and the bytes it sends.

A move is timed from the trait change (``explorer.index = i``, what a slider drag does in the
kernel) until every resulting comm message has been serialized: each widget's comm is replaced by
one that JSON-encodes the message as the kernel would and counts the binary buffers. So the time
includes picture layout, reduction, colouring, PNG encoding, the context views, traitlets,
ipywidgets' serializers and JSON; it excludes the socket and the browser.

Sizes are square Linear weight frames of 16^2, 256^2, 1024^2 and 4096^2 values. Four cases:
"first visit" (nothing prepared: the frame is reduced in full within the move), "stepping" (one
snapshot forward per move with a browser-like pause between moves, while the explorer prepares
other snapshots in the background), "jumping" (the same, to random snapshots), and "revisit"
(snapshots already prepared). The
goal: under 10 ms at every size, and flat above the view's size (400x450 cells).

Run: ``python -m benchmarks.bench_scrub``; ``run()`` returns the Markdown section.
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np

from benchmarks.standin_comm import SENT, serializing_comms

MOVES = 30
SIZES = (16, 256, 1024, 4096)
CASES = ("first visit", "stepping", "jumping", "revisit")
PAUSE = 0.06  # seconds between moves when stepping: the measured widget round-trip floor
SNAPSHOTS = {16: 10, 256: 10, 1024: 10, 4096: 4}  # 4 x 64 MiB at the largest size


def _recording(size: int, rng: np.random.Generator):
    from nnviz_widgets.recording import Recording, SnapshotData

    recording = Recording(max_bytes=1 << 34)
    recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
    for epoch in range(SNAPSHOTS[size]):
        weight = rng.standard_normal((size, size), dtype=np.float32)
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=epoch * 100,
                frames={("fc", "weight"): weight},
                # as the Recorder does: a count of NaN/Inf, so the views can skip the scan
                statistics={("fc", "grad_norm"): 1.0 / (epoch + 1), ("fc", "nonfinite_weight"): 0},
                metrics={"loss": 1.0 / (epoch + 1), "accuracy": epoch / 10},
            )
        )
    return recording


def _measure(size: int, rng: np.random.Generator) -> dict:
    from nnviz_widgets.widgets.explorer import TrainingExplorer

    explorer = TrainingExplorer(_recording(size, rng))
    count = len(explorer.recording)
    results = {}
    for case in CASES:
        # prefetching works between moves; without a pause it would only compete for the CPU
        explorer._frames.prefetching = case in ("stepping", "jumping")
        explorer._frames.clear()
        if case == "revisit":
            for index in range(count):  # see every snapshot once, untimed
                explorer.index = index
        times, sizes, messages = [], [], []
        jumps = np.random.default_rng(1).integers(1, count, size=MOVES)
        for move in range(MOVES):
            target = (explorer.index + 1) % count  # step through, as a drag or Play does
            if case == "first visit":
                explorer._frames.clear()
            elif case == "jumping":  # anywhere else in the run, as a click on the metrics does
                target = (explorer.index + int(jumps[move])) % count
            if case in ("stepping", "jumping"):
                time.sleep(PAUSE)  # the browser round trip between two slider messages
            SENT.clear()
            start = time.perf_counter()
            explorer.index = target
            times.append(time.perf_counter() - start)
            sizes.append(sum(SENT))
            messages.append(len(SENT))
            assert explorer.error.value == "", explorer.error.value
        results[case] = {
            "median_ms": 1000 * statistics.median(times),
            "p90_ms": 1000 * float(np.percentile(times, 90)),
            "bytes": int(statistics.median(sizes)),
            "messages": int(statistics.median(messages)),
        }
    explorer._frames.prefetching = True
    results["shown"] = explorer.heatmap.shown.values.shape
    explorer.close(widget=True)
    return results


def run() -> str:
    """Measure every size and return a Markdown section with the results."""
    with serializing_comms():  # every widget made from here on counts what it sends
        rng = np.random.default_rng(0)
        rows = []
        for size in SIZES:
            result = _measure(size, rng)
            shown = "x".join(str(s) for s in result["shown"])
            for case in CASES:
                r = result[case]
                rows.append(
                    f"| {size}x{size} | {shown} | {case} | {r['median_ms']:.2f} | "
                    f"{r['p90_ms']:.2f} | {r['bytes'] / 1024:.1f} | {r['messages']} |"
                )
    lines = [
        "## Scrubbing: kernel-side cost of one slider move (TrainingExplorer)",
        "",
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, numpy {np.__version__}.",
        "",
        f"Median over {MOVES} moves from the trait change until every comm message is serialized",
        "(layout, block-mean reduction, colouring, PNG, context views, traitlets, JSON). The",
        "frame is a square Linear weight; the heatmap shows at most 400x450 cells.",
        "",
        "- *first visit*: nothing prepared (cache cleared, no prefetch): the full frame is",
        "  reduced, coloured and encoded within the move;",
        f"- *stepping*: one snapshot forward per move, {PAUSE * 1000:.0f} ms apart (the browser",
        "  round trip), with the background preparation of other snapshots on (the default);",
        "- *jumping*: as stepping, to a random other snapshot (the cache holds every snapshot of",
        "  small frames, only the nearest ones of large frames);",
        "- *revisit*: scrubbing over snapshots already prepared.",
        "",
        "| frame | shown | case | median ms | p90 ms | KiB sent | messages |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
