"""The Hugging Face callback with the real transformers Trainer (a tiny GPT-2 made from a
config, no download; CPU; a few steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers  # the test extra installs it: never skipped
from torch.utils.data import Dataset

import nnviz_widgets as nv
from nnviz_widgets.integrations.transformers import RecorderCallback
from tests.conftest import hooks_left

VOCAB, LENGTH = 64, 16


class Tokens(Dataset):
    """Random token sequences that repeat a pattern, so that a tiny LM learns something."""

    def __init__(self, n=48):
        g = torch.Generator().manual_seed(3)
        start = torch.randint(0, VOCAB, (n, 1), generator=g)
        self.ids = (start + torch.arange(LENGTH)) % VOCAB

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def _model():
    transformers.set_seed(0)
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=2, n_head=2
    )
    return transformers.GPT2LMHeadModel(config)


def _train(tmp_path, callbacks=(), epochs=2, **options):
    model = _model()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=epochs,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        **options,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Tokens(), callbacks=list(callbacks)
    )
    trainer.train()
    return model, trainer


def _probe():
    ids = Tokens().ids[:4]
    return {"input_ids": ids, "labels": ids}


def test_snapshots_at_each_epoch_with_gradients_and_the_models_own_loss(tmp_path):
    callback = RecorderCallback(_probe())
    model, trainer = _train(tmp_path, [callback])
    recording = callback.recording
    assert recording.snapshots == (0.0, 1.0, 2.0)  # 48 samples / 8 a batch: 6 steps an epoch
    assert recording.snapshot_steps.tolist() == [0, 6, 12]
    layer = "transformer.h.0.attn.c_attn"
    assert layer in recording.layers
    # taken between the optimizer step and the Trainer's zero_grad: the step's gradient is there
    assert np.abs(recording.frame(layer, "weight_grad", -1)).max() > 0
    assert np.isfinite(recording.metric("loss")[1:]).all()
    # the probe loss is the model's own (labels in the dict): output gradients reach the blocks
    assert np.abs(recording.frame("transformer.h.1.mlp.c_fc", "output_grad", -1)).max() > 0
    assert callback.recorder is None
    assert hooks_left(model, trainer.optimizer.optimizer) == []


def test_training_is_bit_identical_with_and_without_the_callback(tmp_path):
    options = {"gradient_accumulation_steps": 2}
    bare, _ = _train(tmp_path / "bare", **options)
    callback = RecorderCallback(_probe(), every_n_steps=1)
    recorded, _ = _train(tmp_path / "recorded", [callback], **options)
    for (name, a), b in zip(bare.state_dict().items(), recorded.state_dict().values()):
        assert torch.equal(a, b), f"{name} trained differently with the callback"
    # 6 batches an epoch, accumulated by 2: 3 optimizer steps an epoch, 6 in all
    assert callback.recording.snapshot_steps.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert callback.recording.snapshots == pytest.approx([0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])


def test_bf16_training_records(tmp_path):
    callback = RecorderCallback(_probe(), every_n_steps=3, every_n_epochs=None, at_start=False)
    _train(tmp_path, [callback], epochs=1, bf16=True)
    recording = callback.recording
    assert recording.snapshot_steps.tolist() == [3, 6]
    grad = recording.frame("transformer.h.0.mlp.c_fc", "weight_grad", -1)
    assert grad.dtype == np.float32 and np.abs(grad).max() > 0


class Failing(transformers.TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 3:
            raise RuntimeError("a failure inside train")


def test_an_exception_inside_train_leaves_no_hook_when_used_as_a_context(tmp_path):
    model = _model()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=1, per_device_train_batch_size=8,
        save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    with RecorderCallback(_probe(), every_n_steps=1) as callback:
        trainer = transformers.Trainer(
            model=model, args=args, train_dataset=Tokens(), callbacks=[callback, Failing()]
        )
        with pytest.raises(RuntimeError, match="a failure inside train"):
            trainer.train()
        assert callback.recorder is not None  # the Trainer said nothing: still open here
    assert callback.recorder is None
    assert hooks_left(model, trainer.optimizer.optimizer) == []
    assert callback.recording.snapshot_steps.tolist() == [0, 1, 2, 3]


def test_a_dict_probe_is_checked_in_words():
    ids = Tokens().ids
    with pytest.raises(ValueError, match="share their first .batch. dimension"):
        nv.Recorder(_model(), probe={"input_ids": ids[:4], "labels": ids[:3]})
    with pytest.raises(TypeError, match="at least one tensor"):
        nv.Recorder(_model(), probe={"return_dict": True})
