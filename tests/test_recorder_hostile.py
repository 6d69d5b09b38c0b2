"""The Recorder never stops or silently changes training, whatever the model and threads do.

What a hostile or careless user tried (issue 13, classes 1 and 7): gradients in unusual layouts,
snapshots from several threads at once or while the explorer trains, the model changed under the
Recorder, one very large layer. Threads are ordered with events; a timeout is only a backstop.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.record.capture import FrameCapture, block_mean, squared_norm
from nnviz_widgets.recording import block_slices
from tests.conftest import hooks_left

#: Seconds a thread waits for something that must not happen before it goes on (a backstop:
#: with the Recorder right, these waits always run out; without it they end at once).
BACKSTOP = 1.0


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def batch(seed, n=6):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=generator), torch.randint(0, 3, (n,), generator=generator)


def train_steps(model, optimizer, n, seed=10):
    for i in range(n):
        x, y = batch(seed + i)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def layer_modes(model):
    return [m.training for m in model.modules()]


# ---------------------------------------------------------------------------- gradient layouts
def test_sparse_gradients_give_the_norm_of_their_summed_rows_and_a_dense_frame():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Flatten(), nn.Linear(12, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tokens = torch.tensor([[1, 1, 3], [3, 5, 1]])  # repeated tokens: duplicate sparse rows
    target = torch.tensor([0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = nv.Recorder(model, probe=(tokens, target), optimizer=optimizer, stats_every=1)
        optimizer.zero_grad()
        F.cross_entropy(model(tokens), target).backward()
        grad = model[0].weight.grad
        assert grad.is_sparse and not grad.is_coalesced()
        expected_norm = float(grad.coalesce().values().norm())
        expected_frame = grad.to_dense().numpy().copy()
        optimizer.step()  # the step hooks used to raise here: no sparse norm kernel
        rec.snapshot()
        rec.close()
    recording = rec.recording
    assert recording.step_series("0", "grad_norm")[0] == pytest.approx(expected_norm, rel=1e-6)
    np.testing.assert_allclose(recording.frame("0", "weight_grad"), expected_frame, rtol=1e-6)
    assert "sparse" in recording.note("0", "weight_grad")


def test_sparse_gradients_are_averaged_with_mean_gradient():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Flatten(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    grads = []
    with nv.Recorder(model, optimizer=optimizer, mean_gradient=True, stats_every=2) as rec:
        for seed in range(3):
            tokens = torch.randint(0, 10, (5, 2), generator=torch.Generator().manual_seed(seed))
            optimizer.zero_grad()
            model(tokens).sum().backward()
            grads.append(model[0].weight.grad.to_dense().clone())
            optimizer.step()
        rec.snapshot()
    expected = torch.stack(grads).mean(dim=0).numpy()
    np.testing.assert_allclose(rec.recording.frame("0", "weight_grad"), expected, atol=1e-6)


class ComplexFilter(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, dtype=torch.complex64))

    def forward(self, x):
        return (x.to(torch.complex64) @ self.weight).abs()


def test_complex_parameters_are_recorded_as_magnitudes_with_exact_norms():
    torch.manual_seed(0)
    model = ComplexFilter()
    weight = model.weight
    optimizer = torch.optim.Adam([weight], lr=0.01)
    x = torch.randn(5, 4)
    with nv.Recorder(model, probe=x, optimizer=optimizer, stats_every=1) as rec:
        rec.snapshot()
        before = weight.detach().clone()
        optimizer.zero_grad()
        model(x).sum().backward()
        grad = weight.grad.clone()
        optimizer.step()
        rec.snapshot()
    recording = rec.recording
    np.testing.assert_allclose(recording.frame("", "weight"), weight.detach().abs().numpy())
    np.testing.assert_allclose(recording.frame("", "weight_grad"), grad.abs().numpy())
    update = (weight.detach() - before).abs().numpy()
    np.testing.assert_allclose(recording.frame("", "update"), update, atol=1e-7)
    assert "magnitudes" in recording.note("", "weight")
    norm = float(torch.linalg.vector_norm(weight.detach()))
    assert recording.statistic("", "weight_norm")[1] == pytest.approx(norm, rel=1e-6)
    assert recording.step_series("", "grad_norm")[0] == pytest.approx(float(grad.norm()), 1e-6)


def test_gradients_missing_on_some_steps_give_gaps_not_errors():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with nv.Recorder(model, optimizer=optimizer, stats_every=1, mean_gradient=True) as rec:
        for step in range(4):
            model[0].requires_grad_(step % 2 == 0)  # frozen on every other step
            train_steps(model, optimizer, 1, seed=step)
        rec.snapshot()
    grad_norm = rec.recording.step_series("0", "grad_norm")
    assert np.isnan(grad_norm[[1, 3]]).all() and np.isfinite(grad_norm[[0, 2]]).all()
    assert np.isfinite(rec.recording.step_series("2", "grad_norm")).all()


class MixedPrecision(nn.Module):
    """A float32 body and a float64 head: the norms may not narrow the float64 gradients."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 3).double()

    def forward(self, x):
        return self.head(torch.relu(self.body(x)).double())


