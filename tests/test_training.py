"""TrainingLoop: play, pause, step and stop in a background thread, with exact epoch counts."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import warnings

import pytest
import torch
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.training import TrainingLoop
from tests.conftest import hooks_left


class Setup:
    """A tiny model, its optimizer, and an epoch function that records what ran."""

    def __init__(self, steps_per_epoch=5, delay=0.0):
        torch.manual_seed(0)
        self.model = nv.models.MLP((4, 8, 3))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.steps_per_epoch = steps_per_epoch
        self.delay = delay
        self.epochs_seen = []
        self.steps = 0
        self.gate = threading.Event()
        self.gate.set()

    def train_epoch(self, epoch):
        generator = torch.Generator().manual_seed(epoch)
        for _ in range(self.steps_per_epoch):
            self.gate.wait()
            x = torch.randn(16, 4, generator=generator)
            y = torch.randint(0, 3, (16,), generator=generator)
            self.optimizer.zero_grad()
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            self.steps += 1
            time.sleep(self.delay)
        self.epochs_seen.append(epoch)
        return {"loss": float(loss.detach())}


def test_start_with_a_count_trains_exactly_that_many_epochs_then_pauses():
    s = Setup()
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer)
    assert loop.state == "idle"
    loop.start(epochs=3)
    assert loop.wait(10)
    assert loop.state == "paused"
    assert loop.epoch == 3
    assert s.epochs_seen == [0, 1, 2]
    assert loop.steps_per_epoch == 5
    loop.close()
    assert loop.state == "closed"
    assert hooks_left(s.model, s.optimizer) == []


def test_step_trains_exactly_one_epoch_each_time():
    s = Setup()
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer, first_epoch=10)
    for expected in (1, 2, 3):
        loop.step()
        assert loop.wait(10)
        assert loop.state == "paused"
        assert loop.epoch == expected
    assert s.epochs_seen == [10, 11, 12]
    assert s.steps == 15
    loop.close()


def test_pause_takes_effect_at_the_next_step_and_resume_continues():
    s = Setup(steps_per_epoch=50, delay=0.002)
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer)
    loop.start()
    while s.steps < 3:
        time.sleep(0.001)
    loop.pause()
    assert loop.wait(10)
    steps_at_pause = s.steps
    time.sleep(0.1)
    assert s.steps == steps_at_pause  # really paused, mid-epoch
    assert loop.state == "paused"
    assert loop.epoch == 0
    assert 0 < loop.step_in_epoch < 50
    loop.step()  # from a pause mid-epoch: finish this epoch, then pause
    assert loop.wait(10)
    assert loop.epoch == 1
    assert s.steps == 50
    loop.close()


def test_stop_ends_mid_epoch_cleanly_and_cannot_restart():
    s = Setup(steps_per_epoch=1000, delay=0.001)
    epochs_recorded = []
    loop = TrainingLoop(
        s.train_epoch, optimizer=s.optimizer, on_epoch=lambda e, m: epochs_recorded.append(e)
    )
    loop.start()
    while s.steps < 5:
        time.sleep(0.001)
    loop.stop()
    assert loop.state == "stopped"
    assert not loop.alive
    assert s.steps < 1000
    assert epochs_recorded == []  # the cut epoch was not reported as done
    with pytest.raises(RuntimeError, match="stopped and cannot be restarted"):
        loop.start()
    loop.close()


def test_stop_while_paused_ends_the_thread():
    s = Setup()
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer)
    loop.step()
    assert loop.wait(10)
    assert loop.alive
    loop.stop()
    assert not loop.alive
    assert loop.state == "stopped"


def test_an_exception_in_train_epoch_fails_the_loop_and_keeps_what_was_recorded():
    s = Setup()
    with nv.Recorder(s.model, probe=torch.zeros(2, 4), optimizer=s.optimizer) as rec:

        def train_epoch(epoch):
            if epoch == 2:
                raise ValueError("bad batch in epoch 2")
            return s.train_epoch(epoch)

        loop = TrainingLoop(
            train_epoch, optimizer=s.optimizer, on_epoch=lambda e, m: rec.snapshot(epoch=e, **m)
        )
        loop.start()
        assert loop.wait(10)
        assert loop.state == "failed"
        assert isinstance(loop.error, ValueError)
        assert "bad batch in epoch 2" in loop.traceback
        assert "train_epoch" in loop.traceback
        assert rec.recording.snapshots == (0.0, 1.0)
        loop.close()
    assert hooks_left(s.model, s.optimizer) == []


def test_listeners_see_states_and_epochs_and_cannot_break_training():
    s = Setup()
    events = []
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer)
    loop.add_listener(lambda lp, event: events.append((event, lp.state, lp.epoch)))

    def broken(lp, event):
        raise RuntimeError("a view failed")

    loop.add_listener(broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # process-wide: catches the training thread's too
        loop.start(epochs=2)
        assert loop.wait(10)
    assert any(
        "training-loop listener" in str(w.message) and "failed and was ignored" in str(w.message)
        for w in caught
    )
    assert loop.epoch == 2
    assert ("epoch", "running", 1) in events
    assert ("epoch", "running", 2) in events
    assert events[-1] == ("state", "paused", 2)
    assert sum(1 for e in events if e[0] == "step") == 10
    loop.close()


def test_training_in_the_loop_is_bit_identical_to_a_plain_loop():
    plain = Setup()
    for epoch in range(3):
        plain.train_epoch(epoch)
    threaded = Setup()
    loop = TrainingLoop(threaded.train_epoch, optimizer=threaded.optimizer)
    loop.start(epochs=3)
    assert loop.wait(10)
    loop.close()
    for a, b in zip(plain.model.parameters(), threaded.model.parameters()):
        assert torch.equal(a, b)


def test_without_an_optimizer_pause_acts_at_the_epoch_boundary():
    s = Setup(delay=0.01)
    loop = TrainingLoop(s.train_epoch)
    loop.start()
    time.sleep(0.02)
    loop.pause()
    assert loop.wait(10)
    assert loop.state == "paused"
    assert s.steps == 5 * loop.epoch  # whole epochs only
    loop.close()


def test_a_kernel_interrupt_stops_background_training():
    s = Setup(steps_per_epoch=10_000, delay=0.001)
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer)
    loop.start()
    while s.steps < 3:
        time.sleep(0.001)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler runs in the main thread between bytecodes
    loop._thread.join(10)
    assert loop.state == "stopped"
    loop.close()
    assert hooks_left(s.model, s.optimizer) == []


def test_bad_arguments():
    with pytest.raises(TypeError, match="train_epoch must be a function"):
        TrainingLoop(3)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        TrainingLoop(lambda e: None, optimizer="adam")
    loop = TrainingLoop(lambda e: None)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        loop.start(epochs=0)
    loop.close()


def test_a_non_dict_return_fails_in_words():
    loop = TrainingLoop(lambda e: 0.5)
    loop.start()
    assert loop.wait(10)
    assert loop.state == "failed"
    assert "must return a dict of metrics or None, got float" in str(loop.error)
    loop.close()


# ---------------------------------------------------------------------------- issue 13
def test_numpy_metrics_are_floats_and_arrays_are_refused_in_words():
    import numpy as np

    from nnviz_widgets.training import checked_metrics

    metrics = {"a": np.float32(0.5), "b": np.array(2.0), "c": torch.tensor(3.0), "d": 4}
    assert checked_metrics(metrics) == {"a": 0.5, "b": 2.0, "c": 3.0, "d": 4.0}
    assert all(type(value) is float for value in checked_metrics(metrics).values())
    assert checked_metrics(None) == {}
    refused = [
        ({"per_class": np.zeros(3)}, "metric 'per_class' as an array of shape (3,)"),
        ({"x": torch.zeros(2, 2)}, "metric 'x' as an array of shape (2, 2)"),
        ({"ok": True}, "metric 'ok' = True (bool): a metric must be a single number"),
        ({"name": "x"}, "metric 'name' = 'x' (str)"),
        ({3: 1.0}, "a metric named 3: names must be strings"),
        (np.zeros(3), "must return a dict of metrics or None, got ndarray"),
    ]
    for metrics, message in refused:
        with pytest.raises(TypeError, match=re.escape(message)):
            checked_metrics(metrics)


def test_a_numpy_array_returned_fails_the_loop_in_words_not_ambiguity():
    import numpy as np

    loop = TrainingLoop(lambda epoch: np.array([0.1, 0.2]))
    loop.start()
    assert loop.wait(10)
    assert loop.state == "failed"
    assert "must return a dict of metrics or None, got ndarray" in str(loop.error)
    assert loop.failed_epoch == 0
    loop.close()


def test_metrics_reach_on_epoch_as_floats():
    import numpy as np

    seen = []
    loop = TrainingLoop(
        lambda epoch: {"loss": np.float64(0.25), "acc": np.array(0.5)},
        on_epoch=lambda epoch, metrics: seen.append((epoch, metrics)),
        first_epoch=1,
    )
    loop.start(epochs=2)
    assert loop.wait(10)
    assert seen == [(1, {"loss": 0.25, "acc": 0.5}), (2, {"loss": 0.25, "acc": 0.5})]
    assert {type(value) for _, metrics in seen for value in metrics.values()} == {float}
    loop.close()


def test_close_returns_at_once_while_an_epoch_never_returns():
    entered, release, closed = threading.Event(), threading.Event(), threading.Event()
    reported, events = [], []

    def train_epoch(epoch):
        entered.set()
        release.wait(60)  # an epoch stuck outside any optimizer step (a data loader, I/O)
        return {"loss": 1.0}

    loop = TrainingLoop(train_epoch, on_epoch=lambda e, m: reported.append(e))
    loop.add_listener(lambda lp, event: events.append(event))
    loop.start()
    assert entered.wait(10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        closer = threading.Thread(target=lambda: (loop.close(), closed.set()))
        closer.start()
        # was 30 s (stop()'s join); now at most CLOSE_WAIT: 10 s is only the backstop
        assert closed.wait(10), "close() blocked on an epoch that never returns"
    assert any("did not end within 1 s" in str(w.message) for w in caught)
    assert loop.state == "closed" and loop.alive
    release.set()  # the epoch ends at last: neither counted nor reported, the thread ends
    loop._thread.join(10)
    assert not loop.alive
    assert reported == [] and loop.epoch == 0
    assert loop.state == "closed"
    assert events[-1] == "ended"


def test_a_failure_in_on_epoch_names_the_epoch_it_failed_in():
    def on_epoch(epoch, metrics):
        if epoch == 2:
            raise RuntimeError("the snapshot failed")

    loop = TrainingLoop(lambda epoch: {}, on_epoch=on_epoch, first_epoch=1)
    loop.start()
    assert loop.wait(10)
    assert loop.state == "failed"
    assert loop.failed_epoch == 2
    loop.close()


def test_pause_at_says_where_the_loop_pauses_by_itself():
    s = Setup()
    loop = TrainingLoop(s.train_epoch, optimizer=s.optimizer)
    assert loop.pause_at is None
    loop.start(epochs=2)
    assert loop.wait(10)
    assert (loop.pause_at, loop.epoch, loop.state) == (2, 2, "paused")
    loop.step()
    assert loop.wait(10)
    assert loop.pause_at == 3
    loop.close()
