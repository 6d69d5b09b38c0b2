"""The Recorder: what it records is right, it leaves nothing behind, and bad input fails early."""

from __future__ import annotations

import gc
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from tests.conftest import hooks_left


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(3 * 6 * 6, 4),
    )


def batch(n=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 6, 6, generator=generator), torch.randint(
        0, 4, (n,), generator=generator
    )


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def train_steps(model, optimizer, n, seed=10):
    for i in range(n):
        x, y = batch(8, seed + i)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


# ---------------------------------------------------------------------------- what is recorded
def test_default_layers_skip_pass_through_modules():
    model = small_cnn()
    with nv.Recorder(model, probe=batch()) as rec:
        assert rec.layers == ("0", "1", "4")  # Flatten and Dropout pass values through


def test_layer_selection_by_name_pattern_and_type():
    model = nv.models.LeNet5()
    x = torch.zeros(2, 1, 28, 28)
    assert nv.Recorder(model, probe=x, layers="fc1").layers == ("fc1",)
    assert nv.Recorder(model, probe=x, layers="conv*").layers == ("conv1", "conv2")
    assert nv.Recorder(model, probe=x, layers=nn.ReLU).layers == (
        "relu1",
        "relu2",
        "relu3",
        "relu4",
    )
    assert nv.Recorder(model, probe=x, layers=["fc3", nn.Conv2d]).layers == (
        "conv1",
        "conv2",
        "fc3",
    )


def test_frames_equal_what_the_model_holds_and_computes():
    model = small_cnn()
    optimizer = sgd(model)
    x, y = batch()
    with nv.Recorder(model, probe=(x, y), optimizer=optimizer) as rec:
        weight_before = model[0].weight.detach().clone()
        rec.snapshot(epoch=0)
        grads = []
        for i in range(3):
            xb, yb = batch(8, 20 + i)
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            grads.append(model[4].weight.grad.clone())
            optimizer.step()
        rec.snapshot(epoch=1)
    recording = rec.recording
    assert recording.snapshots == (0.0, 1.0)
    np.testing.assert_array_equal(recording.frame("0", "weight", 0), weight_before.numpy())
    np.testing.assert_array_equal(
        recording.frame("0", "weight", 1), model[0].weight.detach().numpy()
    )
    # weight_grad is the gradient param.grad holds at the snapshot: the last step's
    np.testing.assert_array_equal(recording.frame("4", "weight_grad", 1), grads[-1].numpy())
    assert "param.grad when the snapshot was taken" in recording.note("4", "weight_grad")
    # update is the change since the previous snapshot
    np.testing.assert_allclose(
        recording.frame("0", "update", 1),
        (model[0].weight.detach() - weight_before).numpy(),
        rtol=1e-6,
        atol=1e-7,
    )
    # activations: the probe run in eval mode; conv output before the in-place ReLU changed it
    model.eval()
    with torch.no_grad():
        conv_out = model[0](x)
        logits = model(x)
    np.testing.assert_array_equal(recording.frame("0", "activation", 1), conv_out.numpy())
    assert (recording.frame("0", "activation", 1) < 0).any()  # really pre-ReLU
    np.testing.assert_array_equal(
        recording.frame("1", "activation", 1), conv_out.clamp(min=0).numpy()
    )
    np.testing.assert_array_equal(recording.frame("4", "activation", 1), logits.numpy())


