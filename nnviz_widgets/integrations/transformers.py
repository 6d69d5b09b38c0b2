"""Recording a Hugging Face ``Trainer`` training: :class:`RecorderCallback`.

Pass it to ``transformers.Trainer(callbacks=[...])``. When training begins it makes a
:class:`~nnviz_widgets.Recorder` on the Trainer's model and on the torch optimizer inside
Accelerate's wrapper (its step hooks run at every real optimizer step, so gradient accumulation
is respected), and takes snapshots at the ends of epochs or every n optimizer steps.

The Trainer sets gradients to None right after the optimizer step, before ``on_step_end``, so
snapshots are taken in ``on_optimizer_step``, between the step and that reset, where the
gradients of the step just taken are still there. An epoch's last optimizer step is known from
the training data loader's length and the accumulation steps. The probe can be a dict of the
model's keyword inputs, such as a tokenized batch with ``labels``: the probe loss is then the
loss the model returns. The Trainer calls no callback when training raises: use the callback as
a context manager (``with RecorderCallback(...) as callback: trainer.train()``) or call
:meth:`RecorderCallback.close`, so that no hook is left behind. Imports ``transformers``:
install ``nnviz_widgets[transformers]``. See docs/integrations.md.
"""

from __future__ import annotations

import math
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as error:
    raise ImportError(
        "nnviz_widgets.integrations.transformers needs Hugging Face transformers: "
        "pip install 'nnviz_widgets[transformers]' (or pip install transformers accelerate)"
    ) from error

from nnviz_widgets.integrations.session import (
    RecorderSession,
    SessionCallback,
    innermost_optimizer,
    scalar_metrics,
)

__all__ = ["RecorderCallback"]


class RecorderCallback(SessionCallback, TrainerCallback):
    """Records a Hugging Face ``Trainer`` training with a :class:`~nnviz_widgets.Recorder`.

    Parameters
    ----------
    probe : tensor, (x, y) or dict, optional
        The fixed batch run through the model at each snapshot: typically a dict of tensors as
        the model takes them (``input_ids``, ``attention_mask``, ``labels``; ``model(**probe)``),
        on the model's device or on the CPU.
    every_n_epochs, every_n_steps : int, optional
        A snapshot after the last optimizer step of every n-th epoch, or after every n-th
        optimizer step (``state.global_step``). By default, every epoch.
    at_start : bool
        A snapshot of the untrained model when training begins (default True).
    **options
        Any other Recorder argument (``layers=``, ``loss_fn=``, ``path=``, ``max_bytes=``, ...).

    Attributes
    ----------
    recording : Recording
        What it records, there from the start, so that ``nv.TrainingExplorer(callback)`` can
        show it live.

    Notes
    -----
    Snapshots are labelled in epochs done (optimizer steps over steps per epoch). Their metrics
    are the scalars of the Trainer's newest log entry (``loss``, ``grad_norm``,
    ``learning_rate``, ...): set ``logging_steps`` to see them at every snapshot.
    """

    def __init__(
        self,
        probe: Any = None,
        *,
        every_n_epochs: int | None = None,
        every_n_steps: int | None = None,
        at_start: bool = True,
        **options: Any,
    ) -> None:
        self._session = RecorderSession(probe, every_n_epochs, every_n_steps, at_start, options)
        self._steps_per_epoch: int | None = None

    def close(self) -> None:
        """Remove the Recorder's hooks (training ended or failed); the recording stays."""
        self._session.close()

    def __enter__(self) -> RecorderCallback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RecorderCallback (transformers), {len(self.recording)} snapshot(s)>"

    # -- the Trainer's events
    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        loader = kwargs.get("train_dataloader")
        try:
            batches = len(loader) if loader is not None else None
        except TypeError:  # an iterable dataset has no length
            batches = None
        accumulation = max(1, int(args.gradient_accumulation_steps))
        self._steps_per_epoch = max(1, math.ceil(batches / accumulation)) if batches else None
        self._session.start(model, innermost_optimizer(optimizer))

    def on_optimizer_step(self, args, state, control, **kwargs):
        step = state.global_step + 1  # the Trainer counts the step after this event
        per_epoch = self._steps_per_epoch
        epoch = step / per_epoch if per_epoch else float(state.epoch or 0.0)
        metrics = _newest_log(state)
        if per_epoch and step % per_epoch == 0:
            self._session.epoch_done(step // per_epoch, step, metrics)
        self._session.step_done(step, epoch, metrics)

    def on_epoch_end(self, args, state, control, **kwargs):
        # a data loader of unknown length: the epoch's snapshot comes here, after the Trainer
        # set the gradients to None (weight_grad is then missing, and says why)
        if self._steps_per_epoch is None:
            epochs = max(1, round(float(state.epoch or 0.0)))
            self._session.epoch_done(epochs, state.global_step, _newest_log(state))

    def on_train_end(self, args, state, control, **kwargs):
        self._session.close()


def _newest_log(state: Any) -> dict[str, float]:
    """The scalars of the Trainer's newest log entry (``epoch`` and ``step`` left out)."""
    history = getattr(state, "log_history", None) or [{}]
    entry = {k: v for k, v in history[-1].items() if k != "step"}
    return scalar_metrics(entry)
