"""The Hugging Face callback under DDP: the real ``transformers.Trainer`` on two CPU processes
(gloo), started by ``torchrun``.

Each training runs as a script (tests/scripts/hf_ddp.py) under ``torchrun --standalone
--nproc_per_node 2``, as a user would start one; the two trainings (with and without the
callback) run at once, each with its own rendezvous port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "scripts" / "hf_ddp.py"


def _start(with_callback: bool, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(SCRIPT),
        "1" if with_callback else "0",
        str(out),
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """``{("with"|"without", rank): what that rank saw}``."""
    folder = tmp_path_factory.mktemp("hf_ddp")
    runs = {name: _start(name == "with", folder / name) for name in ("with", "without")}
    for name, process in runs.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, (
            f"the {name}-callback Trainer DDP training failed:\n{output[-3000:]}"
        )
    return {
        (name, rank): json.loads((folder / f"{name}.{rank}.json").read_text())
        for name in runs
        for rank in (0, 1)
    }


def test_rank_0_records_the_snapshots_asked_for_and_rank_1_none(ranks):
    zero, one = ranks["with", 0], ranks["with", 1]
    assert zero["world_size"] == one["world_size"] == 2, "the Trainer trained under DDP"
    assert zero["optimizer_steps"] == 8  # 64 samples, 2 ranks, batch 8, 2 epochs
    # every 2 optimizer steps, and the untrained model at the start
    assert zero["snapshot_steps"] == [0, 2, 4, 6, 8]
    assert zero["snapshots"] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert zero["last_grad_abs_sum"] > 0, "the gradient DDP averaged is recorded, not zero"
    assert one["snapshots"] == [], "only rank 0 takes snapshots"
    assert one["steps_with_statistics"] > 0, "rank 1's step hooks ran"


def test_ddp_training_is_bit_identical_with_the_callback_and_leaves_no_hook(ranks):
    for rank in (0, 1):
        assert ranks["with", rank]["params"] == ranks["without", rank]["params"]
        assert ranks["with", rank]["hooks_left"] == 0
        assert ranks["without", rank]["hooks_left"] == 0
        assert ranks["with", rank]["recorder_closed"]
    assert ranks["with", 0]["params"] == ranks["with", 1]["params"], "DDP keeps ranks in step"
