"""Recording a PyTorch Lightning training: :class:`RecorderCallback`.

Pass it to ``lightning.Trainer(callbacks=[...])``. When ``fit`` starts training it makes a
:class:`~nnviz_widgets.Recorder` on the ``LightningModule`` and its optimizer (the torch one
inside Lightning's wrapper, whose step hooks run at every real optimizer step, so gradient
accumulation is respected), takes snapshots at the ends of epochs or every n optimizer steps,
and closes the Recorder when ``fit`` ends or raises. Gradients are read where Lightning still
has them: the Recorder's per-step statistics in the optimizer's pre-step hook, a snapshot's
``weight_grad`` right after the step (Lightning zeroes gradients before the next backward).
Under DDP, rank 0 records. Imports ``lightning`` (or the older ``pytorch_lightning``): install
``nnviz_widgets[lightning]``. See docs/integrations.md.
"""

from __future__ import annotations

import warnings
from typing import Any

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError:  # the package before it was renamed
    try:
        from pytorch_lightning import Callback, LightningModule, Trainer
    except ImportError as error:
        raise ImportError(
            "nnviz_widgets.integrations.lightning needs PyTorch Lightning: "
            "pip install 'nnviz_widgets[lightning]' (or pip install lightning)"
        ) from error

from nnviz_widgets.integrations.session import RecorderSession, SessionCallback, scalar_metrics

__all__ = ["RecorderCallback"]


class RecorderCallback(SessionCallback, Callback):
    """Records a Lightning training with a :class:`~nnviz_widgets.Recorder`.

    Parameters
    ----------
    probe : tensor or (x, y), optional
        The fixed batch the Recorder runs through the model at each snapshot (as
        ``Recorder(probe=...)``); the ``LightningModule``'s ``forward`` is called on ``x``.
    every_n_epochs, every_n_steps : int, optional
        A snapshot at the end of every n-th training epoch, or after every n-th optimizer step
        (``trainer.global_step``). By default, every epoch.
    at_start : bool
        A snapshot of the untrained model when training starts (default True).
    **options
        Any other Recorder argument: ``layers=``, ``loss_fn=``, ``path=``, ``max_bytes=``,
        ``memory_per_snapshot=``, ``stats_every=``, ...

    Attributes
    ----------
    recording : Recording
        What it records, there from the start (empty until training starts), so that
        ``nv.TrainingExplorer(callback)`` can show it live.

    Notes
    -----
    Snapshots are labelled in epochs done: 0 at the start, 1 after the first epoch, and a
    fraction of an epoch for step snapshots. Their metrics are Lightning's
    ``trainer.callback_metrics`` (what ``self.log`` logged), scalars only.
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
        super().__init__()
        self._session = RecorderSession(probe, every_n_epochs, every_n_steps, at_start, options)

    def __repr__(self) -> str:
        session = self._session
        when = (
            f"every_n_steps={session.every_n_steps}"
            if session.every_n_steps
            else f"every_n_epochs={session.every_n_epochs}"
        )
        return f"<RecorderCallback {when}, {len(session.recording)} snapshot(s)>"

    # -- Lightning's events
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        optimizers = list(trainer.optimizers)
        if len(optimizers) > 1:
            warnings.warn(
                f"the LightningModule has {len(optimizers)} optimizers; the Recorder follows the "
                "first one's steps (per-step statistics of the parameters it updates)",
                UserWarning,
                stacklevel=2,
            )
        self._session.start(pl_module, optimizers[0] if optimizers else None)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._session.every_n_steps is None:
            return
        batches = trainer.num_training_batches
        fraction = (batch_idx + 1) / batches if isinstance(batches, int) and batches > 0 else 0.0
        self._session.step_done(
            trainer.global_step, trainer.current_epoch + fraction, self._metrics(trainer)
        )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._session.epoch_done(
            trainer.current_epoch + 1, trainer.global_step, self._metrics(trainer)
        )

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._session.close()

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        self._session.close()

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._session.close()  # also after an interrupted fit, whatever Lightning called

    @staticmethod
    def _metrics(trainer: Trainer) -> dict[str, float]:
        return scalar_metrics(trainer.callback_metrics)
