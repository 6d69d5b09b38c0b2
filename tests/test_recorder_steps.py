"""Per-step statistics: the stride, the update estimated from a sample, the gradient a snapshot
records, and the memory the Recorder holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.record import update_sample
from nnviz_widgets.record.schedule import MAX_STRIDE, StatsSchedule
from nnviz_widgets.record.update_sample import UpdateSample


def lenet_steps(model, optimizer, n, *, seed=0, rec=None, zero_after=False):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(16, 1, 28, 28, generator=generator)
        y = torch.randint(0, 10, (16,), generator=generator)
        if not zero_after:
            optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if rec is not None:
            rec.step()
        if zero_after:
            optimizer.zero_grad()


def lenet(optimizer="sgd"):
    torch.manual_seed(0)
    model = nv.models.LeNet5()
    if optimizer == "sgd":
        return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


# ---------------------------------------------------------------------------- the stride
def test_a_fixed_stride_takes_statistics_on_its_multiples():
    model, optimizer = lenet()
    with nv.Recorder(
        model, probe=torch.zeros(2, 1, 28, 28), optimizer=optimizer, stats_every=3
    ) as rec:
        lenet_steps(model, optimizer, 2)
        rec.snapshot()  # no step with statistics yet: no mean gradient norm
        lenet_steps(model, optimizer, 8)
        rec.snapshot()
        assert rec.stats_every == 3 and rec.steps == 10
    recording = rec.recording
    assert recording.steps.tolist() == [3, 6, 9]
    assert math.isnan(recording.statistic("fc1", "grad_norm")[0])
    assert recording.statistic("fc1", "grad_norm")[1] == pytest.approx(
        recording.step_series("fc1", "grad_norm").mean(), rel=1e-6
    )


def test_auto_stride_keeps_the_hooks_near_one_percent_of_a_step():
    schedule = StatsSchedule("auto")
    now, step = 0.0, 0
    recorded = []
    for _ in range(400):  # steps of 10 ms; statistics cost 0.3 ms: 3% -> every 3rd step
        step += 1
        now += 0.010
        due = schedule.due(step)
        recorded.append(due)
        schedule.step_ended(step, now, 0.0003 if due else None)
    assert schedule.stride == 3
    assert recorded[:3] == [True, True, True]  # until both timings are measured
    assert sum(recorded[100:]) == 100  # one step in three
    schedule.snapshot_taken(step)
    assert schedule.due(step + 1)  # the first step after a snapshot has statistics
    for _ in range(1000):  # hooks that cost more than a step: the stride stops at its limit
        step += 1
        now += 0.001
        schedule.step_ended(step, now, 1.0 if schedule.due(step) else None)
    assert schedule.stride == MAX_STRIDE


def test_auto_stride_does_not_count_a_snapshot_as_step_time():
    schedule = StatsSchedule("auto")
    now = 0.0
    for step in range(1, 40):
        now += 0.010
        if step % 10 == 0:
            schedule.snapshot_taken(step - 1)
            now += 5.0  # a long snapshot between two steps
        schedule.step_ended(step, now, 0.0002 if schedule.due(step) else None)
    assert schedule.stride == 2


def test_bad_step_options_are_refused():
    model = nv.models.MLP((3, 4, 2))
    for bad in (0, -2, 1.5, "sometimes", True):
        with pytest.raises(ValueError, match='stats_every must be a positive integer or "auto"'):
            nv.Recorder(model, stats_every=bad)
    with pytest.raises(TypeError, match="mean_gradient must be True or False"):
        nv.Recorder(model, mean_gradient="yes")


# ---------------------------------------------------------------------------- the update sample
class _Offsets:
    """A stand-in for numpy's generator: hands out the offsets it is given."""

    def __init__(self, offsets):
        self.offsets = list(offsets)

    def integers(self, high):
        return self.offsets.pop(0)