def test_parameters_of_mixed_float_dtypes_train_and_record():
    torch.manual_seed(0)
    model = MixedPrecision()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = batch(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with nv.Recorder(model, probe=(x, y), optimizer=optimizer, stats_every=1) as rec:
            for _ in range(2):
                optimizer.zero_grad()
                F.cross_entropy(model(x), y).backward()
                expected = float(
                    model.head.weight.grad.norm() ** 2 + model.head.bias.grad.norm() ** 2
                )
                optimizer.step()  # the step hooks used to ask for float32 norms of float64 ones
            rec.snapshot()
    grad_norm = rec.recording.step_series("head", "grad_norm")
    assert grad_norm[-1] == pytest.approx(expected**0.5, rel=1e-6)
    np.testing.assert_allclose(
        rec.recording.frame("head", "weight"), model.head.weight.detach().float().numpy()
    )


# ---------------------------------------------------------------------------- threads
class Gate(nn.Module):
    """A pass-through layer whose forward can make two threads meet: ``hold`` is called with
    the calling thread's name, in every forward pass."""

    def __init__(self):
        super().__init__()
        self.hold = None

    def forward(self, x):
        if self.hold is not None:
            self.hold(threading.current_thread().name)
        return x


def gated_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(4, 8), Gate(), nn.BatchNorm1d(8), nn.Dropout(0.3), nn.ReLU(), nn.Linear(8, 3)
    )


def extra_quantities(recording):
    return [
        (layer, q) for layer in recording.layers for q in recording.quantities(layer) if "[" in q
    ]


def test_snapshots_from_two_threads_take_turns(tmp_path):
    model = gated_model()
    model.train()
    model[2].eval()  # a mixed state, to be found as it was
    modes = layer_modes(model)
    x, y = batch(1, n=5)
    rec = nv.Recorder(model, probe=(x, y), path=tmp_path / "run")
    first_inside, second_inside = threading.Event(), threading.Event()

    def hold(thread):
        # the first snapshot's probe pass waits here for the second one's: without turns the
        # second pass enters (and each pass hooks the other's calls, and saves its eval mode)
        if thread == "first":
            first_inside.set()
            second_inside.wait(BACKSTOP)
        else:
            second_inside.set()

    model[1].hold = hold
    first = threading.Thread(target=lambda: rec.snapshot(epoch=1), name="first")
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=lambda: rec.snapshot(epoch=2), name="second")
    second.start()
    first.join(30)
    second.join(30)
    model[1].hold = None
    rec.close()
    assert layer_modes(model) == modes
    recording = rec.recording
    assert sorted(recording.snapshots) == [1.0, 2.0]
    assert extra_quantities(recording) == []
    reopened = nv.Recording.open(tmp_path / "run")
    assert sorted(reopened.snapshots) == [1.0, 2.0]
    for index in range(2):
        np.testing.assert_array_equal(
            reopened.frame("5", "activation", index), recording.frame("5", "activation", index)
        )
    assert hooks_left(model) == []


