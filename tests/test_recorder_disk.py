"""The Recorder writing to disk: round trip, failures that never stop training, the memory
budget spilling to disk, and DDP with two gloo processes."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from tests.conftest import hooks_left


def _train(model, optimizer, rec, steps=12, every=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for step in range(1, steps + 1):
        x = torch.randn(8, 6, generator=generator)
        y = torch.randint(0, 3, (8,), generator=generator)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if rec is not None and step % every == 0:
            rec.snapshot(epoch=step // every, loss=loss)


def _model():
    torch.manual_seed(0)
    model = nv.models.MLP((6, 16, 3))
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_what_the_recorder_writes_reads_back_the_same(tmp_path):
    model, optimizer = _model()
    with nv.Recorder(
        model, probe=torch.randn(4, 6), optimizer=optimizer, path=tmp_path / "run"
    ) as rec:
        rec.snapshot(epoch=0)
        _train(model, optimizer, rec)
    live = rec.recording
    opened = nv.Recording.open(tmp_path / "run")
    assert opened.snapshots == live.snapshots == (0.0, 1.0, 2.0, 3.0)
    assert opened.layers == live.layers
    for layer in live.layers:
        assert opened.quantities(layer) == live.quantities(layer)  # same order too
        for quantity in live.quantities(layer):
            for index in range(4):
                reason = live.missing_reason(layer, quantity, index)
                assert opened.missing_reason(layer, quantity, index) == reason
                if reason is None:
                    np.testing.assert_array_equal(
                        opened.frame(layer, quantity, index), live.frame(layer, quantity, index)
                    )
    np.testing.assert_array_equal(opened.steps, live.steps)
    np.testing.assert_array_equal(
        opened.step_series("0", "grad_norm"), live.step_series("0", "grad_norm")
    )
    np.testing.assert_array_equal(opened.metric("loss"), live.metric("loss"))
    np.testing.assert_array_equal(opened.probe["input"], live.probe["input"])


def test_an_unusable_path_fails_at_construction(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("not a recording")
    model, optimizer = _model()
    with pytest.raises(OSError, match="taken"):
        nv.Recorder(model, optimizer=optimizer, path=tmp_path / "taken")
    assert hooks_left(model, optimizer) == []


def test_a_failing_disk_warns_and_training_goes_on(tmp_path, monkeypatch):
    from nnviz_widgets.store import RecordingWriter
    from nnviz_widgets.store.format import write_error

    model, optimizer = _model()
    bare_model, bare_optimizer = _model()
    rec = nv.Recorder(model, probe=torch.randn(4, 6), optimizer=optimizer, path=tmp_path / "run")

    def full_disk(self, target, arrays):
        raise write_error(OSError(28, "No space left on device"), target, "write")

    monkeypatch.setattr(RecordingWriter, "_write_npz", full_disk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _train(model, optimizer, rec)
        rec.close()
    _train(bare_model, bare_optimizer, None)
    messages = [str(w.message) for w in caught]
    assert any("No space left on device" in m and "Training goes on" in m for m in messages)
    assert sum("No space left" in m for m in messages) == 1  # said once, not per snapshot
    assert len(rec.recording.snapshots) == 3  # all kept in memory
    for a, b in zip(model.parameters(), bare_model.parameters()):
        assert torch.equal(a, b)


def test_past_the_budget_frames_on_disk_leave_memory_and_stay_readable(tmp_path):
    model = nn.Sequential(nn.Linear(32, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    weights = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", nv.RecordingBudgetWarning)  # nothing may be thinned
        with nv.Recorder(
            model, optimizer=optimizer, path=tmp_path / "run", max_bytes=30_000
        ) as rec:
            for epoch in range(12):
                with torch.no_grad():
                    model[0].weight.add_(0.01)
                weights.append(model[0].weight.detach().clone())
                rec.snapshot(epoch=epoch)
    recording = rec.recording
    assert recording.thinned == ()
    assert recording.nbytes <= 30_000
    for epoch, weight in enumerate(weights):
        np.testing.assert_array_equal(recording.frame("0", "weight", epoch), weight.numpy())


def _ddp_worker(rank, world, init_file, out_dir, record):
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(0)
        inner = nv.models.MLP((6, 16, 3))
        model = nn.parallel.DistributedDataParallel(inner)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rec = None
        if record:
            rec = nv.Recorder(
                model,
                probe=torch.randn(4, 6, generator=torch.Generator().manual_seed(9)),
                optimizer=optimizer,
                path=os.path.join(out_dir, "recording"),
            )
        _train(model, optimizer, rec, steps=12, every=3, seed=rank)
        if rec is not None:
            rec.close()
            assert hooks_left(inner, optimizer) == []
            np.save(
                os.path.join(out_dir, f"snapshots{rank}.npy"), np.asarray(rec.recording.snapshots)
            )
            np.save(os.path.join(out_dir, f"steps{rank}.npy"), rec.step_count)
        state = torch.cat([p.detach().flatten() for p in inner.parameters()])
        torch.save(state, os.path.join(out_dir, f"params{rank}_{int(record)}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_gloo_ranks_train_identically_and_write_once(tmp_path):
    for record in (False, True):
        init_file = tmp_path / f"init{int(record)}"
        mp.spawn(_ddp_worker, args=(2, str(init_file), str(tmp_path), record), nprocs=2, join=True)
    for rank in (0, 1):
        bare = torch.load(tmp_path / f"params{rank}_0.pt")
        recorded = torch.load(tmp_path / f"params{rank}_1.pt")
        assert torch.equal(bare, recorded), f"rank {rank} trained differently with a Recorder"
    # DDP keeps ranks in step: both ranks end with the same weights
    assert torch.equal(torch.load(tmp_path / "params0_1.pt"), torch.load(tmp_path / "params1_1.pt"))
    assert np.load(tmp_path / "snapshots0.npy").tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.load(tmp_path / "snapshots1.npy").tolist() == []  # rank 1 records no snapshot
    assert np.load(tmp_path / "steps1.npy").tolist() == 12  # but counts steps
    opened = nv.Recording.open(tmp_path / "recording")
    assert opened.snapshots == (1.0, 2.0, 3.0, 4.0)
    assert opened.frame("0", "weight_grad", -1).shape == (16, 6)
    assert sorted(os.listdir(tmp_path / "recording" / "snapshots")) == [
        f"{i:06d}.npz" for i in range(4)
    ]