@pytest.mark.parametrize("shape", [(49999,), (170, 171), (64, 32, 3, 3)])
def test_the_estimate_is_unbiased_over_the_random_offset(shape):
    param = torch.zeros(shape)
    update = torch.randn(shape, generator=torch.Generator().manual_seed(0)) ** 3  # heavy tails
    (piece, *tail) = update_sample._pieces(0, param, _Offsets([0]))
    stride = piece.step
    assert math.gcd(stride, param.numel() // shape[0]) == 1 or len(shape) == 1
    flat = update.reshape(-1).double()
    estimates = []
    for offset in range(stride):  # every offset, equally likely
        (piece, *tail) = update_sample._pieces(0, param, _Offsets([offset]))
        estimate = piece.weight * flat[piece.start : piece.stop : piece.step].square().sum()
        for extra in tail:
            estimate += extra.weight * flat[extra.start : extra.stop].square().sum()
        estimates.append(float(estimate))
    assert np.mean(estimates) == pytest.approx(float(flat.square().sum()), rel=1e-9)


def test_the_stride_is_coprime_to_a_row_in_memory_order():
    for param, row in (
        (torch.zeros(300, 48), 48),
        (torch.zeros(48, 300).t(), 300),  # transposed (300, 48): memory rows of 300
        (torch.zeros(64, 32, 3, 3).to(memory_format=torch.channels_last), 288),
        (torch.zeros(300, 60)[:, :48], 48),  # gathered by index, in logical order
    ):
        assert update_sample._row_length(param) == row
        (piece, *_) = update_sample._pieces(0, param, _Offsets([0]))
        assert math.gcd(piece.step, row) == 1


def test_small_parameters_are_kept_whole_and_large_ones_sampled():
    whole = 2 * update_sample.MINIMUM
    params = [nn.Parameter(torch.zeros(whole)), nn.Parameter(torch.zeros(1024, 1024))]
    sample = UpdateSample(params)
    sampled = sample.size - whole
    stride = update_sample.SAMPLE_STRIDE
    assert 1024 * 1024 // stride <= sampled <= 1024 * 1024 // (stride - 2)  # stride 63: coprime
    assert sample.nbytes == 4 * (whole + sampled)  # one float32 buffer


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_the_sampled_update_is_what_changed(dtype):
    torch.manual_seed(0)
    params = [
        nn.Parameter(torch.randn(300, 40).to(dtype)),  # contiguous, sampled
        nn.Parameter(torch.randn(40, 300).to(dtype).t()),  # transposed: non-contiguous
        nn.Parameter(torch.randn(300, 60).to(dtype)[:, :40]),  # gaps between rows
        nn.Parameter(torch.randn(7).to(dtype)),  # small: whole
    ]
    sample = UpdateSample(params)
    before = [p.detach().clone() for p in params]
    sample.gather()
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn(p.shape).to(dtype) * 0.01)
    norms = torch.stack(torch._foreach_norm(sample.differences(), 2, dtype=torch.float32))
    estimate = np.sqrt(sample.squared_updates(norms.numpy()))
    exact = np.array(
        [float((p.detach().float() - b.float()).norm()) for p, b in zip(params, before)]
    )
    assert estimate[3] == pytest.approx(exact[3], rel=1e-6)  # whole
    np.testing.assert_allclose(estimate, exact, rtol=0.1)  # a random sample of ~1/3


def test_a_parameter_whose_storage_is_replaced_is_sampled_again():
    param = nn.Parameter(torch.zeros(5000))
    sample = UpdateSample([param])
    param.data = torch.ones(5000)  # model.to(...) and friends do this
    sample.gather()
    with torch.no_grad():
        param.mul_(3.0)
    norms = torch.stack(torch._foreach_norm(sample.differences()))
    assert sample.squared_updates(norms.numpy())[0] == pytest.approx(4.0 * 5000, rel=1e-6)


def test_update_ratio_estimate_is_close_to_the_exact_one():
    # LeNet-5's fc1 (48,000 weights) and fc2 (10,080) are sampled; compare with the exact ratio
    model, optimizer = lenet("adamw")
    with nv.Recorder(model, optimizer=optimizer, stats_every=1) as rec:
        exact = []
        generator = torch.Generator().manual_seed(0)
        for _ in range(6):
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            x = torch.randn(16, 1, 28, 28, generator=generator)
            y = torch.randint(0, 10, (16,), generator=generator)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            exact.append(
                {
                    layer: math.sqrt(
                        sum(
                            float((p.detach() - before[f"{layer}.{k}"]).square().sum())
                            for k, p in getattr(model, layer).named_parameters()
                        )
                    )
                    / math.sqrt(
                        sum(
                            float(p.detach().square().sum())
                            for p in getattr(model, layer).parameters()
                        )
                    )
                    for layer in ("conv1", "fc1", "fc2")
                }
            )
    recording = rec.recording
    for layer, tolerance in (("conv1", 1e-5), ("fc1", 0.1), ("fc2", 0.1)):
        np.testing.assert_allclose(
            recording.step_series(layer, "update_ratio"),
            [row[layer] for row in exact],
            rtol=tolerance,
        )


