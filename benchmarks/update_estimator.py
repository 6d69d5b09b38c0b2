"""How far the Recorder's sampled update norm is from the exact one (docs/recorder.md).

ResNet-18 (batch 32, 32 x 32 images) and the TransformerLM (batch 4 x 128 tokens) on random data,
each trained with AdamW and with SGD (momentum 0.9). At every step the exact update of each
recorded layer (full copies of its parameters before and after the step, norms in float64) is
compared with the estimate from the Recorder's own sample
(:class:`~nnviz_widgets.record.update_sample.UpdateSample`): relative error
``|estimate - exact| / exact`` of the layer's update norm, over steps and layers, for layers with
a sampled parameter (layers whose parameters are all small are kept whole: their error is 0).

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.update_estimator [steps] [sample strides]``
(not part of ``make bench``).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.record import update_sample
from nnviz_widgets.record.layers import RecordedLayers


def _resnet():
    model = nv.models.ResNet18()

    def batch(generator):
        x = torch.randn(32, 3, 32, 32, generator=generator)
        return x, torch.randint(0, 10, (32,), generator=generator)

    return model, batch, F.cross_entropy


def _language_model():
    model = nv.models.TransformerLM()

    def batch(generator):
        tokens = torch.randint(0, 8192, (4, 129), generator=generator)
        return tokens[:, :-1], tokens[:, 1:]

    def loss(output, target):
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    return model, batch, loss


def _errors(make, optimizer_name: str, steps: int, strides: list[int]) -> dict[int, np.ndarray]:
    """Relative errors of the layers' sampled update norms, ``{sample stride: errors}``."""
    torch.manual_seed(0)
    model, batch, loss_fn = make()
    if optimizer_name == "AdamW":
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    layers = RecordedLayers(model, None)
    params = layers.parameters
    sampled = np.array([p.numel() > 2 * update_sample.MINIMUM for p in params], dtype=float)
    kept = (sampled @ layers.membership) > 0  # layers with a sampled parameter
    samples = {}
    default = update_sample.SAMPLE_STRIDE
    for stride in strides:
        update_sample.SAMPLE_STRIDE = stride
        samples[stride] = update_sample.UpdateSample(params)
    update_sample.SAMPLE_STRIDE = default
    generator = torch.Generator().manual_seed(1)
    errors = {stride: [] for stride in strides}
    for _ in range(steps):
        x, y = batch(generator)
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        before = [p.detach().clone() for p in params]
        for sample in samples.values():
            sample.gather()
        optimizer.step()
        with torch.no_grad():
            exact = np.array(
                [
                    float(torch.linalg.vector_norm(p - b, dtype=torch.float64))
                    for p, b in zip(params, before)
                ]
            )
        exact_layer = np.sqrt(exact**2 @ layers.membership)
        for stride, sample in samples.items():
            norms = torch.stack(torch._foreach_norm(sample.differences(), 2, dtype=torch.float32))
            estimate = np.sqrt(sample.squared_updates(norms.numpy()) @ layers.membership)
            good = kept & (exact_layer > 0)
            errors[stride].append(np.abs(estimate[good] - exact_layer[good]) / exact_layer[good])
    return {stride: np.concatenate(found) for stride, found in errors.items()}


def run(steps: int = 30, strides: tuple[int, ...] = (64, 128, 256)) -> str:
    """Measure and return a Markdown table."""
    rows = []
    for name, make in (("ResNet-18", _resnet), ("TransformerLM", _language_model)):
        for optimizer_name in ("AdamW", "SGD"):
            start = time.perf_counter()
            found = _errors(make, optimizer_name, steps, list(strides))
            seconds = time.perf_counter() - start
            for stride, errors in found.items():
                rows.append(
                    f"| {name} | {optimizer_name} | 1/{stride} | {errors.size} | "
                    f"{np.median(errors):.2%} | {np.percentile(errors, 95):.2%} | "
                    f"{errors.max():.2%} |"
                )
            print(f"{name} {optimizer_name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    return (
        f"Relative error of the sampled update norm per layer, {steps} steps, layers with a "
        "sampled parameter:\n\n| model | optimizer | sample | layer-steps | median | 95th "
        "percentile | max |\n| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows)
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    chosen_steps = int(arguments[0]) if arguments else 30
    chosen = tuple(int(s) for s in arguments[1:]) or (64, 128, 256)
    print(run(chosen_steps, chosen))
