"""The Recorder's parts: built from its arguments (each checked first), measured, and freed.

:class:`RecorderParts` checks the arguments (:mod:`~nnviz_widgets.record.arguments`), then
builds, in this order, the recorded layers, the frame capture, the probe (checked against the
model by one pass), the step statistics, the parameter snapshots, the Recording, the layer plan
(layers declared to the Recording) and, on rank 0 with a ``path``, the disk writer: the first
argument that is wrong fails before anything after it is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn

from nnviz_widgets.record.arguments import (
    check_arguments,
    check_optimizer,
    check_recording,
    check_step_options,
    rank,
)
from nnviz_widgets.record.capture import FrameCapture
from nnviz_widgets.record.disk import DiskWriter
from nnviz_widgets.record.layers import LayerSpec, RecordedLayers
from nnviz_widgets.record.parameters import ParameterSnapshots
from nnviz_widgets.record.plan import LayerPlan
from nnviz_widgets.record.probe import Probe
from nnviz_widgets.record.steps import StepStatistics
from nnviz_widgets.recording import Recording

__all__ = ["RecorderParts"]


class RecorderParts:
    """What a Recorder is made of; the arguments are the Recorder's (see its docstring).

    ``model`` is already unwrapped (:func:`~nnviz_widgets.record.layers.unwrap_model`).
    """

    def __init__(
        self,
        model: nn.Module,
        probe: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None,
        optimizer: torch.optim.Optimizer | None,
        *,
        layers: LayerSpec | None,
        loss_fn: Callable[..., torch.Tensor] | None,
        probe_mode: str,
        max_bytes: int,
        memory_per_snapshot: int,
        max_frame_values: int,
        flush_every: int,
        stats_every: int | str,
        mean_gradient: bool,
        path: str | os.PathLike | None,
        overwrite: bool,
        recording: Recording | None,
    ) -> None:
        check_arguments(
            probe_mode, loss_fn, optimizer, max_frame_values, flush_every, memory_per_snapshot
        )
        check_step_options(stats_every, mean_gradient)
        check_recording(recording)
        self.layers = RecordedLayers(model, layers)
        if optimizer is not None:
            check_optimizer(optimizer, model)
        self.rank = rank()
        # every frame whole until the probe's check has told the sizes a snapshot holds
        self.capture = FrameCapture(
            max_frame_values, max_frame_values, keep_full=path is not None and self.rank == 0
        )
        self.probe: Probe | None = None
        if probe is not None:
            self.probe = Probe(
                probe, model, self.layers, self.capture, loss_fn=loss_fn, mode=probe_mode
            )
        self.steps = StepStatistics(
            self.layers,
            flush_every,
            manual=optimizer is None,
            stats_every=stats_every,
            mean_gradient=mean_gradient,
        )
        self.parameters = ParameterSnapshots(self.layers, self.steps, self.capture)
        self._make_recording(recording, max_bytes, memory_per_snapshot, path, overwrite)

    def _make_recording(
        self,
        recording: Recording | None,
        max_bytes: int,
        memory_per_snapshot: int,
        path: str | os.PathLike | None,
        overwrite: bool,
    ) -> None:
        """The Recording (the one given, with its own budget, or a new one), the layers
        declared to it, and on rank 0 with a ``path`` the writer of the directory."""
        if recording is not None:
            max_bytes = recording.max_bytes
        self.recording = recording if recording is not None else Recording(max_bytes=max_bytes)
        self.plan = LayerPlan(
            self.layers, self.probe, self.capture, self.recording, memory_per_snapshot
        )
        infos = self.plan.declare()
        self.disk: DiskWriter | None = None
        if path is not None and self.rank == 0:
            self.disk = DiskWriter(
                path, self.recording, infos, overwrite=overwrite, max_bytes=max_bytes
            )

    def memory(self) -> dict:
        """What the parts hold besides the Recording's frames (``Recorder.memory``)."""
        device = self.steps.device_bytes()
        if self.probe is not None:
            device["probe"] = self.probe.batch.nbytes
        host = {"weights at the last snapshot": self.parameters.host_bytes}
        return {
            "device_bytes": sum(device.values()),
            "parameter_bytes": sum(p.nbytes for p in self.layers.parameters),
            "host_bytes": sum(host.values()),
            "device": device,
            "host": host,
        }

    def free(self) -> None:
        """Close the disk writer (its queue written first) and free the device and host
        buffers; the Recording stays readable."""
        if self.disk is not None:
            self.disk.close()
        self.steps.free()
        self.parameters.free()
