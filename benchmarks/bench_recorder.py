"""What recording costs training: LeNet-5 on the bundled digits, on the CPU.

Three ways to train the same model from the same start, one epoch of each in turn so that they
share the machine's noise: bare; with a Recorder taking one snapshot per epoch; with a
TensorBoard ``SummaryWriter`` logging a histogram of every parameter and gradient once per epoch
(what users do today). Then the memory of a 100-snapshot recording.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time

import psutil
import torch
from torch.nn import functional as F

import nnviz_widgets as nv

EPOCHS = 15  # the first is a warm-up and is not counted


def _train_epoch(model, optimizer, loader, after=None):
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    if after is not None:
        after(loss)
    return float(loss.detach())


def _variants(data):
    torch.manual_seed(0)
    start = nv.models.LeNet5().state_dict()
    variants = {}
    for name in ("bare", "recorder", "bare ", "tensorboard"):  # "bare ": TensorBoard's pair
        model = nv.models.LeNet5()
        model.load_state_dict(start)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        variants[name] = {"model": model, "optimizer": optimizer, "times": [], "epoch": 0}
        variants[name]["after"] = None
    rec = nv.Recorder(
        variants["recorder"]["model"],
        probe=(data.probe_images, data.probe_labels),
        optimizer=variants["recorder"]["optimizer"],
    )
    variants["recorder"]["after"] = lambda loss: rec.snapshot(
        epoch=variants["recorder"]["epoch"], loss=loss
    )
    from torch.utils.tensorboard import SummaryWriter

    logdir = tempfile.mkdtemp(prefix="nnviz-bench-tb-")
    writer = SummaryWriter(logdir)
    tb_model = variants["tensorboard"]["model"]

    def log_histograms(loss):
        epoch = variants["tensorboard"]["epoch"]
        writer.add_scalar("loss", float(loss), epoch)
        for name, param in tb_model.named_parameters():
            writer.add_histogram(name, param, epoch)
            if param.grad is not None:
                writer.add_histogram(f"{name}.grad", param.grad, epoch)
        writer.flush()

    variants["tensorboard"]["after"] = log_histograms
    return variants, rec, writer


#: each pair alternates epoch by epoch on its own: TensorBoard's histograms call numpy's BLAS,
#: whose threads keep spinning after the call and slow whatever trains next (measured: the
#: epoch after TensorBoard's took 1.5x), so a variant run after it would pay for it
PAIRS = (("bare", "recorder"), ("bare ", "tensorboard"))


def _speed(data) -> tuple[dict, bool, object]:
    """Median epoch seconds per variant, and whether bare and recorded ended identical.

    The ratios to report are recorder / "bare" and tensorboard / "bare " (its own pair)."""
    variants, rec, writer = _variants(data)
    for pair in PAIRS:
        for epoch in range(EPOCHS):
            order = list(pair) if epoch % 2 == 0 else list(reversed(pair))
            for name in order:  # who goes first alternates
                v = variants[name]
                v["epoch"] = epoch
                loader = data.train_loader(batch_size=64, seed=epoch)
                start = time.perf_counter()
                _train_epoch(v["model"], v["optimizer"], loader, v["after"])
                v["times"].append(time.perf_counter() - start)
    rec.close()
    writer.close()
    identical = all(
        torch.equal(a, b)
        for a, b in zip(
            variants["bare"]["model"].state_dict().values(),
            variants["recorder"]["model"].state_dict().values(),
        )
    )
    medians = {name: statistics.median(v["times"][1:]) for name, v in variants.items()}
    return medians, identical, rec.recording


def _memory(data) -> tuple[float, float, int]:
    """A 100-snapshot recording of LeNet-5 (two steps between snapshots: frame sizes do not
    depend on how long an epoch is)."""
    torch.manual_seed(0)
    model = nv.models.LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    gc.collect()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    with nv.Recorder(
        model, probe=(data.probe_images, data.probe_labels), optimizer=optimizer
    ) as rec:
        batches = iter(data.train_loader(batch_size=64))
        for epoch in range(100):
            for _ in range(2):
                x, y = next(batches, None) or next(iter(data.train_loader(batch_size=64)))
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
            rec.snapshot(epoch=epoch)
    gc.collect()
    rss_growth = process.memory_info().rss - rss_before
    return rec.recording.nbytes, rss_growth, len(rec.recording.thinned)


def _parts(data) -> tuple[float, float, float]:
    """Median cost of one training step bare and with the Recorder's step hooks, and of one
    snapshot, each timed alone on the same model and batch."""
    torch.manual_seed(0)
    model = nv.models.LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    x, y = data.train_images[:64], data.train_labels[:64]

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    def median_ms(fn, n):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    for _ in range(10):
        step()
    bare = median_ms(step, 200)
    with nv.Recorder(
        model, probe=(data.probe_images, data.probe_labels), optimizer=optimizer
    ) as rec:
        recorded = median_ms(step, 200)
        snapshot = median_ms(lambda: (step(), rec.snapshot()), 40) - recorded
    return bare, recorded, snapshot


def run() -> str:
    data = nv.datasets.digits(size=28)
    medians, identical, recording = _speed(data)
    step_bare, step_recorded, snapshot_ms = _parts(data)
    bare = medians["bare"]
    ratios = {
        "recorder": medians["recorder"] / bare,
        "tensorboard": medians["tensorboard"] / medians["bare "],
    }
    rows = "\n".join(
        f"| {name}{' (its pair)' if name == 'bare ' else ''} | {seconds * 1000:.0f} ms | "
        f"{ratios.get(name, 1.0):.3f} |"
        for name, seconds in medians.items()
    )
    nbytes, rss, thinned = _memory(data)
    steps = len(data.train_labels) // 64 + 1
    return f"""## Recorder overhead on training (issue 2)

