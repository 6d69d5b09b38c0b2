"""``make demo``: the JupyterLab command that opens the explorer's quickstart (issue 13).

JupyterLab refuses to run as root unless given ``--allow-root``; in a container ``make demo``
runs as root. The flag is given then, and only then. ``make -n`` prints the command without
running it; a stand-in ``id`` on the PATH plays root or a user.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def demo_command(tmp_path: Path, uid: int) -> str:
    fake = tmp_path / f"uid{uid}"
    fake.mkdir()
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake / "id").chmod(0o755)
    result = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "demo"],
        env={"PATH": f"{fake}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return next(line for line in result.stdout.splitlines() if "jupyter lab" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_demo_allows_root_only_as_root(tmp_path):
    as_root, as_user = demo_command(tmp_path, 0), demo_command(tmp_path, 1000)
    assert "--allow-root" in as_root.split()
    assert "--allow-root" not in as_user.split()
    assert as_root.endswith("notebooks/01_quickstart.ipynb")
