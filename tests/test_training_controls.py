"""TrainingControls: the buttons drive the loop, and the loop's state shows in the widget."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.widgets.training_controls import TrainingControls


def make_loop(fail_at=None, delay=0.0):
    torch.manual_seed(0)
    model = nv.models.MLP((4, 8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_epoch(epoch):
        if epoch == fail_at:
            raise ValueError(f"broken batch in epoch {epoch}")
        for _ in range(4):
            optimizer.zero_grad()
            F.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,))).backward()
            optimizer.step()
            time.sleep(delay)
        return {"loss": 1.0}

    return TrainingLoop(train_epoch, optimizer=optimizer)


def enabled(controls):
    return tuple(
        not b.disabled
        for b in (
            controls.train_button,
            controls.pause_button,
            controls.step_button,
            controls.stop_button,
        )
    )


def test_buttons_follow_the_state_and_drive_the_loop():
    loop = make_loop()
    controls = TrainingControls(loop, epochs=2)
    assert enabled(controls) == (True, False, True, False)
    assert "ready" in controls.status.value
    controls.step_button.click()
    assert loop.wait(10)
    assert loop.epoch == 1
    assert enabled(controls) == (True, False, True, True)
    # the epoch asked for is done: "done", and Train (not Resume) trains more (issue 13)
    assert controls.train_button.description == "Train"
    assert controls.progress.value == 1
    assert "done: 1 epoch(s) trained" in controls.status.value
    controls.train_button.click()  # two more epochs, then pause
    assert loop.wait(10)
    assert loop.epoch == 3
    assert "done: 3 epoch(s) trained" in controls.status.value
    assert (controls.progress.value, controls.progress.max) == (3, 3)
    assert controls.train_button.description == "Train"
    assert controls.progress.description == "epoch 3"
    assert controls.step_progress.description == "step 4/4"
    controls.stop_button.click()
    loop._thread.join(10)
    assert loop.state == "stopped"
    assert enabled(controls) == (False, False, False, False)
    controls.close()
    loop.close()


def test_pause_button_pauses_a_running_loop():
    loop = make_loop(delay=0.01)
    controls = TrainingControls(loop)
    controls.train_button.click()
    time.sleep(0.05)
    assert enabled(controls) == (False, True, False, True)
    controls.pause_button.click()
    assert loop.wait(10)
    assert loop.state == "paused"
    loop.close()


def test_a_failure_shows_the_traceback_in_words():
    loop = make_loop(fail_at=1)
    controls = TrainingControls(loop)
    controls.train_button.click()
    assert loop.wait(10)
    assert loop.state == "failed"
    assert "ValueError: broken batch in epoch 1" in controls.error.value
    assert "Traceback" in controls.error.value
    assert "every snapshot taken so far is kept" in controls.error.value
    assert "var(--jp-error-color1" in controls.error.value  # the theme's error colour
    assert "failed in epoch 1" in controls.status.value
    loop.close()


def test_bad_arguments():
    with pytest.raises(TypeError, match="needs a TrainingLoop"):
        TrainingControls("loop")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        TrainingControls(make_loop(), epochs=0)


def test_resume_after_a_pause_trains_the_rest_of_what_was_asked():
    """Train 4 epochs, pause in the second: Resume trains up to 4, not 4 more (issue 13)."""
    entered, gate = threading.Event(), threading.Event()
    torch.manual_seed(0)
    model = nv.models.MLP((4, 8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_epoch(epoch):
        for _ in range(3):
            if epoch == 1:
                entered.set()
                gate.wait(10)
            optimizer.zero_grad()
            F.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,))).backward()
            optimizer.step()
        return {"loss": 1.0}

    loop = TrainingLoop(train_epoch, optimizer=optimizer)
    controls = TrainingControls(loop, epochs=4)
    controls.train_button.click()
    assert entered.wait(10)
    controls.pause_button.click()  # acts at the next step of epoch 1
    gate.set()
    assert loop.wait(10)
    assert (loop.state, loop.epoch) == ("paused", 1)
    assert controls.train_button.description == "Resume"
    assert "paused after 1 epoch(s)" in controls.status.value
    controls.train_button.click()
    assert loop.wait(10)
    assert loop.epoch == 4
    assert "done: 4 epoch(s) trained" in controls.status.value
    assert (controls.progress.value, controls.progress.max) == (4, 4)
    loop.close()


def test_close_keeps_the_widget_and_shows_the_closed_loop():
    loop = make_loop()
    controls = TrainingControls(loop)
    children = [controls, *controls.children, *controls.children[0].children]
    loop.close()
    controls.close(widget=False)
    assert all(widget.comm is not None for widget in children)
    assert enabled(controls) == (False, False, False, False)
    assert "closed" in controls.status.value
    controls.close()
    assert all(widget.comm is None for widget in children)
