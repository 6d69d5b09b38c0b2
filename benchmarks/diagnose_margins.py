"""How far the diagnosis thresholds sit from healthy and broken trainings: the margins of
``docs/diagnosis.md``.

Run with ``PYTHONPATH=$PWD python -m benchmarks.diagnose_margins`` (about two minutes on two CPU
cores). For each training, the quantity each threshold is compared with, taken as the checks
take it (persisting over two consecutive measured snapshots: the largest of the pairwise smaller
values for "too high" conditions, the smallest of the pairwise larger for "too low"), and the
findings. The trainings are the tests' (``tests/trainings.py``) and longer healthy ones defined
here: the thresholds must hold beyond the few steps a test can afford.
"""

from __future__ import annotations

import math
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.diagnosis import diagnose
from nnviz_widgets.diagnosis.gradients import relative_gradients
from nnviz_widgets.diagnosis.reading import Evidence
from nnviz_widgets.diagnosis.thresholds import (
    DEAD_UNIT_TYPES,
    GRADIENT_BASELINE_STEPS,
    SATURATION_BOUNDS,
    UPDATE_WARMUP_STEPS,
)
from nnviz_widgets.diagnosis.units import saturated_fraction
from nnviz_widgets.diagnosis.updates import update_ratios
from tests import trainings


# ---------------------------------------------------------------------- longer healthy runs
def lenet_adam_long() -> nv.Recording:
    torch.manual_seed(1)
    data = trainings._digits(28)
    model = nv.models.LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    probe = (data.probe_images, data.probe_labels)
    return trainings.train(model, optimizer, data.train_images, data.train_labels, probe, epochs=10)


def lenet_sgd_long() -> nv.Recording:
    torch.manual_seed(2)
    data = trainings._digits(28)
    model = nv.models.LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    probe = (data.probe_images, data.probe_labels)
    return trainings.train(model, optimizer, data.train_images, data.train_labels, probe, epochs=10)


def _flat_run(model, optimizer, epochs, **options) -> nv.Recording:
    x, y, probe = trainings._flat()
    return trainings.train(model, optimizer, x, y, probe, epochs=epochs, **options)


def mlp_adam_long() -> nv.Recording:
    torch.manual_seed(3)
    model = nv.models.MLP((64, 128, 64, 10))
    return _flat_run(model, torch.optim.Adam(model.parameters(), lr=1e-3), 20)


def mlp_tanh_long() -> nv.Recording:
    torch.manual_seed(4)
    model = nv.models.MLP((64, 64, 64, 10), activation=nn.Tanh)
    return _flat_run(model, torch.optim.Adam(model.parameters(), lr=1e-3), 20)


def mlp_sigmoid_long() -> nv.Recording:
    torch.manual_seed(5)
    model = nv.models.MLP((64, 64, 10), activation=nn.Sigmoid)
    return _flat_run(model, torch.optim.SGD(model.parameters(), lr=0.5), 20)


def _deep(normalise: bool) -> nn.Module:
    layers, n_in = [], 64
    for _ in range(8):
        layers.append(nn.Linear(n_in, 32))
        if normalise:
            layers.append(nn.BatchNorm1d(32))
        layers.append(nn.ReLU())
        n_in = 32
    return nn.Sequential(*layers, nn.Linear(n_in, 10))


def deep_relu_notebook03() -> nv.Recording:
    torch.manual_seed(6)
    model = _deep(False)
    return _flat_run(model, torch.optim.SGD(model.parameters(), lr=0.1), 6)


def deep_relu_bn_notebook03() -> nv.Recording:
    torch.manual_seed(6)
    model = _deep(True)
    return _flat_run(model, torch.optim.SGD(model.parameters(), lr=0.1), 6)


