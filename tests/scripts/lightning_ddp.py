"""One Lightning DDP training on 2 CPU processes (gloo), with or without the Recorder callback;
each rank writes what it saw to ``<out>.<rank>.json``. Run by tests/test_integration_ddp.py:
``python tests/scripts/lightning_ddp.py <0|1 callback> <out prefix>`` (Lightning's "ddp"
strategy starts rank 1 by running this script again)."""

from __future__ import annotations

import json
import sys

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from nnviz_widgets.integrations.lightning import RecorderCallback
from tests.conftest import hooks_left


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def main(with_callback: bool, out: str) -> None:
    pl.seed_everything(0, verbose=False)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, 0] > 0).long()
    model = Tiny()
    callbacks = [RecorderCallback((x[:8], y[:8]), every_n_steps=2)] if with_callback else []
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=8))
    result = {
        "params": [p.detach().flatten().tolist() for p in model.parameters()],
        "hooks_left": len(hooks_left(model)),
        "optimizer_steps": trainer.global_step,
    }
    if with_callback:
        recording = callbacks[0].recording
        result["snapshots"] = list(recording.snapshots)
        result["snapshot_steps"] = recording.snapshot_steps.tolist()
        result["recorder_closed"] = callbacks[0].recorder is None
        if len(recording):
            grad = recording.frame("net.0", "weight_grad", -1)
            result["last_grad_abs_sum"] = float(abs(grad).sum())
    with open(f"{out}.{trainer.global_rank}.json", "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main(sys.argv[1] == "1", sys.argv[2])