LeNet-5 on the bundled digits at 28x28, batch 64 ({steps} steps per epoch), SGD with momentum,
CPU. Median time per epoch over {EPOCHS - 1} epochs (one warm-up epoch not counted). Two pairs,
each a bare copy and one variant alternating epoch by epoch (who goes first alternates), one pair
after the other: TensorBoard's histograms call numpy's BLAS, whose threads keep spinning after
the call and slow whatever trains next, so it is not interleaved with the recorder.
Recorder: one snapshot per epoch of all {len(recording.layers)} layers with a 20-image probe.
TensorBoard: `SummaryWriter.add_histogram` of every parameter and gradient once per epoch.

| variant | median epoch | ratio to bare |
| --- | --- | --- |
{rows}

Goal: recorder at most 1.05x bare, and below the TensorBoard baseline.
Recorder {"within" if ratios["recorder"] <= 1.05 else "OVER"} 5% of bare;
{"below" if ratios["recorder"] < ratios["tensorboard"] else "NOT below"} TensorBoard.
Parameters after training bit-identical to bare: {identical}.

Where the recorder's time goes (each timed alone, medians): a training step
{step_bare:.2f} ms bare, {step_recorded:.2f} ms with the step hooks
(+{(step_recorded - step_bare) * 1000:.0f} us); one snapshot {snapshot_ms:.1f} ms (a probe
forward and backward through every layer plus the copies). The cost per epoch is about
steps x step overhead + one snapshot, so its share falls as epochs grow: these digits give
only {steps} steps per epoch.

Memory of a 100-snapshot LeNet-5 recording (every layer, 20-image probe): frames
{nbytes / 2**20:.0f} MiB ({nbytes / 100 / 2**20:.2f} MiB per snapshot), process RSS grew by
{rss / 2**20:.0f} MiB; {thinned} snapshot(s) thinned by the default 1 GiB budget.
"""


if __name__ == "__main__":
    print(run())
