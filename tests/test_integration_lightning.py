"""The Lightning callback with the real Lightning Trainer (tiny models, CPU, a few steps)."""

from __future__ import annotations

import lightning.pytorch as pl  # the test extra installs it: never skipped
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import nnviz_widgets as nv
from nnviz_widgets.integrations.lightning import RecorderCallback
from tests.conftest import hooks_left

# Lightning's own use of a deprecated torch name, not ours
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated")


class Classifier(pl.LightningModule):
    """A small MLP; ``fail_at`` raises in that training step (for the exception test)."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))
        self.fail_at = fail_at

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        if self.fail_at is not None and self.global_step >= self.fail_at:
            raise RuntimeError("a failing training step")
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def _data(n=96):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def _fit(tmp_path, callbacks=(), epochs=2, fail_at=None, **trainer_options):
    pl.seed_everything(0, verbose=False)
    model = Classifier(fail_at)
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=tmp_path,
        callbacks=list(callbacks),
        **trainer_options,
    )
    trainer.fit(model, loader)
    return model, trainer


def _probe():
    x, y = _data()
    return x[:8], y[:8]


def test_snapshots_at_each_epoch_end_with_logged_metrics_and_real_gradients(tmp_path):
    callback = RecorderCallback(_probe())
    model, trainer = _fit(tmp_path, [callback])
    recording = callback.recording
    assert recording.snapshots == (0.0, 1.0, 2.0)  # the untrained model, then epochs done
    assert recording.snapshot_steps.tolist() == [0, 6, 12]  # 96 samples / 16 a batch
    assert "train_loss_epoch" in recording.metric_names
    assert np.isfinite(recording.metric("train_loss_epoch")[1:]).all()
    gradient = recording.frame("net.0", "weight_grad", -1)
    assert np.abs(gradient).max() > 0
    np.testing.assert_array_equal(
        recording.frame("net.0", "weight", -1), model.net[0].weight.detach()
    )
    assert recording.frame("net.1", "activation", -1).shape == (8, 16)
    assert callback.recorder is None  # closed at the end of fit
    assert hooks_left(model, trainer.optimizers[0]) == []


def test_training_is_bit_identical_with_and_without_the_callback(tmp_path):
    bare, _ = _fit(tmp_path / "bare", accumulate_grad_batches=2)
    callback = RecorderCallback(_probe(), every_n_steps=1)
    recorded, _ = _fit(tmp_path / "recorded", [callback], accumulate_grad_batches=2)
    for (name, a), b in zip(bare.state_dict().items(), recorded.state_dict().values()):
        assert torch.equal(a, b), f"{name} trained differently with the callback"
    assert len(callback.recording) == 1 + 6  # at the start, then each of 2 x 3 optimizer steps


def test_every_n_steps_counts_optimizer_steps_under_gradient_accumulation(tmp_path):
    callback = RecorderCallback(_probe(), every_n_steps=2, every_n_epochs=None, at_start=False)
    _fit(tmp_path, [callback], accumulate_grad_batches=2)
    recording = callback.recording
    # 6 batches an epoch, 3 optimizer steps: steps 2, 4 and 6 over two epochs
    assert recording.snapshot_steps.tolist() == [2, 4, 6]
    assert recording.snapshots == pytest.approx([4 / 6, 1 + 2 / 6, 2.0])
    assert recording.steps[-1] <= 6  # the Recorder counted optimizer steps, not batches


def test_bf16_mixed_precision_records_float32_frames(tmp_path):
    callback = RecorderCallback(_probe())
    _fit(tmp_path, [callback], epochs=1, precision="bf16-mixed")
    recording = callback.recording
    assert len(recording) == 2
    assert recording.frame("net.0", "weight_grad", -1).dtype == np.float32
    assert np.abs(recording.frame("net.0", "weight_grad", -1)).max() > 0


def test_an_exception_inside_fit_leaves_no_hook_and_keeps_the_recording(tmp_path):
    callback = RecorderCallback(_probe(), every_n_steps=1)
    with pytest.raises(RuntimeError, match="a failing training step"):
        _fit(tmp_path, [callback], fail_at=3)
    assert callback.recorder is None
    assert len(callback.recording) == 1 + 3  # the start and the three steps before the failure
    # a new fit with the same callback is refused in words rather than mixed into the same
    # recording
    with pytest.raises(RuntimeError, match="recorded a training already"):
        _fit(tmp_path, [callback])


def test_the_failed_fit_left_no_hook_on_its_model(tmp_path):
    callback = RecorderCallback(_probe(), every_n_steps=1)
    pl.seed_everything(0, verbose=False)
    model = Classifier(fail_at=2)
    x, y = _data()
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[callback],
    )
    with pytest.raises(RuntimeError):
        trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16))
    assert hooks_left(model, trainer.optimizers[0]) == []


def test_bad_options_are_refused_when_the_callback_is_made():
    with pytest.raises(TypeError, match="unknown Recorder option.*'layer'.*layers"):
        RecorderCallback(layer="net.0")
    with pytest.raises(TypeError, match="sets .*'optimizer'"):
        RecorderCallback(optimizer=None)
    with pytest.raises(ValueError, match="every_n_steps must be a positive integer"):
        RecorderCallback(every_n_steps=0)
    assert len(RecorderCallback().recording) == 0  # there before training, for a view


def test_recorder_options_pass_through(tmp_path):
    callback = RecorderCallback(_probe(), layers="net.0", path=tmp_path / "run")
    _fit(tmp_path, [callback], epochs=1)
    assert callback.recording.layers == ("net.0",)
    opened = nv.Recording.open(tmp_path / "run")
    assert len(opened) == 2


def test_an_explorer_shows_the_callbacks_recording_live(tmp_path):
    callback = RecorderCallback(_probe())
    explorer = nv.TrainingExplorer(callback)
    try:
        assert explorer.recording is callback.recording and len(explorer.recording) == 0
        _fit(tmp_path, [callback], epochs=1)
        assert len(explorer.recording) == 2
        explorer.index = 0
        explorer.layer, explorer.quantity = "net.0", "weight"
        assert not explorer.error.value
    finally:
        explorer.close(widget=True)
    assert len(callback.recording) == 2  # the explorer did not close what it does not own