def test_output_grad_and_saliency_match_autograd_with_inplace_relu():
    model = small_cnn()
    x, y = batch()
    with nv.Recorder(model, probe=(x, y)) as rec:
        rec.snapshot()
    # the reference: the same probe loss, gradients taken by hand on a non-in-place copy
    reference = small_cnn()
    reference.load_state_dict(model.state_dict())
    reference[1] = nn.ReLU(inplace=False)
    reference.eval()
    xr = x.clone().requires_grad_(True)
    conv_out = reference[0](xr)
    conv_out.retain_grad()
    relu_out = reference[1](conv_out)
    relu_out.retain_grad()
    logits = reference[4](reference[3](reference[2](relu_out)))
    logits.retain_grad()
    F.cross_entropy(logits, y, reduction="sum").backward()
    recording = rec.recording
    np.testing.assert_allclose(
        recording.frame("0", "output_grad"), conv_out.grad.numpy(), atol=1e-6
    )
    np.testing.assert_allclose(
        recording.frame("1", "output_grad"), relu_out.grad.numpy(), atol=1e-6
    )
    np.testing.assert_allclose(recording.frame("4", "output_grad"), logits.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(recording.frame(nv.INPUT, "saliency"), xr.grad.numpy(), atol=1e-6)
    np.testing.assert_array_equal(recording.frame(nv.INPUT, "probe", 0), x.numpy())
    # the probe pass never touches param.grad
    assert all(p.grad is None for p in model.parameters())


def test_step_count_is_an_int_and_steps_the_same_number():
    model = small_cnn()
    optimizer = sgd(model)
    with nv.Recorder(model, optimizer=optimizer, flush_every=2) as rec:
        assert rec.step_count == rec.steps == 0
        train_steps(model, optimizer, 3)
        assert rec.step_count == rec.steps == 3
        assert isinstance(rec.step_count, int) and isinstance(rec.steps, int)
    assert rec.recording.steps.tolist() == [1, 2, 3]  # the Recording's is an array of numbers


def test_statistics_per_snapshot_and_per_step():
    model = small_cnn()
    optimizer = sgd(model)
    with nv.Recorder(
        model, probe=batch(), optimizer=optimizer, flush_every=2, stats_every=1
    ) as rec:
        rec.snapshot(epoch=0)
        train_steps(model, optimizer, 5)
        rec.snapshot(epoch=1, loss=torch.tensor(0.5), accuracy=np.float32(0.75))
    recording = rec.recording
    assert recording.steps.tolist() == [1, 2, 3, 4, 5]
    assert recording.snapshot_steps.tolist() == [0, 5]
    grad_norm = recording.step_series("4", "grad_norm")
    assert grad_norm.shape == (5,) and (grad_norm > 0).all()
    assert (recording.step_series("4", "update_ratio") > 0).all()
    weight_norm = recording.statistic("4", "weight_norm")
    expected = math.sqrt(
        sum(float((p.detach().double() ** 2).sum()) for p in model[4].parameters())
    )
    assert weight_norm[1] == pytest.approx(expected, rel=1e-9)
    assert math.isnan(recording.statistic("4", "grad_norm")[0])
    assert recording.statistic("4", "grad_norm")[1] == pytest.approx(grad_norm.mean(), rel=1e-6)
    assert recording.metric("loss").tolist() == [pytest.approx(math.nan, nan_ok=True), 0.5]
    assert recording.metric("accuracy")[1] == 0.75
    dead = recording.statistic("1", "dead_fraction")
    assert ((dead >= 0) & (dead <= 1)).all()


def test_dead_units_are_counted():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([-1.0, -1.0, 1.0, -1.0]))  # 3 of 4 units never fire
    with nv.Recorder(model, probe=torch.randn(6, 3)) as rec:
        rec.snapshot()
    assert rec.recording.statistic("1", "dead_fraction").tolist() == [0.75]


def test_snapshot_before_any_step_marks_gradients_missing_not_zero():
    model = small_cnn()
    with nv.Recorder(model, probe=batch(), optimizer=sgd(model)) as rec:
        rec.snapshot(epoch=0)
        rec.snapshot(epoch=1)
    recording = rec.recording
    for index in (0, 1):
        with pytest.raises(nv.FrameMissingError, match="no .*step"):
            recording.frame("0", "weight_grad", index)
    assert "first snapshot" in recording.missing_reason("0", "update", 0)
    assert recording.missing_reason("0", "update", 1) is None  # zero change is a real frame


def test_nan_and_inf_are_recorded_as_they_are_and_counted():
    model = nn.Sequential(nn.Linear(4, 3))
    with torch.no_grad():
        model[0].weight[0, 0] = math.nan
        model[0].weight[1, 1] = math.inf
    with nv.Recorder(model, probe=torch.ones(2, 4)) as rec:
        rec.snapshot()
    recording = rec.recording
    weight = recording.frame("0", "weight")
    assert math.isnan(weight[0, 0]) and math.isinf(weight[1, 1])
    assert recording.statistic("0", "nonfinite_weight").tolist() == [2.0]
    activation = recording.frame("0", "activation")
    assert np.isnan(activation[:, 0]).all()
    assert recording.statistic("0", "nonfinite_activation").tolist() == [4.0]


def test_nonfinite_counts_are_exact_for_bf16_activations():
    # a bf16 reduction cannot count past 256 exactly; the Recorder counts in float32
    model = nn.Sequential(nn.Linear(1, 100_000))
    with torch.no_grad():
        model[0].weight.fill_(math.nan)
    with (
        torch.autocast("cpu", dtype=torch.bfloat16),
        nv.Recorder(model, probe=torch.ones(3, 1)) as rec,
    ):
        rec.snapshot()
    assert rec.recording.statistic("0", "nonfinite_activation").tolist() == [300_000.0]


