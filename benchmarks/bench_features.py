"""What feature visualization costs on a CPU: the 16 channels of LeNet-5's conv2 on 28 x 28
inputs, optimized together with the default recipe (128 steps), median of a few runs.

The model is LeNet-5 at its seeded initial weights (the time does not depend on what the
weights are); the probe is the digits' probe batch, which gives the input's shape and range.
FGSM on the 20 probe digits is timed too.
"""

from __future__ import annotations

import statistics
import time

import torch

RUNS = 5
#: "a few seconds on CPU" (issue 17)
GOAL_SECONDS = 5.0


def _median_seconds(job) -> tuple[float, float, float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def run() -> str:
    """Measure and return a Markdown section for RESULTS.md."""
    from nnviz_widgets import adversarial, datasets, feature_visualization, models

    data = datasets.digits(size=28)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = models.LeNet5().eval()
    probe = data.probe_images
    rows = []
    for label, layer, where in (
        ("conv2, 16 channels (mean)", "conv2", "mean"),
        ("conv2, 16 channels (center)", "conv2", "center"),
        ("conv1, 6 channels (center)", "conv1", "center"),
        ("fc3, 10 units", "fc3", "mean"),
    ):
        median, fastest, slowest = _median_seconds(
            lambda layer=layer, where=where: feature_visualization(
                model, layer, probe=probe, where=where
            )
        )
        rows.append((label, median, fastest, slowest))
    fgsm = _median_seconds(lambda: adversarial(model, probe, data.probe_labels))
    conv2 = rows[0][1]
    lines = [
        "## Feature visualization and FGSM on a CPU (issue 17)",
        "",
        f"LeNet-5 on 28 x 28 digits, the default recipe (128 Adam steps, Fourier "
        f"parameterization, random jitter/scale/rotation, total variation and L2); all the "
        f"units of a layer optimized together as one batch. Median of {RUNS} runs, "
        f"{torch.get_num_threads()} torch threads.",
        "",
        "| what | median | fastest / slowest |",
        "| --- | --- | --- |",
        *(f"| {label} | {m:.2f} s | {f:.2f} / {s:.2f} s |" for label, m, f, s in rows),
        f"| FGSM on the 20 probe digits | {fgsm[0] * 1000:.1f} ms | "
        f"{fgsm[1] * 1000:.1f} / {fgsm[2] * 1000:.1f} ms |",
        "",
        f"Goal: 16 channels in a few seconds (under {GOAL_SECONDS:g} s). "
        f"{'Met' if conv2 < GOAL_SECONDS else 'NOT met'} ({conv2:.2f} s).",
    ]
    return "\n".join(lines) + "\n"