def test_many_threads_snapshotting_at_once_lose_and_repeat_nothing(tmp_path):
    model = gated_model()
    x, y = batch(1, n=5)
    rec = nv.Recorder(model, probe=(x, y), path=tmp_path / "run")
    start = threading.Barrier(4)

    def snapshots(thread):
        start.wait(10)
        for i in range(5):
            rec.snapshot(epoch=100 * thread + i)

    threads = [threading.Thread(target=snapshots, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rec.close()
    expected = sorted(100.0 * t + i for t in range(4) for i in range(5))
    assert sorted(rec.recording.snapshots) == expected
    assert sorted(nv.Recording.open(tmp_path / "run").snapshots) == expected
    assert extra_quantities(rec.recording) == []
    assert model.training


STEPS = 4
TRAINING = "nnviz-training"  # the TrainingLoop's thread


def train_epoch_function(model, optimizer, on_step=None):
    def train_epoch(epoch):
        for step in range(STEPS):
            x, y = batch(100 * epoch + step, n=8)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            if on_step is not None:
                on_step(epoch, step)
        return {"loss": float(loss.detach())}

    return train_epoch


def test_a_snapshot_from_a_cell_while_the_explorer_trains_waits_for_a_step_boundary():
    """A cell's snapshot during the explorer's training: no extra quantities, every snapshot
    there once, and training bit-identical to taking the same snapshots in the training
    thread at the steps they were taken at."""
    model = gated_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    probe = batch(1, n=5)
    in_forward, probe_started, forward_done = (threading.Event() for _ in range(3))

    def hold(thread):
        if thread == TRAINING and not in_forward.is_set():
            in_forward.set()  # the training thread, mid-forward, waits for the cell's probe
            probe_started.wait(BACKSTOP)
        elif thread == "cell":
            probe_started.set()  # and the probe waits for the training forward to end
            forward_done.wait(BACKSTOP)

    def end_of_forward(module, args, output):
        if threading.current_thread().name == TRAINING and in_forward.is_set():
            forward_done.set()

    epochs = []  # the numbers the loop gives train_epoch
    train = train_epoch_function(model, optimizer)
    explorer = nv.TrainingExplorer(
        model,
        probe=probe,
        optimizer=optimizer,
        train_epoch=lambda epoch: (epochs.append(epoch), train(epoch))[1],
    )
    taken = []
    cell = threading.Thread(target=lambda: taken.append(explorer.snapshot(epoch=-1)), name="cell")
    model[1].hold = hold
    handle = model[5].register_forward_hook(end_of_forward)
    explorer.loop.start(epochs=3)
    assert in_forward.wait(30)
    cell.start()
    cell.join(30)
    assert explorer.loop.wait(30)
    model[1].hold = None
    handle.remove()
    recording = explorer.recording
    explorer.close()
    assert taken and taken[0] >= 0
    assert extra_quantities(recording) == []
    labels = list(recording.snapshots)
    assert len(labels) == 5 and labels.count(-1.0) == 1 and len(set(labels)) == 5
    steps = recording.snapshot_steps.tolist()
    cell_step = steps[labels.index(-1.0)]
    assert 0 < cell_step <= 3 * STEPS  # taken at the end of an optimizer step

    # the same snapshots, in the training thread, at the same steps
    reference = gated_model()
    ref_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    label = iter(labels)
    with nv.Recorder(reference, probe=probe, optimizer=ref_optimizer) as rec:
        rec.snapshot(epoch=next(label))
        done = [0]

        def at_step(epoch, step):
            done[0] += 1
            if done[0] == cell_step:
                rec.snapshot(epoch=next(label))

        train = train_epoch_function(reference, ref_optimizer, at_step)
        for epoch in epochs:
            metrics = train(epoch)
            rec.snapshot(epoch=next(label), **metrics)
    assert list(rec.recording.snapshots) == labels
    assert rec.recording.snapshot_steps.tolist() == steps
    for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)
    assert layer_modes(model) == layer_modes(reference)
    index = labels.index(-1.0)
    for layer, quantity in [("0", "weight"), ("0", "weight_grad"), ("5", "activation")]:
        np.testing.assert_array_equal(
            recording.frame(layer, quantity, index), rec.recording.frame(layer, quantity, index)
        )


def test_a_training_thread_that_stopped_training_does_not_hold_snapshots():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = nv.Recorder(model, probe=batch(1), optimizer=optimizer)
    trained, finished = threading.Event(), threading.Event()

    def trainer():
        rec.begin_training()
        train_steps(model, optimizer, 2)
        trained.set()
        finished.wait(30)  # alive, holding the model, until the snapshot below is waiting
        rec.end_training()

    thread = threading.Thread(target=trainer)
    thread.start()
    assert trained.wait(30)
    result = []
    cell = threading.Thread(target=lambda: result.append(rec.snapshot()))
    cell.start()
    cell.join(BACKSTOP)
    assert cell.is_alive()  # waiting: the trainer has not reached a step boundary
    finished.set()  # it ends training instead: the snapshot runs then
    cell.join(30)
    thread.join(30)
    assert result == [0]
    rec.close()


def test_the_probe_pass_restores_the_model_whatever_happens_in_it():
    class Careless(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.bn = nn.BatchNorm1d(3)
            self.break_next = False

        def forward(self, x):
            if self.break_next:
                self.fc.bias.requires_grad_(False)
                self.bn.running_mean = torch.full((3,), 7.0)  # another tensor in its place
                self.bn.train()
                self.bn(self.fc(x))
                raise RuntimeError("the forward pass broke halfway")
            return self.bn(self.fc(x))

    torch.manual_seed(0)
    model = Careless()
    model.train()
    model.bn.eval()
    buffers = {name: (b, b.clone()) for name, b in model.named_buffers()}
    with nv.Recorder(model, probe=torch.randn(5, 4)) as rec:
        model.break_next = True
        rng = torch.get_rng_state()
        with pytest.warns(RuntimeWarning, match="the forward pass broke halfway"):
            rec.snapshot()
        assert torch.equal(torch.get_rng_state(), rng)
    assert model.training and model.fc.training and not model.bn.training
    assert model.fc.bias.requires_grad
    for name, (tensor, values) in buffers.items():
        assert dict(model.named_buffers())[name] is tensor
        assert torch.equal(tensor, values), name
    assert hooks_left(model) == []


# ---------------------------------------------------------------------------- the model changes
def test_a_parameter_widened_through_data_keeps_training_and_recording(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 3))  # 16,384: sampled
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(6, 64), torch.randint(0, 3, (6,))
    options = {"stats_every": 1, "mean_gradient": True, "path": tmp_path / "run"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = nv.Recorder(model, probe=(x, y), optimizer=optimizer, **options)
        train_steps_on(model, optimizer, x, y, 2)
        rec.snapshot()
        train_steps_on(model, optimizer, x, y, 1)
        with torch.no_grad():  # 256 -> 320 hidden units, between two steps
            model[0].weight.data = torch.cat([model[0].weight, torch.randn(64, 64) * 0.1])
            model[0].bias.data = torch.cat([model[0].bias, torch.zeros(64)])
            model[2].weight.data = torch.cat([model[2].weight, torch.zeros(3, 64)], dim=1)
        train_steps_on(model, optimizer, x, y, 2)  # the step hooks used to raise here
        rec.snapshot()
        weight_then = model[0].weight.detach().clone()
        train_steps_on(model, optimizer, x, y, 1)
        rec.snapshot()
        rec.close()
    recording = rec.recording
    assert recording.steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert np.isfinite(recording.step_series("0", "weight_norm")).all()
    assert recording.frame_shape("0", "weight", 1) == (320, 64)
    np.testing.assert_array_equal(recording.frame("0", "weight", 1), weight_then)
    reason = recording.missing_reason("0", "update", 1)
    assert "changed from shape (256, 64) to (320, 64)" in reason
    assert recording.frame_shape("0", "update", 2) == (320, 64)  # the next one has an update
    assert recording.frame_shape("0", "weight_grad", 2) == (320, 64)
    assert recording.layer_info("0")["parameters"]["weight"] == [320, 64]
    assert nv.Recording.open(tmp_path / "run").layer_info("0")["parameters"]["weight"] == [
        320,
        64,
    ]


def train_steps_on(model, optimizer, x, y, n):
    for _ in range(n):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def test_a_model_converted_to_float64_mid_training_keeps_recording():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = nv.Recorder(model, optimizer=optimizer, stats_every=1, mean_gradient=True)
        train_steps(model, optimizer, 2)
        rec.snapshot()
        model.double()  # every parameter's .data replaced by a float64 tensor
        for step in range(2):
            x, y = batch(step)
            optimizer.zero_grad()
            F.cross_entropy(model(x.double()), y).backward()
            optimizer.step()
        rec.snapshot()
        rec.close()
    recording = rec.recording
    assert recording.steps.tolist() == [1, 2, 3, 4]
    assert np.isfinite(recording.step_series("0", "grad_norm")).all()
    expected = model[0].weight.detach().float().numpy()
    np.testing.assert_allclose(recording.frame("0", "weight", 1), expected, rtol=1e-6)
    assert recording.frame_shape("0", "update", 1) == (8, 4)


def test_a_replaced_module_is_recorded_as_it_is_now(tmp_path):
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = batch(1)
    rec = nv.Recorder(model, probe=probe, optimizer=optimizer, path=tmp_path / "run")
    train_steps(model, optimizer, 2)
    rec.snapshot()
    torch.manual_seed(5)
    model[2] = nn.Linear(8, 5)  # another head: a new module, a new shape
    optimizer.add_param_group({"params": model[2].parameters()})
    train_steps(model, optimizer, 1)  # the old head's parameters get no gradient now
    rec.snapshot()
    head_then = model[2].weight.detach().clone()
    train_steps(model, optimizer, 1)
    rec.snapshot()
    rec.close()
    recording = rec.recording
    np.testing.assert_array_equal(recording.frame("2", "weight", 1), head_then)
    assert recording.frame_shape("2", "weight", 1) == (5, 8)
    assert "replaced or added" in recording.missing_reason("2", "update", 1)
    assert recording.frame_shape("2", "update", 2) == (5, 8)
    assert recording.frame_shape("2", "activation", 1) == (6, 5)  # the probe checked again
    np.testing.assert_array_equal(recording.frame("2", "weight", 2), model[2].weight.detach())
    assert recording.layer_info("2")["parameters"]["weight"] == [5, 8]
    reopened = nv.Recording.open(tmp_path / "run")
    assert reopened.layer_info("2")["parameters"]["weight"] == [5, 8]
    np.testing.assert_array_equal(reopened.frame("2", "weight", 2), model[2].weight.detach())
    assert hooks_left(model, optimizer) == []


def test_modules_and_parameters_added_or_removed_are_followed():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 8)
            self.extra = nn.Linear(8, 8)
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            h = torch.relu(self.body(x))
            if hasattr(self, "extra"):
                h = self.extra(h)
            if hasattr(self, "late"):
                h = self.late(h)
            return self.head(h)

    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = nv.Recorder(model, probe=batch(1), optimizer=optimizer, stats_every=1)
    train_steps(model, optimizer, 1)
    rec.snapshot()
    del model.extra  # removed
    model.late = nn.Linear(8, 8)  # added
    model.body.scale = nn.Parameter(torch.ones(8))  # a parameter added to a layer
    optimizer.add_param_group({"params": model.late.parameters()})
    train_steps(model, optimizer, 2)
    rec.snapshot()  # the layers as they are now
    late_then = model.late.weight.detach().clone()
    train_steps(model, optimizer, 1)  # and their step statistics from now on
    rec.close()
    recording = rec.recording
    assert "late" in recording.layers and recording.frame_shape("late", "activation") == (6, 8)
    np.testing.assert_array_equal(recording.frame("late", "weight"), late_then)
    assert "no longer in the model" in recording.missing_reason("extra", "weight", 1)
    assert "no longer in the model" in recording.missing_reason("extra", "activation", 1)
    np.testing.assert_array_equal(recording.frame("body", "scale"), np.ones(8, np.float32))
    assert recording.layer_info("body")["parameters"]["scale"] == [8]
    assert np.isfinite(recording.step_series("late", "grad_norm")[-1])


def test_a_failing_step_hook_warns_once_and_training_goes_on(monkeypatch):
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = nv.Recorder(model, optimizer=optimizer, stats_every=1)

    def broken(*args, **kwargs):
        raise RuntimeError("no kernel for this")

    monkeypatch.setattr(torch, "_foreach_norm", broken)  # a kernel missing on some device
    with pytest.warns(RuntimeWarning, match="no kernel for this") as caught:
        train_steps(model, optimizer, 3)
    assert len(caught) == 1
    monkeypatch.undo()
    train_steps(model, optimizer, 1)
    rec.close()
    assert rec.step_count == 4
    assert rec.recording.steps.tolist() == [4]


# ---------------------------------------------------------------------------- one large layer
def _peak_rss_above(action):
    """Bytes the process's peak resident memory rose above its level before ``action``."""

    def status(key):
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")  # resets VmHWM, the peak, to the current resident size
    before = status("VmRSS")
    action()
    return status("VmHWM") - before


def _can_measure_rss():
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _can_measure_rss(), reason="needs Linux's /proc/self/clear_refs")
def test_a_snapshot_of_a_large_layer_needs_about_one_extra_copy_of_it():
    torch.manual_seed(0)
    model = nn.Linear(2048, 2048)  # 16 MiB of weights
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(4, 2048), torch.randint(0, 2048, (4,))
    with nv.Recorder(model, probe=(x, y), optimizer=optimizer) as rec:
        train_steps_on(model, optimizer, x, y, 1)
        rec.snapshot()
        train_steps_on(model, optimizer, x, y, 1)
        peak = _peak_rss_above(rec.snapshot)  # weights, gradient and update
    # the new host copy (16 MiB, then kept for the next update) and the three frames'
    # previews (4 MiB each): 20-28 MiB measured; it was 72 MiB, with the update as a copy,
    # float64 norm temporaries and pooling intermediates
    assert peak < 2.5 * model.weight.nbytes, f"{peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    ("shape", "limit", "layout"),
    [
        ((64, 40), 300, "transposed"),
        ((3, 6, 10, 9), 250, "channels_last"),
        ((37, 53), 200, "contiguous"),
        ((30, 20), 100, "gapped"),
    ],
)
def test_block_means_of_any_layout_are_the_means_of_their_blocks(rng, shape, limit, layout):
    values = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
    if layout == "transposed":
        tensor = values.t().contiguous().t()
    elif layout == "channels_last":
        tensor = values.contiguous(memory_format=torch.channels_last)
    elif layout == "gapped":
        tensor = torch.zeros(shape[0], shape[1] + 7)[:, : shape[1]].copy_(values)
    else:
        tensor = values
    preview = block_mean(tensor, limit, keep_first=False).numpy()
    assert preview.size <= limit
    full = values.numpy()
    for index in np.ndindex(*preview.shape):
        block = full[block_slices(shape, preview.shape, index)]
        np.testing.assert_allclose(preview[index], block.mean(), rtol=1e-4, atol=1e-6)