def test_large_frames_are_reduced_and_say_so():
    model = nn.Sequential(nn.Linear(64, 64))
    with nv.Recorder(model, probe=torch.ones(2, 64), max_frame_values=1024) as rec:
        rec.snapshot()
    weight = rec.recording.frame("0", "weight")
    assert weight.size <= 1024 and weight.shape == (32, 32)
    np.testing.assert_allclose(
        weight, model[0].weight.detach().reshape(32, 2, 32, 2).mean((1, 3)).numpy(), rtol=1e-5
    )
    assert "block-averaged from (64, 64) to (32, 32)" in rec.recording.note("0", "weight")
    assert rec.recording.frame("0", "activation").shape == (2, 64)  # small enough: untouched


def test_memory_budget_thins_and_says_so():
    model = nn.Sequential(nn.Linear(32, 32))
    with nv.Recorder(model, probe=torch.ones(2, 32), max_bytes=40_000) as rec:
        with pytest.warns(nv.RecordingBudgetWarning, match="memory budget"):
            for epoch in range(12):
                rec.snapshot(epoch=epoch)
    recording = rec.recording
    assert recording.nbytes <= 40_000
    assert recording.thinned and len(recording.snapshots) == 12
    assert recording.frame("0", "weight", -1).shape == (32, 32)  # the newest is always kept
    with pytest.raises(nv.FrameMissingError, match="memory budget"):
        recording.frame("0", "weight", recording.thinned[0])
    assert recording.statistic("0", "weight_norm").shape == (12,)  # statistics all kept


# ---------------------------------------------------------------------------- nothing left behind
def test_close_removes_every_hook_and_is_idempotent():
    model = small_cnn()
    optimizer = sgd(model)
    rec = nv.Recorder(model, probe=batch(), optimizer=optimizer)
    assert hooks_left(model, optimizer) == [
        ("optimizer", "_optimizer_step_pre_hooks"),
        ("optimizer", "_optimizer_step_post_hooks"),
    ]
    train_steps(model, optimizer, 2)
    rec.snapshot()
    assert hooks_left(model) == []  # no hook on the model while training
    rec.close()
    rec.close()
    assert rec.closed
    assert hooks_left(model, optimizer) == []
    with pytest.raises(RuntimeError, match="closed"):
        rec.snapshot()
    assert len(rec.recording.snapshots) == 1  # still readable


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.explode = False

    def forward(self, x):
        if self.explode:
            raise RuntimeError("boom in forward")
        return self.fc(x)


def test_exception_inside_forward_within_with_leaves_no_hooks():
    model = Exploding()
    optimizer = sgd(model)
    with (
        pytest.raises(RuntimeError, match="boom"),
        nv.Recorder(model, probe=torch.ones(2, 4), optimizer=optimizer) as rec,
    ):
        rec.snapshot()
        model.explode = True
        model(torch.ones(2, 4))
    assert rec.closed
    assert hooks_left(model, optimizer) == []


def test_failing_probe_pass_warns_keeps_weights_and_leaves_no_hooks():
    model = Exploding()
    optimizer = sgd(model)
    with nv.Recorder(model, probe=torch.ones(2, 4), optimizer=optimizer) as rec:
        model.explode = True
        with pytest.warns(RuntimeWarning, match="probe pass failed"):
            rec.snapshot()
        assert hooks_left(model) == []
        assert model.training  # mode restored after the failed pass
    recording = rec.recording
    assert recording.frame("fc", "weight").shape == (2, 4)
    assert "boom" in recording.missing_reason("fc", "activation")


def test_mode_buffers_and_rng_are_restored_by_a_snapshot():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[1].eval()  # a mixed state, as fine-tuning code leaves it
    with nv.Recorder(model, probe=torch.randn(6, 3), probe_mode="train") as rec:
        buffers = [b.clone() for b in model.buffers()]
        state = torch.get_rng_state()
        rec.snapshot()
        assert torch.equal(torch.get_rng_state(), state)
    assert model.training and model[0].training and not model[1].training
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))


def test_recorder_is_collected_and_memory_does_not_grow():
    model = small_cnn()
    optimizer = sgd(model)

    def live_tensors():
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) in (torch.Tensor, nn.Parameter))

    with nv.Recorder(
        model, probe=batch(), optimizer=optimizer, flush_every=10, stats_every=1
    ) as rec:
        train_steps(model, optimizer, 20)
        rec.snapshot()
        before = live_tensors()
        for _ in range(10):
            train_steps(model, optimizer, 30)
            rec.snapshot()
        after = live_tensors()
    # hundreds of steps later no tensor (and so no autograd graph) has piled up
    assert after - before <= 2, (before, after)
    assert len(rec.recording.steps) == 320
    del rec
    gc.collect()
    assert hooks_left(model, optimizer) == []


