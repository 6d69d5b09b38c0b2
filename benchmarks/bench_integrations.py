"""What the framework callbacks cost a training step: Lightning and Hugging Face, on the CPU.

For each framework, the same tiny training (an MLP under Lightning, a 2-layer GPT-2 from a
config under the HF ``Trainer``) runs with and without the nnviz_widgets ``RecorderCallback``, in
alternating pairs (bare then with, with then bare, ...) so that both share the machine's
noise. A timing callback, present in both, reads the clock around every training step
(Lightning: ``on_train_batch_start`` to ``on_train_batch_end``; HF: ``on_step_begin`` to
``on_step_end``). Reported per framework: the median step (the optimizer hooks' cost: most
steps take no snapshot), the mean step (snapshots included, one every ``SNAPSHOT_EVERY``
steps) and the whole ``fit``/``train`` call, each with the callback's ratio to bare (the
median of the pairs' ratios).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

PAIRS = 3
STEPS = 40  # training steps per fit (one epoch)
SNAPSHOT_EVERY = 10  # the callback's every_n_steps
VOCAB, LENGTH = 64, 16


# ---------------------------------------------------------------------------- Lightning
def _lightning_parts():
    """The module and the timing callback, made once Lightning is imported."""
    import lightning.pytorch as pl

    class Classifier(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_batch_start(self, *args) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            self.times.append(time.perf_counter() - self.start)

    return pl, Classifier, Clock


def _lightning_fit(steps: int, with_callback: bool) -> dict:
    from nnviz_widgets.integrations.lightning import RecorderCallback

    pl, Classifier, Clock = _lightning_parts()
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randn(steps * 16, 32, generator=g),
        torch.randint(0, 10, (steps * 16,), generator=g),
    )
    pl.seed_everything(0, verbose=False)
    clock = Clock()
    # the recorder's callback after the clock: a snapshot taken at a step's end is counted
    callbacks = [clock]
    if with_callback:
        callbacks.insert(0, RecorderCallback((x[:8], y[:8]), every_n_steps=SNAPSHOT_EVERY))
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=1,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=root,
            callbacks=callbacks,
        )
        start = time.perf_counter()
        trainer.fit(Classifier(), DataLoader(TensorDataset(x, y), batch_size=16))
        whole = time.perf_counter() - start
    return {"steps": clock.times, "whole": whole}


# ---------------------------------------------------------------------------- Hugging Face
class _Tokens(Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(3)
        start = torch.randint(0, VOCAB, (n, 1), generator=g)
        self.ids = (start + torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def _transformers_train(steps: int, with_callback: bool) -> dict:
    import transformers

    from nnviz_widgets.integrations.transformers import RecorderCallback

    class Clock(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_begin(self, *args, **kwargs) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, *args, **kwargs) -> None:
            self.times.append(time.perf_counter() - self.start)

    transformers.set_seed(0)
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=2, n_head=2
    )
    model = transformers.GPT2LMHeadModel(config)
    data = _Tokens(steps * 8)
    clock = Clock()
    callbacks = [clock]
    if with_callback:
        ids = data.ids[:4]
        probe = {"input_ids": ids, "labels": ids}
        callbacks.insert(0, RecorderCallback(probe, every_n_steps=SNAPSHOT_EVERY))
    with tempfile.TemporaryDirectory() as root:
        args = transformers.TrainingArguments(
            output_dir=root,
            num_train_epochs=1,
            per_device_train_batch_size=8,
            learning_rate=1e-3,
            logging_strategy="no",
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=0,
            disable_tqdm=True,
        )
        trainer = transformers.Trainer(
            model=model, args=args, train_dataset=data, callbacks=callbacks
        )
        start = time.perf_counter()
        trainer.train()
        whole = time.perf_counter() - start
    return {"steps": clock.times, "whole": whole}


# ---------------------------------------------------------------------------- measuring
def measure(train, pairs: int, steps: int) -> dict:
    """Per variant: each fit's median step, mean step and whole time; the pairs' ratios."""
    found = {"bare": [], "callback": []}
    train(min(steps, 4), False)  # warm-up: imports, first kernels
    for pair in range(pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        for with_callback in order:
            result = train(steps, with_callback)
            times = result["steps"][1:]  # the first step of a fit warms caches up
            found["callback" if with_callback else "bare"].append(
                {
                    "median": statistics.median(times),
                    "mean": statistics.fmean(times),
                    "whole": result["whole"],
                    "count": len(result["steps"]),
                }
            )
    summary = {}
    for key in ("median", "mean", "whole"):
        bare = [fit[key] for fit in found["bare"]]
        callback = [fit[key] for fit in found["callback"]]
        summary[key] = (
            statistics.median(bare),
            statistics.median(callback),
            statistics.median(c / b for b, c in zip(bare, callback)),
        )
    summary["steps"] = found["bare"][0]["count"]
    return summary


def run(pairs: int = PAIRS, steps: int = STEPS) -> str:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread each, as the shared machine allows
    rows = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the frameworks' own deprecation notices
            for name, train in (
                ("Lightning (MLP 32-64-10)", _lightning_fit),
                ("Hugging Face (GPT-2, 2 layers of 32)", _transformers_train),
            ):
                summary = measure(train, pairs, steps)
                for key, what in (
                    ("median", "median step"),
                    ("mean", "mean step (snapshots included)"),
                    ("whole", "whole fit"),
                ):
                    bare, callback, ratio = summary[key]
                    rows.append(
                        f"| {name} | {what} | {bare * 1e3:.2f} ms | {callback * 1e3:.2f} ms | "
                        f"{ratio:.2f}x |"
                    )
    finally:
        torch.set_num_threads(threads)  # the benchmarks that run after this one keep theirs
    table = "\n".join(rows)
    return f"""## The framework callbacks' overhead per step (CPU)

The same training with and without `RecorderCallback(probe, every_n_steps={SNAPSHOT_EVERY})`,
{pairs} alternating pairs of fits of {steps} steps each (one warm-up fit before, not
counted), one torch thread. A timing callback in both reads the clock around each training
step. Ratio: the median over pairs of (with callback) / (bare).

| framework | what | bare | with callback | ratio |
| --- | --- | --- | --- | --- |
{table}
"""
