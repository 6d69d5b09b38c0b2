"""The recording side that needs torch: the Recorder and the hooks it places on a model.

Read top to bottom: :mod:`~nnviz_widgets.record.recorder` (the facade users build),
:mod:`~nnviz_widgets.record.parts` (what it is made of), :mod:`~nnviz_widgets.record.step_hooks`
(the per-step path) and :mod:`~nnviz_widgets.record.snapshots` (a snapshot's order),
:mod:`~nnviz_widgets.record.layers` (which modules are layers), :mod:`~nnviz_widgets.record.steps`
(per-step statistics), :mod:`~nnviz_widgets.record.parameters` and
:mod:`~nnviz_widgets.record.probe` (the two halves of a snapshot),
:mod:`~nnviz_widgets.record.capture` (a tensor becomes a frame) and
:mod:`~nnviz_widgets.record.disk` (writing as it records).
"""

from nnviz_widgets.record.layers import unwrap_model
from nnviz_widgets.record.recorder import Recorder

__all__ = ["Recorder", "unwrap_model"]
