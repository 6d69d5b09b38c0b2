"""The layers as the Recording knows them: declared at construction, again when the model changes.

:class:`LayerPlan` tells the Recording which layers there are and what is known of each (the
probe's check pass gives their output shapes), and plans how many values each frame may keep in
memory. At each snapshot it looks whether the model still holds the layers it was planned for
(:meth:`~nnviz_widgets.record.layers.RecordedLayers.refresh`: a module replaced, added or
removed, a parameter set to another shape through ``.data``). When not, the step statistics and
the probe are planned again, the changed layers are declared again (in memory and, through the
Recorder, on disk), and a layer no longer in the model is marked missing, with the reason, in
every later snapshot.
"""

from __future__ import annotations

import math
import warnings

from nnviz_widgets.record.capture import FrameCapture, add_missing, plan_memory_values
from nnviz_widgets.record.layers import RecordedLayers
from nnviz_widgets.record.probe import Probe
from nnviz_widgets.record.steps import StepStatistics
from nnviz_widgets.recording import INPUT, Recording, SnapshotData

__all__ = ["LayerPlan"]


class LayerPlan:
    """The recorded layers, as declared to a Recording.

    Parameters
    ----------
    layers : RecordedLayers
        The recorded layers.
    probe : Probe or None
        The probe, whose check pass tells each layer's output shapes.
    capture : FrameCapture
        Its ``memory_values`` are planned here.
    recording : Recording
        Told the layers (and the probe).
    memory_per_snapshot : int
        ``Recorder(memory_per_snapshot=...)``.
    """

    def __init__(
        self,
        layers: RecordedLayers,
        probe: Probe | None,
        capture: FrameCapture,
        recording: Recording,
        memory_per_snapshot: int,
    ) -> None:
        self._layers = layers
        self._probe = probe
        self._capture = capture
        self._recording = recording
        self._memory_per_snapshot = memory_per_snapshot
        self._gone: dict[str, str] = {}  # layers no longer in the model, and why

    def declare(self) -> dict[str, dict]:
        """Tell the Recording the layers (and the probe), and plan the memory of each frame;
        returns the layers' descriptions. A probe is run once first, to check that it fits the
        model and to learn each layer's output shapes (ValueError when it does not fit)."""
        if self._probe is None:
            infos = self._layers.describe()
        else:
            infos = self._layers.describe(self._probe.check())
            infos[INPUT] = self._probe.describe()
            self._recording.set_probe(*self._probe.arrays())
        self._recording.set_layers(infos)
        self._capture.memory_values = plan_memory_values(
            self._frame_sizes(infos), self._memory_per_snapshot
        )
        return infos

    def _frame_sizes(self, infos: dict[str, dict]) -> list[int]:
        """How many values each frame of a snapshot holds: weight, gradient and update of each
        parameter; activation and output gradient of each call of each layer; the saliency."""
        sizes = [p.numel() for p in self._layers.parameters for _ in range(3)]
        for name, info in infos.items():
            if name == INPUT:
                if self._probe is not None and self._probe.x.is_floating_point():
                    sizes.append(self._probe.x.numel())
                continue
            for shape in info.get("output_shapes", []):
                sizes += [math.prod(shape)] * 2
        return sizes

    def refresh(self, steps: StepStatistics) -> dict[str, dict]:
        """Plan again if the model changed since the last snapshot; returns the descriptions
        of the layers that are new or changed (empty when nothing changed)."""
        change = self._layers.refresh()
        if change is None:
            return {}
        steps.replan()
        for layer in change.gone:
            self._gone[layer] = (
                f"layer {layer!r} is no longer in the model (it was removed, or replaced by a "
                "module the layer selection does not choose), so it is not recorded"
            )
        for layer in change.changed:
            self._gone.pop(layer, None)
        if self._probe is not None:
            self._probe.replan()
        try:
            infos = self.declare()
        except ValueError as error:  # the probe no longer fits the model
            probe, self._probe = self._probe, None
            try:
                infos = self.declare()  # the layers without output shapes
            finally:
                self._probe = probe
            warnings.warn(
                f"the model changed and {error}; the next snapshots will say why their "
                "activations are missing",
                RuntimeWarning,
                stacklevel=4,
            )
        return {name: infos[name] for name in change.changed if name in infos}

    def mark_gone(self, data: SnapshotData) -> None:
        """Mark every frame of the layers no longer in the model missing, with the reason."""
        for layer, reason in self._gone.items():
            for quantity in self._recording.quantities(layer):
                add_missing(data, (layer, quantity), reason)