def test_torch_compiled_model_is_recorded_through_its_eager_module(deterministic):
    def run(record):
        torch.manual_seed(0)
        model = small_cnn()
        compiled = torch.compile(model, backend="aot_eager")
        optimizer = sgd(model)
        rec = nv.Recorder(compiled, probe=batch(), optimizer=optimizer) if record else None
        for i in range(4):
            x, y = batch(8, 30 + i)
            optimizer.zero_grad()
            F.cross_entropy(compiled(x), y).backward()
            optimizer.step()
            if rec is not None and i % 2:
                rec.snapshot()
        if rec is not None:
            rec.close()
        return model, rec

    bare, _ = run(False)
    recorded, rec = run(True)
    for a, b in zip(bare.parameters(), recorded.parameters()):
        assert torch.equal(a, b)
    assert rec.layers == ("0", "1", "4")  # not "_orig_mod.0"
    assert rec.recording.steps.size == 4
    assert rec.recording.frame("4", "activation").shape == (5, 4)


# ---------------------------------------------------------------------------- bad input, early
def test_non_module_is_refused():
    with pytest.raises(TypeError, match=r"torch\.nn\.Module.*got list"):
        nv.Recorder([nn.Linear(2, 2)])


def test_unknown_layer_lists_close_names():
    with pytest.raises(ValueError, match=r"no layer named 'fc4'.*did you mean 'fc3', 'fc2', 'fc1'"):
        nv.Recorder(nv.models.LeNet5(), layers=["fc4"])
    with pytest.raises(ValueError, match="pattern 'dense.*' matches no layer"):
        nv.Recorder(nv.models.LeNet5(), layers="dense.*")
    with pytest.raises(ValueError, match="no module of type LSTM"):
        nv.Recorder(nv.models.LeNet5(), layers=nn.LSTM)
    with pytest.raises(TypeError, match="names, glob patterns or module classes"):
        nv.Recorder(nv.models.LeNet5(), layers=[3])


def test_probe_that_does_not_fit_names_both_shapes():
    with pytest.raises(ValueError) as error:
        nv.Recorder(nv.models.LeNet5(), probe=torch.zeros(4, 1, 32, 32))
    message = str(error.value)
    assert "probe input has shape (4, 1, 32, 32)" in message
    assert "layer 'fc1' (Linear) received input of shape (4, 576)" in message
    assert "expects (*, 400)" in message
    with pytest.raises(
        ValueError,
        match=r"layer 'conv1' \(Conv2d\) received input of shape \(4, 3, 28, 28\) "
        r"but expects \(N, 1, H, W\)",
    ):
        nv.Recorder(nv.models.LeNet5(), probe=torch.zeros(4, 3, 28, 28))


def test_bad_probe_target_and_loss_fail_at_construction():
    model = nv.models.MLP((3, 4, 2))
    with pytest.raises(ValueError, match="target has shape .5,. but the input has 4 samples"):
        nv.Recorder(model, probe=(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long)))
    with pytest.raises(ValueError, match="probe loss could not be computed"):
        nv.Recorder(model, probe=(torch.zeros(4, 3), torch.full((4,), 7)))
    with pytest.raises(ValueError, match="must be a scalar tensor"):
        nv.Recorder(model, probe=torch.zeros(4, 3), loss_fn=lambda out: out)
    with pytest.raises(
        TypeError, match=r"probe must be a tensor x, a pair \(x, y\).*got a list of 3"
    ):
        nv.Recorder(model, probe=[torch.zeros(4, 3)] * 3)


def test_bad_options_and_metrics():
    model = nv.models.MLP((3, 4, 2))
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        nv.Recorder(model, optimizer="sgd")
    with pytest.raises(ValueError, match="updates none of the model's parameters"):
        nv.Recorder(model, optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
    with pytest.raises(ValueError, match='probe_mode must be "eval" or "train"'):
        nv.Recorder(model, probe_mode="test")
    with nv.Recorder(model, optimizer=sgd(model)) as rec:
        with pytest.raises(TypeError, match="metric 'loss' must be a number"):
            rec.snapshot(loss="low")
        with pytest.raises(RuntimeError, match="counts steps from its optimizer"):
            rec.step()
    assert len(rec.recording.snapshots) == 0  # the refused snapshot left nothing


def test_no_warnings_in_normal_use():
    model = small_cnn()
    optimizer = sgd(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with nv.Recorder(model, probe=batch(), optimizer=optimizer) as rec:
            train_steps(model, optimizer, 3)
            rec.snapshot()
    # any warning above was raised as an error; and the run did record
    assert rec.recording.steps.tolist() == [1, 2, 3]
    assert len(rec.recording.snapshots) == 1