def test_squared_norms_are_exact_to_float32_rounding_for_any_layout(rng):
    values = torch.from_numpy(rng.standard_normal((700, 300)).astype(np.float32) + 3.0)
    for tensor in (values, values.t(), values[:, ::2], torch.complex(values, -values)):
        real = torch.view_as_real(tensor) if tensor.is_complex() else tensor
        expected = float(real.double().square().sum())
        assert squared_norm(tensor) == pytest.approx(expected, rel=1e-6)
    # the frames' facts too, past the size measured with numpy
    captured = FrameCapture(4096, 1 << 24, keep_full=False)(values, keep_first=False)
    assert captured.squared_norm == pytest.approx(float(values.double().square().sum()), 1e-6)


def test_a_probe_that_no_longer_fits_the_changed_model_is_said_once_and_costs_activations():
    model = mlp()
    rec = nv.Recorder(model, probe=batch(1))
    rec.snapshot()
    model[0] = nn.Linear(5, 8)  # the probe has 4 features
    with pytest.warns(RuntimeWarning) as caught:
        rec.snapshot()
    messages = " | ".join(str(w.message) for w in caught)
    assert "the model changed and the probe does not fit the model" in messages
    assert "layer '0' (Linear) received input of shape (6, 4)" in messages
    rec.close()
    recording = rec.recording
    assert "the probe pass failed" in recording.missing_reason("2", "activation", 1)
    assert recording.frame_shape("0", "weight", 1) == (8, 5)  # the parameters are recorded
