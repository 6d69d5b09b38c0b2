"""Callbacks that record training run by a framework: PyTorch Lightning and Hugging Face.

``nnviz_widgets.integrations.lightning.RecorderCallback`` and
``nnviz_widgets.integrations.transformers.RecorderCallback`` each make a
:class:`~nnviz_widgets.Recorder` when training starts, take snapshots when asked
(``every_n_epochs=`` or ``every_n_steps=``) and close it when training ends or fails. Each
module imports its framework, which is an optional extra (``pip install
nnviz_widgets[lightning]`` or ``[transformers]``); this package imports neither. What they
share is in :mod:`~nnviz_widgets.integrations.session`. See docs/integrations.md.
"""
