"""The examples run as documented."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import nnviz_widgets as nv

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_ddp_under_torchrun_on_two_cpu_processes(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun is not None, "torchrun comes with torch"
    out = tmp_path / "run"
    result = subprocess.run(
        [
            torchrun,
            "--nproc_per_node=2",
            str(ROOT / "examples" / "train_ddp.py"),
            "--out",
            str(out),
            "--epochs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "recorded 2 snapshots" in result.stdout
    recording = nv.Recording.open(out)
    assert recording.snapshots == (0.0, 1.0)
    assert recording.metric("accuracy")[-1] > 0.5
    assert recording.frame("conv1", "weight_grad", -1).shape == (6, 1, 5, 5)
