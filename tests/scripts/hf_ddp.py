"""One Hugging Face Trainer training on 2 CPU processes (gloo, started by torchrun), with or
without the Recorder callback; each rank writes what it saw to ``<out>.<rank>.json``. Run by
tests/test_integration_hf_ddp.py:
``torchrun --standalone --nproc_per_node 2 tests/scripts/hf_ddp.py <0|1 callback> <out prefix>``."""

from __future__ import annotations

import json
import sys

import torch
import transformers
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from nnviz_widgets.integrations.transformers import RecorderCallback
from tests.conftest import hooks_left


class Points(Dataset):
    """64 points in 4-D, labelled by the sign of their first coordinate."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(64, 4, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "labels": self.y[i]}


class Tiny(nn.Module):
    """A classifier that returns its loss, as the Trainer expects."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x, labels=None):
        logits = self.net(x)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


def main(with_callback: bool, out: str) -> None:
    transformers.set_seed(0)
    model = Tiny()
    data = Points()
    args = transformers.TrainingArguments(
        output_dir=f"{out}.trainer",
        num_train_epochs=2,
        per_device_train_batch_size=8,
        learning_rate=0.1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        ddp_backend="gloo",
        seed=0,
        disable_tqdm=True,
    )
    probe = {"x": data.x[:8], "labels": data.y[:8]}
    callbacks = [RecorderCallback(probe, every_n_steps=2)] if with_callback else []
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, callbacks=list(callbacks)
    )
    if with_callback:
        with callbacks[0]:
            trainer.train()
    else:
        trainer.train()
    result = {
        "world_size": args.world_size,
        "params": [p.detach().flatten().tolist() for p in model.parameters()],
        "hooks_left": len(hooks_left(model, trainer.optimizer.optimizer)),
        "optimizer_steps": trainer.state.global_step,
    }
    if with_callback:
        recording = callbacks[0].recording
        result["snapshots"] = list(recording.snapshots)
        result["snapshot_steps"] = recording.snapshot_steps.tolist()
        result["steps_with_statistics"] = len(recording.steps)
        result["recorder_closed"] = callbacks[0].recorder is None
        if len(recording):
            grad = recording.frame("net.0", "weight_grad", -1)
            result["last_grad_abs_sum"] = float(abs(grad).sum())
    with open(f"{out}.{args.process_index}.json", "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main(sys.argv[1] == "1", sys.argv[2])