def test_manual_steps_with_a_stride_measure_one_step_s_update():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 3))  # small: sampled whole, exact
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ratios = []
    with nv.Recorder(model, stats_every=2) as rec:
        generator = torch.Generator().manual_seed(1)
        for step in range(1, 7):
            before = model[0].weight.detach().clone(), model[0].bias.detach().clone()
            weight, bias = model[0].weight.detach(), model[0].bias.detach()
            optimizer.zero_grad()
            model(torch.randn(4, 6, generator=generator)).square().sum().backward()
            optimizer.step()
            rec.step()
            if step % 2 == 0:
                update = math.sqrt(
                    float((weight - before[0]).square().sum())
                    + float((bias - before[1]).square().sum())
                )
                norm = math.sqrt(float(weight.square().sum() + bias.square().sum()))
                ratios.append(update / norm)
            if step == 3:
                rec.snapshot()
    assert rec.recording.steps.tolist() == [2, 4, 6]
    np.testing.assert_allclose(rec.recording.step_series("0", "update_ratio"), ratios, rtol=1e-5)


# ---------------------------------------------------------------------------- the gradient
def test_mean_gradient_option_records_the_mean_since_the_previous_snapshot():
    model, optimizer = lenet()
    with nv.Recorder(model, optimizer=optimizer, mean_gradient=True) as rec:
        rec.snapshot()
        grads = []
        generator = torch.Generator().manual_seed(3)
        for _ in range(3):
            optimizer.zero_grad()
            F.cross_entropy(
                model(torch.randn(8, 1, 28, 28, generator=generator)),
                torch.randint(0, 10, (8,), generator=generator),
            ).backward()
            grads.append(model.fc3.weight.grad.clone())
            optimizer.step()
        rec.snapshot()
        memory = rec.memory()
    np.testing.assert_allclose(
        rec.recording.frame("fc3", "weight_grad", 1),
        torch.stack(grads).mean(0).numpy(),
        rtol=1e-6,
        atol=1e-8,
    )
    assert "mean of the gradients" in rec.recording.note("fc3", "weight_grad")
    assert memory["device"]["gradient sum"] == memory["parameter_bytes"]  # float32 already


def test_gradients_cleared_after_the_step_are_missing_with_a_reason():
    model, optimizer = lenet()
    with nv.Recorder(model, optimizer=optimizer) as rec:
        lenet_steps(model, optimizer, 2, zero_after=True)  # zero_grad() sets .grad to None
        rec.snapshot()
    reason = rec.recording.missing_reason("fc1", "weight_grad")
    assert "param.grad was None" in reason and "mean_gradient=True" in reason
    assert rec.recording.frame("fc1", "weight").shape == (120, 400)
    assert not math.isnan(rec.recording.statistic("fc1", "grad_norm")[0])  # from the steps


def test_a_parameter_without_a_gradient_on_some_steps():
    torch.manual_seed(0)
    model = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Linear(4, 2)})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with nv.Recorder(model, optimizer=optimizer, stats_every=1) as rec:
        for step in range(4):
            optimizer.zero_grad()
            h = model["a"](torch.randn(3, 4))
            (model["b"](h) if step % 2 else h).sum().backward()  # b unused on even steps
            optimizer.step()
    grad_norm = rec.recording.step_series("b", "grad_norm")
    assert np.isnan(grad_norm[[0, 2]]).all() and (grad_norm[[1, 3]] > 0).all()
    assert (rec.recording.step_series("a", "grad_norm") > 0).all()


# ---------------------------------------------------------------------------- memory
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("make", [nv.models.ResNet18, nv.models.TransformerLM])
def test_device_memory_is_a_few_percent_of_the_parameters(make, dtype):
    model = make().to(dtype)
    with nv.Recorder(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1)) as rec:
        memory = rec.memory()
    assert memory["parameter_bytes"] == sum(
        p.nbytes for p in {id(p): p for p in model.parameters()}.values()
    )
    assert memory["device_bytes"] == sum(memory["device"].values())
    assert memory["device"]["gradient sum"] == 0
    assert memory["device_bytes"] <= 0.05 * memory["parameter_bytes"], memory
    assert memory["host_bytes"] == 0  # no snapshot yet


def test_memory_counts_the_probe_and_the_last_snapshot_s_weights():
    model, optimizer = lenet()
    probe = torch.zeros(4, 1, 28, 28)
    with nv.Recorder(
        model, probe=probe, optimizer=optimizer, stats_every=1, flush_every=100
    ) as rec:
        lenet_steps(model, optimizer, 2)
        memory = rec.memory()
        assert memory["device"]["norms waiting for the host"] > 0
        rec.snapshot()
        after = rec.memory()
    assert memory["device"]["probe"] == probe.nbytes
    assert after["device"]["norms waiting for the host"] == 0
    assert after["host"]["weights at the last snapshot"] == memory["parameter_bytes"]  # float32
    assert after["host_bytes"] == sum(after["host"].values())
