"""Training from the explorer: a background thread trains while the user scrubs (issue 4)."""

from __future__ import annotations

import gc
import random
import threading
import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.render.layout import layout_frame
from tests.conftest import hooks_left

STEPS_PER_EPOCH = 6


def make(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(3 * 8 * 8, 4),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, optimizer


def epoch_function(model, optimizer, *, delay=0.0, fail_at=None):
    def train_epoch(epoch):
        if epoch == fail_at:
            raise ValueError(f"a corrupt batch in epoch {epoch}")
        generator = torch.Generator().manual_seed(100 + epoch)
        for _ in range(STEPS_PER_EPOCH):
            x = torch.randn(16, 1, 8, 8, generator=generator)
            y = torch.randint(0, 4, (16,), generator=generator)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            time.sleep(delay)
        return {"loss": float(loss.detach())}

    return train_epoch


def probe():
    generator = torch.Generator().manual_seed(7)
    return torch.randn(5, 1, 8, 8, generator=generator), torch.randint(
        0, 4, (5,), generator=generator
    )


def training_explorer(model, optimizer, *, epochs=None, **train_options):
    """An explorer that trains ``model`` from its buttons (``train_options``: see
    :func:`epoch_function`)."""
    return nv.TrainingExplorer(
        model, probe=probe(), optimizer=optimizer,
        train_epoch=epoch_function(model, optimizer, **train_options), epochs=epochs,
    )  # fmt: skip


def shown_matches_recorded(explorer) -> bool:
    """The picture on screen is the layout of exactly the recorded frame selected, or a
    missing frame's reason."""
    recording = explorer.recording
    reason = recording.missing_reason(explorer.layer, explorer.quantity, explorer.index)
    if reason is not None:
        return explorer.heatmap.picture is None and explorer.heatmap.figure.title == reason
    frame = recording.frame(explorer.layer, explorer.quantity, explorer.index)
    probe_input = recording.probe.get("input")
    expected = layout_frame(
        frame,
        explorer.quantity,
        probe_shape=None if probe_input is None else probe_input.shape,
        sample=explorer.sample,
        channel=explorer.channel,
        layer_info=recording.layer_info(explorer.layer),
    )
    shown = explorer.heatmap.picture
    return shown is not None and np.array_equal(shown.values, expected.values, equal_nan=True)


def test_scrubbing_hundreds_of_times_while_training_tears_nothing_and_changes_nothing():
    model, optimizer = make()
    explorer = training_explorer(model, optimizer, delay=0.004, epochs=12)
    rng = random.Random(0)
    explorer.training.train_button.click()
    moves = 0
    deadline = time.monotonic() + 120
    try:
        while moves < 400 or explorer.loop.state == "running":
            time.sleep(0.001)  # a person's moves leave the training thread some time
            count = len(explorer.recording)
            choice = rng.random()
            if choice < 0.5:
                explorer.index = rng.randrange(count)
            elif choice < 0.75:
                explorer.layer = rng.choice([value for _, value in explorer.layer_box.options])
            else:
                explorer.quantity = rng.choice(list(explorer.quantity_box.options))
            moves += 1
            with explorer._lock:  # no live redraw half-way through while we look
                assert explorer.error.value == "", explorer.error.value
                where = (explorer.layer, explorer.quantity, explorer.index)
                assert shown_matches_recorded(explorer), where
            if time.monotonic() > deadline:
                pytest.fail(f"training did not finish: {explorer.loop!r} after {moves} moves")
        assert explorer.loop.wait(30)
    finally:
        explorer.close()
    assert explorer.loop.epoch == 12
    assert explorer.recording.snapshots == tuple(float(e) for e in range(13))
    assert hooks_left(model, optimizer) == []
    # the same training without a widget, in a plain loop
    bare_model, bare_optimizer = make()
    train = epoch_function(bare_model, bare_optimizer)
    for epoch in range(1, 13):  # the explorer numbers epochs from 1, as its snapshots
        train(epoch)
    for a, b in zip(model.parameters(), bare_model.parameters()):
        assert torch.equal(a, b)


def test_step_pause_and_stop_from_the_widget_count_epochs_exactly():
    model, optimizer = make()
    explorer = training_explorer(model, optimizer, delay=0.01)
    assert explorer.recording.snapshots == (0.0,)  # the untrained network
    for done in (1, 2):
        explorer.training.step_button.click()
        assert explorer.loop.wait(30)
        assert explorer.loop.epoch == done
        assert len(explorer.recording) == done + 1
    explorer.training.train_button.click()
    time.sleep(0.05)
    explorer.training.pause_button.click()
    assert explorer.loop.wait(30)
    assert explorer.loop.state == "paused"
    snapshots = len(explorer.recording)
    explorer.training.stop_button.click()
    explorer.loop._thread.join(30)
    assert explorer.loop.state == "stopped"
    assert len(explorer.recording) == snapshots  # an epoch cut short is not recorded
    assert hooks_left(model, optimizer) == []  # an ended loop releases the hooks at once
    explorer.index = 0  # scrubbing still works
    assert shown_matches_recorded(explorer)
    explorer.close()


def test_an_exception_in_train_epoch_shows_and_keeps_the_snapshots():
    model, optimizer = make()
    explorer = training_explorer(model, optimizer, fail_at=2)
    explorer.training.train_button.click()
    assert explorer.loop.wait(30)
    assert explorer.loop.state == "failed"
    assert "ValueError: a corrupt batch in epoch 2" in explorer.training.error.value
    assert "failed in epoch 2" in explorer.training.status.value
    # epochs count from 1 in train_epoch, the status and the snapshots alike: the failed
    # epoch 2 left no snapshot labelled 2 (issue 13)
    assert explorer.recording.snapshots == (0.0, 1.0)
    assert explorer.loop.failed_epoch == 2
    assert hooks_left(model, optimizer) == []
    explorer._drain()
    assert explorer.index == 1
    explorer.close()


def test_closing_mid_training_ends_the_thread_and_removes_the_hooks():
    model, optimizer = make()
    explorer = training_explorer(model, optimizer, delay=0.02)
    explorer.training.train_button.click()
    time.sleep(0.1)
    thread = explorer.loop._thread
    explorer.close(widget=True)
    assert not thread.is_alive()
    assert explorer.loop.state == "closed"
    assert hooks_left(model, optimizer) == []


def test_running_the_cell_again_stops_the_previous_training():
    model, optimizer = make()
    first = training_explorer(model, optimizer, delay=0.02)
    first.training.train_button.click()
    time.sleep(0.1)
    thread = first.loop._thread
    second = training_explorer(model, optimizer)
    assert not thread.is_alive()
    assert first.loop.state == "closed"
    second.training.step_button.click()
    assert second.loop.wait(30)
    assert second.loop.epoch == 1
    second.close()
    del first, second
    gc.collect()
    assert hooks_left(model, optimizer) == []


def test_train_epoch_needs_something_to_record_into():
    with pytest.raises(TypeError, match="needs a model"):
        nv.TrainingExplorer(nv.Recording(), train_epoch=lambda epoch: None)
    with pytest.raises(TypeError, match="train_epoch must be a function"):
        nv.TrainingExplorer(nv.models.MLP(), train_epoch=3)
    with pytest.raises(TypeError, match="epochs= applies only with train_epoch"):
        nv.TrainingExplorer(nv.Recording(), epochs=3)


# ---------------------------------------------------------------------------- issue 13
def _explorer(model, optimizer, train_epoch, **options):
    return nv.TrainingExplorer(
        model, probe=probe(), optimizer=optimizer, train_epoch=train_epoch, **options
    )


def test_epochs_are_numbered_from_1_in_train_epoch_the_status_and_the_snapshots():
    model, optimizer = make()
    train = epoch_function(model, optimizer)
    given, statuses = [], []

    def train_epoch(epoch):
        given.append(epoch)
        statuses.append(explorer.training.status.value)  # drawn before the epoch ran
        return train(epoch)

    explorer = _explorer(model, optimizer, train_epoch, epochs=3)
    explorer.training.train_button.click()
    assert explorer.loop.wait(30)
    assert given == [1, 2, 3]
    assert explorer.recording.snapshots == (0.0, 1.0, 2.0, 3.0)
    assert ["training epoch 1" in s for s in statuses] == [True, False, False]
    assert "training epoch 3" in statuses[2]
    # the epochs asked for are done: "done", and Train (for three more), not Resume
    assert "done: 3 epoch(s) trained" in explorer.training.status.value
    assert explorer.training.train_button.description == "Train"
    explorer.training.train_button.click()
    assert explorer.loop.wait(30)
    assert given == [1, 2, 3, 4, 5, 6]
    assert explorer.recording.snapshots[-1] == 6.0
    explorer.close()


def test_a_metric_named_epoch_is_recorded_renamed_with_a_warning():
    model, optimizer = make()
    train = epoch_function(model, optimizer)
    explorer = _explorer(model, optimizer, lambda epoch: {**train(epoch), "epoch": epoch})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # process-wide: the training thread's too
        explorer.training.step_button.click()
        assert explorer.loop.wait(30)
    assert explorer.loop.state == "paused", explorer.loop.traceback  # not "multiple values"
    assert explorer.recording.metric("epoch_metric")[-1] == 1.0
    assert "epoch" not in explorer.recording.metric_names
    assert any("a metric named 'epoch'" in str(w.message) for w in caught)
    explorer.close()


def test_numpy_metrics_are_recorded_and_an_array_fails_in_words():
    model, optimizer = make()
    train = epoch_function(model, optimizer)

    def numpy_metrics(epoch):
        loss = train(epoch)["loss"]
        return {"loss": np.float32(loss), "accuracy": np.array(0.5), "top5": torch.tensor(0.9)}

    explorer = _explorer(model, optimizer, numpy_metrics)
    explorer.training.step_button.click()
    assert explorer.loop.wait(30)
    assert explorer.loop.state == "paused", explorer.loop.traceback
    assert explorer.recording.metric("accuracy")[-1] == 0.5
    assert explorer.recording.metric("top5")[-1] == pytest.approx(0.9)
    explorer.close()
    model, optimizer = make()
    explorer = _explorer(model, optimizer, lambda epoch: {"per_class": np.zeros(4)})
    explorer.training.step_button.click()
    assert explorer.loop.wait(30)
    assert explorer.loop.state == "failed"
    assert "metric &#x27;per_class&#x27; as an array of shape (4,)" in explorer.training.error.value
    assert explorer.recording.snapshots == (0.0,)  # the failed epoch 1 left no snapshot
    explorer.close()


def test_close_while_an_epoch_never_returns_does_not_block_and_releases_the_hooks_after():
    model, optimizer = make()
    entered, release, closed = threading.Event(), threading.Event(), threading.Event()

    def stuck(epoch):
        entered.set()
        release.wait(60)  # never reaches an optimizer step until released
        return {}

    explorer = _explorer(model, optimizer, stuck)
    explorer.training.train_button.click()
    assert entered.wait(10)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        threading.Thread(target=lambda: (explorer.close(), closed.set())).start()
        assert closed.wait(10), "close() blocked on an epoch that never returns (was 30 s)"
    assert explorer.training.comm is not None  # the controls stay, all disabled
    assert explorer.training.train_button.disabled and explorer.training.stop_button.disabled
    release.set()
    explorer.loop._thread.join(10)
    assert explorer.recording.snapshots == (0.0,)  # the cut epoch is not recorded
    assert hooks_left(model, optimizer) == []  # released as the thread ended


def test_close_keeps_the_training_controls_on_screen():
    model, optimizer = make()
    explorer = training_explorer(model, optimizer)
    explorer.training.step_button.click()
    assert explorer.loop.wait(30)
    widgets = explorer._all_widgets()
    assert explorer.training in widgets
    explorer.close()
    assert [type(w).__name__ for w in widgets if w.comm is None] == []
    assert "closed after 1 epoch(s)" in explorer.training.status.value
    assert hooks_left(model, optimizer) == []
    explorer.index = 0  # still scrubs
    assert "epoch 0" in explorer.heatmap.figure.title
    explorer.close(widget=True)
    assert all(w.comm is None for w in widgets)