def resnet_sgd_long() -> nv.Recording:
    torch.manual_seed(7)
    data = trainings._digits(8)
    model = nv.models.ResNet20(in_channels=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    probe = (data.probe_images, data.probe_labels)
    return trainings.train(
        model,
        optimizer,
        data.train_images,
        data.train_labels,
        probe,
        epochs=6,
        steps_per_epoch=20,
    )


def mlp_zero_init_head() -> nv.Recording:
    """An MLP whose last layer starts at zero (as some recipes do), Adam."""
    torch.manual_seed(10)
    model = nv.models.MLP((64, 64, 64, 10))
    with torch.no_grad():
        model[4].weight.zero_()
        model[4].bias.zero_()
    return _flat_run(model, torch.optim.Adam(model.parameters(), lr=1e-3), 8)


def mlp_cosine_to_zero() -> nv.Recording:
    """Adam with a cosine schedule that ends at 0: the last updates are tiny on purpose."""
    torch.manual_seed(8)
    model = nv.models.MLP((64, 64, 64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y, probe = trainings._flat()
    epochs, per_epoch = 12, len(x) // 64
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * per_epoch)
    with nv.Recorder(model, probe=probe, optimizer=optimizer) as rec:
        rec.snapshot(epoch=0)
        for epoch in range(1, epochs + 1):
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
            for start in range(0, per_epoch * 64, 64):
                chosen = order[start : start + 64]
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x[chosen]), y[chosen])
                loss.backward()
                optimizer.step()
                schedule.step()
            rec.snapshot(epoch=epoch, loss=loss)
    return rec.recording


def playground_spirals() -> nv.Recording:
    """The Playground's defaults (tanh [4, 4], Adam 0.01, batches of 10), 40 epochs."""
    from nnviz_widgets.widgets.playground.run import build_model, build_optimizer

    data = nv.datasets.spirals(n=400, noise=0.05, seed=0)
    model, _ = build_model([4, 4], "tanh", 0)
    optimizer = build_optimizer("adam", model, 0.01, 0.0)
    x, y = data.train_x, data.train_y.float()
    generator = torch.Generator().manual_seed(0)
    with nv.Recorder(model, optimizer=optimizer, layers=nn.Linear) as rec:
        rec.snapshot(epoch=0)
        for epoch in range(1, 41):
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(order), 10):
                chosen = order[start : start + 10]
                optimizer.zero_grad()
                loss = F.binary_cross_entropy_with_logits(model(x[chosen])[:, 0], y[chosen])
                loss.backward()
                optimizer.step()
            rec.snapshot(epoch=epoch, train_loss=loss)
    return rec.recording


def transformer_lm() -> nv.Recording:
    """A small TransformerLM learning to copy a shifted sequence, AdamW, 120 steps."""
    torch.manual_seed(9)
    model = nv.models.TransformerLM(64, width=32, layers=2, heads=2, context=16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def batch(n):
        tokens = torch.randint(0, 64, (n, 17))
        return tokens[:, :-1], tokens[:, 1:]

    def loss_fn(logits, targets):
        return F.cross_entropy(logits.reshape(-1, 64), targets.reshape(-1), reduction="sum")

    probe = batch(4)
    with nv.Recorder(model, probe=probe, optimizer=optimizer, loss_fn=loss_fn) as rec:
        rec.snapshot(epoch=0)
        for epoch in range(1, 7):
            for _ in range(20):
                x, y = batch(32)
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x).reshape(-1, 64), y.reshape(-1))
                loss.backward()
                optimizer.step()
            rec.snapshot(epoch=epoch, loss=loss)
    return rec.recording


def dead_relu_notebook04() -> nv.Recording:
    """Notebook 04's ReLU MLP at lr 3.0 (most units of ReLU '1' die)."""
    torch.manual_seed(0)
    model = nv.models.MLP((64, 64, 64, 10))
    return _flat_run(model, torch.optim.SGD(model.parameters(), lr=3.0), 6)


HEALTHY = {
    **{name: getattr(trainings, name) for name in trainings.HEALTHY},
    "lenet_adam_long": lenet_adam_long,
    "lenet_sgd_long": lenet_sgd_long,
    "mlp_adam_long": mlp_adam_long,
    "mlp_tanh_long": mlp_tanh_long,
    "mlp_sigmoid_long": mlp_sigmoid_long,
    "deep_relu_bn_notebook03": deep_relu_bn_notebook03,
    "resnet_sgd_long": resnet_sgd_long,
    "mlp_zero_init_head": mlp_zero_init_head,
    "mlp_cosine_to_zero": mlp_cosine_to_zero,
    "playground_spirals": playground_spirals,
    "transformer_lm": transformer_lm,
}
BORDERLINE = {"deep_relu_notebook03": deep_relu_notebook03}
BROKEN = {
    **{name: getattr(trainings, name) for name in trainings.BROKEN},
    "dead_relu_notebook04": dead_relu_notebook04,
}


