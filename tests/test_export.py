"""A Recording's numbers out: to_npz and to_csv, read back with numpy and the csv module."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv


@pytest.fixture(scope="module")
def recording():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    with nv.Recorder(model, probe=(x[:4], y[:4]), optimizer=optimizer, stats_every=1) as rec:
        for epoch in range(3):
            for _ in range(2):
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
            rec.snapshot(epoch=epoch, loss=loss, **({"accuracy": 0.5} if epoch else {}))
    return rec.recording


def test_npz_holds_every_scalar_and_the_frames_asked_for(recording, tmp_path):
    path = tmp_path / "run.npz"
    recording.to_npz(path, frames=[("0", "weight"), ("2", "update")])
    with np.load(path, allow_pickle=False) as data:  # nothing in it needs pickle
        np.testing.assert_array_equal(data["snapshots/epoch"], [0, 1, 2])
        np.testing.assert_array_equal(data["snapshots/step"], recording.snapshot_steps)
        np.testing.assert_array_equal(data["snapshots/metric/loss"], recording.metric("loss"))
        accuracy = data["snapshots/metric/accuracy"]
        assert np.isnan(accuracy[0]) and accuracy[1] == 0.5  # not given at the first snapshot
        np.testing.assert_array_equal(
            data["snapshots/statistic/0/grad_norm"], recording.statistic("0", "grad_norm")
        )
        np.testing.assert_array_equal(data["steps/step"], recording.steps)
        np.testing.assert_array_equal(
            data["steps/step/2/update_ratio"], recording.step_series("2", "update_ratio")
        )
        weights = data["frames/0/weight"]
        assert weights.shape == (3, 8, 5)
        np.testing.assert_array_equal(weights[1], recording.frame("0", "weight", 1))
        updates = data["frames/2/update"]
        assert np.isnan(updates[0]).all()  # the first snapshot has no update: missing, not zero
        np.testing.assert_array_equal(updates[2], recording.frame("2", "update", 2))


def test_csv_tables_per_snapshot_and_per_step(recording, tmp_path):
    recording.to_csv(tmp_path / "snapshots.csv")
    with open(tmp_path / "snapshots.csv", newline="") as file:
        rows = list(csv.reader(file))
    header = rows[0]
    assert header[:4] == ["epoch", "step", "metric/loss", "metric/accuracy"]
    assert "statistic/0/weight_norm" in header
    assert len(rows) == 1 + 3
    column = header.index("statistic/0/weight_norm")
    values = [float(row[column]) for row in rows[1:]]
    np.testing.assert_allclose(values, recording.statistic("0", "weight_norm"), rtol=1e-8)
    assert rows[1][header.index("metric/accuracy")] == "nan"
    recording.to_csv(tmp_path / "steps.csv", per="step")
    with open(tmp_path / "steps.csv", newline="") as file:
        steps = list(csv.reader(file))
    assert steps[0][0] == "step" and len(steps) == 1 + len(recording.steps)


def test_bad_requests_say_what_is_wrong(recording, tmp_path):
    with pytest.raises(ValueError, match='per must be "snapshot" or "step"'):
        recording.to_csv(tmp_path / "x.csv", per="epoch")
    with pytest.raises(KeyError, match="no layer"):
        recording.to_npz(tmp_path / "x.npz", frames=[("fc9", "weight")])
    with pytest.raises(TypeError, match=r"\(layer, quantity\) pairs"):
        recording.to_npz(tmp_path / "x.npz", frames=["0"])
