"""One snapshot taken, in order: plan again, parameters, probe pass, append, queue for disk.

The Recorder takes the model's turn (:mod:`~nnviz_widgets.record.turns`) and flushes the step
statistics first; :class:`SnapshotTaker` does the rest, on rank 0 only (under
``torch.distributed`` the other ranks record no snapshot).
"""

from __future__ import annotations

import warnings

from nnviz_widgets.record.parts import RecorderParts
from nnviz_widgets.recording import SnapshotData

__all__ = ["SnapshotTaker"]


class SnapshotTaker:
    """Takes the Recorder's snapshots from the parts that hold what one needs.

    Parameters
    ----------
    parts : RecorderParts
        The recording, layer plan, step statistics, parameter snapshots, probe (None without
        one) and disk writer (None without a path) a snapshot reads and fills.
    """

    def __init__(self, parts: RecorderParts) -> None:
        self._recording = parts.recording
        self._plan = parts.plan
        self._steps = parts.steps
        self._parameters = parts.parameters
        self._probe = parts.probe
        self._disk = parts.disk
        self._rank = parts.rank

    def take(self, label: float | None, values: dict[str, float]) -> int:
        """Record one snapshot labelled ``label`` (None: its index) with metrics ``values``;
        returns its index (-1 on a rank other than 0, which records no snapshot)."""
        if self._rank != 0:  # under torch.distributed, rank 0 alone records snapshots
            return -1
        changed = self._plan.refresh(self._steps)  # the model may have changed since
        if changed and self._disk is not None:
            self._disk.write_layers(changed)
        label = float(len(self._recording)) if label is None else label
        data = SnapshotData(epoch=label, step=self._steps.step_count, metrics=values)
        self._record(data)
        self._steps.start_snapshot_period()
        if self._disk is not None:  # not thinned while on its way to disk
            self._recording.mark_storing(len(self._recording))
        index = self._recording.append_snapshot(data)
        if self._disk is not None:
            self._disk.write_snapshot(index, data)
        return index

    def _record(self, data: SnapshotData) -> None:
        """Parameters, then the probe pass, into ``data``; layers gone from the model are
        marked missing."""
        self._parameters.record(data)
        if self._probe is not None:
            try:
                self._probe.record(data)
            except Exception as error:  # a failed probe pass must not stop training
                reason = self._probe.record_failure(data, error)
                warnings.warn(
                    f"snapshot {len(self._recording)}: {reason}; weights and gradients were "
                    "recorded, activations were not",
                    RuntimeWarning,
                    stacklevel=4,
                )
        self._plan.mark_gone(data)
