"""A one-shot check of the Recorder on a CUDA GPU (run by hand where one is lent; never in CI).

Checks, on the GPU: training is bit-identical with and without a Recorder (fp32, bf16 autocast,
fp16 autocast with GradScaler); the per-step hooks make no host-device synchronisation
(``torch.cuda.set_sync_debug_mode("error")`` turns any into an exception); frames are float32 and
NaN/Inf counts exact under autocast; and the per-step and per-snapshot costs, as medians, against
bare training in the same run. Prints a Markdown report.

Usage: ``CUBLAS_WORKSPACE_CONFIG=:4096:8 python -m benchmarks.device_check``
"""

from __future__ import annotations

import math
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv


def _data(device, n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (n,), generator=generator)
    return x.to(device), y.to(device)


def _train(device, *, record, precision, steps=30, every=10):
    torch.manual_seed(0)
    model = nv.models.LeNet5().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    probe = _data(device, 16, seed=99)
    rec = nv.Recorder(model, probe=probe, optimizer=optimizer, flush_every=1000) if record else None
    for step in range(1, steps + 1):
        x, y = _data(device, 64, seed=step)
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if rec is not None and step % every == 0:
            with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
                rec.snapshot(epoch=step // every, loss=loss)
    if rec is not None:
        rec.close()
    return model, optimizer, rec


def check_identical() -> list[str]:
    lines = []
    for precision in ("fp32", "bf16", "fp16"):
        bare, bare_opt, _ = _train("cuda", record=False, precision=precision)
        recorded, rec_opt, rec = _train("cuda", record=True, precision=precision)
        same = all(
            torch.equal(a, b)
            for a, b in zip(bare.state_dict().values(), recorded.state_dict().values())
        )
        same_opt = all(
            torch.equal(bare_opt.state[p]["momentum_buffer"], rec_opt.state[q]["momentum_buffer"])
            for p, q in zip(bare.parameters(), recorded.parameters())
        )
        recording = rec.recording
        frame = recording.frame("conv1", "activation", -1)
        lines.append(
            f"| {precision} | {same} | {same_opt} | {len(recording.snapshots)} | "
            f"{recording.steps.size} | {frame.dtype} {frame.shape} | "
            f"{recording.statistic('fc3', 'grad_norm')[-1]:.4g} |"
        )
    return lines


def check_no_sync() -> str:
    model = nv.models.LeNet5().cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    x, y = _data("cuda")
    rec = nv.Recorder(model, probe=_data("cuda", 16, 5), optimizer=optimizer, flush_every=1000)
    for _ in range(3):  # warm-up outside the check (allocations, cuBLAS handles)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    # control: the same optimizer steps without a Recorder must not sync either
    control_model = nv.models.LeNet5().cuda()
    control = torch.optim.SGD(control_model.parameters(), lr=0.02, momentum=0.9)
    F.cross_entropy(control_model(x), y).backward()
    control.step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        control.step()
    except RuntimeError as error:
        torch.cuda.set_sync_debug_mode("default")
        rec.close()
        return f"inconclusive: SGD itself synchronises here ({error})"
    try:
        for _ in range(20):  # only the optimizer step and its hooks run under the check
            optimizer.step()
        result = "no host-device synchronisation in 20 optimizer steps with the step hooks"
    except RuntimeError as error:
        result = f"A SYNC HAPPENED in the step hooks: {error}"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    rec.close()
    return result


def check_counts() -> str:
    model = nn.Sequential(nn.Linear(1, 100_000)).cuda()
    with torch.no_grad():
        model[0].weight.fill_(math.nan)
    with (
        torch.autocast("cuda", dtype=torch.bfloat16),
        nv.Recorder(model, probe=torch.ones(3, 1, device="cuda")) as rec,
    ):
        rec.snapshot()
    count = rec.recording.statistic("0", "nonfinite_activation")[0]
    return f"NaN count of a 300,000-value bf16 activation: {count:,.0f} (expected 300,000)"


def timing(batch=256, steps=60, snapshots=10) -> list[str]:
    def make():
        torch.manual_seed(0)
        model = nv.models.LeNet5().cuda()
        return model, torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

    x, y = _data("cuda", batch)
    bare_model, bare_opt = make()
    rec_model, rec_opt = make()
    rec = nv.Recorder(rec_model, probe=_data("cuda", 20, 7), optimizer=rec_opt)

    def step(model, optimizer):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    def timed(fn, n):
        times = []
        for _ in range(n):
            torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    for _ in range(10):
        step(bare_model, bare_opt)
        step(rec_model, rec_opt)
    bare, recorded = [], []
    for _ in range(5):  # interleaved rounds share the machine's noise
        bare.append(timed(lambda: step(bare_model, bare_opt), steps // 5))
        recorded.append(timed(lambda: step(rec_model, rec_opt), steps // 5))
    snapshot = timed(rec.snapshot, snapshots)
    rec.close()
    b, r = statistics.median(bare), statistics.median(recorded)
    return [
        f"| LeNet-5 step, batch {batch}, bare | {b:.3f} ms | 1.000 |",
        f"| LeNet-5 step, batch {batch}, with Recorder step hooks | {r:.3f} ms | {r / b:.3f} |",
        f"| one snapshot (11 layers, 20-image probe) | {snapshot:.2f} ms | |",
    ]


def main() -> None:
    torch.use_deterministic_algorithms(True)
    print(f"# Recorder on {torch.cuda.get_device_name()} (torch {torch.__version__})\n")
    print(
        "| precision | params identical | momentum identical | snapshots | steps | frame | "
        "fc3 grad norm |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    print("\n".join(check_identical()))
    print()
    print(check_no_sync())
    print(check_counts())
    torch.use_deterministic_algorithms(False)
    print("\n| what | median | ratio |\n| --- | --- | --- |")
    print("\n".join(timing()))


if __name__ == "__main__":
    main()