# ---------------------------------------------------------------------- measures
def _persisting_high(values: np.ndarray) -> float:
    """The largest value that held at two consecutive measured snapshots."""
    values = values[~np.isnan(values)]
    if values.size < 2:
        return math.nan
    return float(np.max(np.minimum(values[1:], values[:-1])))


def _persisting_low(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    if values.size < 2:
        return math.nan
    return float(np.min(np.maximum(values[1:], values[:-1])))


def measure(recording: nv.Recording) -> dict[str, float]:
    """The quantity each threshold is compared with, as it persists."""
    evidence = Evidence(recording)
    out = {}
    _, _, ratio = relative_gradients(evidence)
    out["first/last RMS gradient, lowest"] = _persisting_low(ratio)
    out["first/last RMS gradient, highest"] = _persisting_high(ratio)
    growths = []
    for layer in evidence.layers:
        steps = evidence.step_series(layer, "grad_norm")
        if steps is None:
            continue
        good = steps[np.isfinite(steps) & (steps > 0)]
        if good.size > GRADIENT_BASELINE_STEPS:
            base = np.median(good[:GRADIENT_BASELINE_STEPS])
            norms = evidence.statistic(layer, "grad_norm")
            growths.append(norms / base)
    if growths:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["gradient growth over time"] = _persisting_high(np.nanmedian(growths, axis=0))
    trained = evidence.trained  # the checks judge units after the first step only
    dead = [
        _persisting_high(evidence.statistic(layer, "dead_fraction")[trained])
        for layer in evidence.layers
        if evidence.layer_type(layer) in DEAD_UNIT_TYPES
        and evidence.statistic(layer, "dead_fraction") is not None
    ]
    out["dead fraction"] = max(dead, default=math.nan)
    saturated = []
    for layer in evidence.layers:
        bounds = SATURATION_BOUNDS.get(evidence.layer_type(layer))
        if bounds and evidence.has_quantity(layer, "activation"):
            share = np.array(
                [
                    saturated_fraction(evidence.preview(layer, "activation", i), *bounds)
                    for i in range(evidence.count)
                    if trained[i]
                ]
            )
            saturated.append(_persisting_high(share))
    out["saturated fraction"] = max(saturated, default=math.nan)
    rises = []
    for name in evidence.metric_names():
        values = evidence.metric(name)
        finite = np.isfinite(values)
        if "loss" in name.lower() and finite.any():
            start = values[np.argmax(finite)]
            with np.errstate(invalid="ignore"):
                lowest = np.fmin.accumulate(np.where(finite, values, np.nan))
                rise = np.where(finite & (values > start), values / lowest, 1.0)
            rises.append(_persisting_high(rise))
    out["loss rise over its lowest"] = max(rises, default=math.nan)
    lows = update_ratios(evidence).values()
    highs = update_ratios(evidence, after=UPDATE_WARMUP_STEPS).values()
    out["update ratio, lowest"] = min((_persisting_low(r) for r in lows), default=math.nan)
    out["update ratio, highest"] = max((_persisting_high(r) for r in highs), default=math.nan)
    return out


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    groups = {"healthy": HEALTHY, "borderline": BORDERLINE, "broken": BROKEN}
    rows = []
    for group, runs in groups.items():
        for name, make in runs.items():
            if names and name not in names:
                continue
            start = time.perf_counter()
            recording = make()
            seconds = time.perf_counter() - start
            found = diagnose(recording)
            rows.append((group, name, measure(recording), found, seconds))
            print(f"{group:>10} {name:<24} {seconds:5.1f} s", file=sys.stderr, flush=True)
    columns = list(rows[0][2])
    print("| training | " + " | ".join(columns) + " | findings (warning or error) |")
    print("|" + " --- |" * (len(columns) + 2))
    for group, name, values, found, _ in rows:
        cells = [f"{values[c]:.2g}" if not math.isnan(values[c]) else "-" for c in columns]
        kinds = ", ".join(
            sorted({f"{f.kind} ({f.severity})" for f in found if f.severity != "info"})
        )
        infos = ", ".join(sorted({f.kind for f in found if f.severity == "info"}))
        kinds = kinds or "none"
        if infos:
            kinds += f"; info: {infos}"
        print(f"| {group}: {name} | " + " | ".join(cells) + f" | {kinds} |")


if __name__ == "__main__":
    main(sys.argv[1:])
