"""The Lightning callback under DDP: two CPU processes (gloo), the real ``ddp`` strategy.

Each training runs as a script (tests/scripts/lightning_ddp.py), as Lightning's ``ddp`` strategy
starts the other ranks by running the script again. The two trainings (with and without the
callback) run at once, on different ports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from nnviz_widgets.integrations.lightning import RecorderCallback

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "scripts" / "lightning_ddp.py"
NAMES = ("with", "without")


def _start(with_callback: bool, out: Path, port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        PYTHONWARNINGS="ignore",
    )
    command = [sys.executable, str(SCRIPT), "1" if with_callback else "0", str(out)]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """``{("with"|"without", rank): what that rank saw}``."""
    folder = tmp_path_factory.mktemp("ddp")
    runs = {
        name: _start(name == "with", folder / name, _free_port()) for name in ("with", "without")
    }
    for name, process in runs.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, (
            f"the {name}-callback DDP training failed:\n{output[-3000:]}"
        )
    return {
        (name, rank): json.loads((folder / f"{name}.{rank}.json").read_text())
        for name in runs
        for rank in (0, 1)
    }


def test_rank_0_records_the_snapshots_asked_for_and_rank_1_none(ranks):
    zero, one = ranks["with", 0], ranks["with", 1]
    assert zero["optimizer_steps"] == 8  # 64 samples, 2 ranks, batch 8, 2 epochs
    # every 2 optimizer steps, and the untrained model at the start
    assert zero["snapshot_steps"] == [0, 2, 4, 6, 8]
    assert zero["snapshots"] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert zero["last_grad_abs_sum"] > 0, "the gradient DDP averaged is recorded, not zero"
    assert one["snapshots"] == [], "only rank 0 takes snapshots"


def test_ddp_training_is_bit_identical_with_the_callback_and_leaves_no_hook(ranks):
    for rank in (0, 1):
        assert ranks["with", rank]["params"] == ranks["without", rank]["params"]
        assert ranks["with", rank]["hooks_left"] == 0
        assert ranks["with", rank]["recorder_closed"]
    assert ranks["with", 0]["params"] == ranks["with", 1]["params"], "DDP keeps ranks in step"


def test_a_training_in_a_process_the_framework_started_says_where_the_recording_went(
    monkeypatch, tmp_path
):
    """ddp_spawn / ddp_notebook train in child processes: the callback made in the notebook
    would stay empty without a word. With path= the rank-0 worker writes there: no warning."""
    made_in = os.getpid()
    quiet, told = RecorderCallback(path=tmp_path / "run"), RecorderCallback()
    monkeypatch.setattr(os, "getpid", lambda: made_in + 1)  # as in a spawned worker
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=r"ddp_spawn.*path=.*Recording\.open"):
        told._session.start(model, optimizer)
    told._session.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet._session.start(model, optimizer)
    quiet._session.close()
    assert (tmp_path / "run").is_dir()
