"""Hand-made recordings for the browser test notebooks, with values a test can predict.

The notebooks under this folder import this module (the kernel runs in a copy of the folder), and
the tests import it too, to know which value the readout must show under the pointer.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.recording import Recording, SnapshotData

SNAPSHOTS = 6
#: layer -> (rows, columns) of its weight matrix
SHAPES = {"fc1": (12, 16), "fc2": (8, 12)}
#: The block of snapshot NAN_SNAPSHOT in the NaN recording that holds NaN.
NAN_SNAPSHOT = 1
NAN_BLOCK = (slice(0, 6), slice(0, 8))


def weight(layer: str, snapshot: int) -> np.ndarray:
    """The weight of ``layer`` at ``snapshot``: a pattern that moves from snapshot to snapshot."""
    rows, columns = SHAPES[layer]
    r = np.arange(rows, dtype=np.float32)[:, None]
    c = np.arange(columns, dtype=np.float32)[None, :]
    phase = 0.9 * snapshot + (0.0 if layer == "fc1" else 1.7)
    return (np.sin(0.55 * r + phase) * np.cos(0.35 * c - 0.5 * phase)).astype(np.float32)


def gradient(layer: str, snapshot: int) -> np.ndarray:
    """A weight gradient that looks nothing like the weight: a checkerboard shrinking in time."""
    rows, columns = SHAPES[layer]
    checker = (np.indices((rows, columns)).sum(axis=0) % 2) * 2.0 - 1.0
    return (checker / (snapshot + 1)).astype(np.float32)


def recording(*, with_nan: bool = False) -> Recording:
    """Two Linear layers with weights and weight gradients over SNAPSHOTS snapshots."""
    result = Recording()
    result.set_layers({layer: {"type": "Linear", "calls": 1} for layer in SHAPES})
    for snapshot in range(SNAPSHOTS):
        frames = {}
        for layer in SHAPES:
            frames[(layer, "weight")] = weight(layer, snapshot)
            frames[(layer, "weight_grad")] = gradient(layer, snapshot)
        if with_nan and snapshot == NAN_SNAPSHOT:
            broken = weight("fc1", snapshot).copy()
            broken[NAN_BLOCK] = np.nan
            frames[("fc1", "weight")] = broken
        result.append_snapshot(
            SnapshotData(
                epoch=snapshot,
                step=snapshot * 10,
                frames=frames,
                metrics={"loss": 1.0 / (snapshot + 1)},
            )
        )
    return result


def square_recording(size: int, snapshots: int, seed: int = 0) -> Recording:
    """One Linear layer of ``size`` x ``size`` random weights per snapshot (for the benchmark)."""
    rng = np.random.default_rng(seed)
    result = Recording(max_bytes=1 << 34)
    result.set_layers({"fc": {"type": "Linear", "calls": 1}})
    for snapshot in range(snapshots):
        result.append_snapshot(
            SnapshotData(
                epoch=snapshot,
                step=snapshot * 100,
                frames={("fc", "weight"): rng.standard_normal((size, size), dtype=np.float32)},
                # as the Recorder does: NaN/Inf counted, so the explorer skips its scan
                statistics={("fc", "nonfinite_weight"): 0},
                metrics={"loss": 1.0 / (snapshot + 1)},
            )
        )
    return result
