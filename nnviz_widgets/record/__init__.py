"""The recording side that needs torch: the Recorder and the hooks it places on a model."""

from nnviz_widgets.record.recorder import Recorder, unwrap_model

__all__ = ["Recorder", "unwrap_model"]
