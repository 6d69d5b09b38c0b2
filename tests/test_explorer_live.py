"""Live updates: the appending (training) thread only asks; the explorer draws in nnviz-live."""

from __future__ import annotations

import threading
import warnings

import pytest

from nnviz_widgets.recording import Recording
from nnviz_widgets.widgets.explorer import TrainingExplorer, health
from tests.test_explorer import _declare, _snapshot

BACKSTOP = 10  # seconds: only a broken test waits this long


@pytest.fixture
def recording(rng):
    recording = Recording()
    _declare(recording)
    recording.append_snapshot(_snapshot(rng, 0))
    return recording


class BlockingDraw:
    """Wraps the heatmap's ``show``: records the drawing thread, and blocks until released."""

    def __init__(self, explorer: TrainingExplorer) -> None:
        self.real = explorer.heatmap.show
        self.entered, self.release = threading.Event(), threading.Event()
        self.threads: list[str] = []
        explorer.heatmap.show = self

    def __call__(self, *args, **kwargs):
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        self.release.wait(BACKSTOP)
        return self.real(*args, **kwargs)


def _live_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "nnviz-live"]


def test_the_appending_thread_returns_while_the_draw_waits_in_the_explorer_thread(recording, rng):
    explorer = TrainingExplorer(recording, min_interval=0.0)
    draw = BlockingDraw(explorer)
    try:
        recording.append_snapshot(_snapshot(rng, 1))  # returns: the draw below is blocked
        assert draw.entered.wait(BACKSTOP)
        assert draw.threads == ["nnviz-live"]
        assert not draw.release.is_set()
        draw.release.set()
        assert explorer._drain(BACKSTOP)
        assert explorer.index == 1 and explorer.slider.max == 1
        assert "epoch 1" in explorer.heatmap.figure.title
    finally:
        draw.release.set()
        explorer.close(widget=True)


def test_many_appends_during_a_draw_make_one_more_draw(recording, rng):
    explorer = TrainingExplorer(recording, min_interval=0.0)
    draw = BlockingDraw(explorer)
    try:
        recording.append_snapshot(_snapshot(rng, 1))
        assert draw.entered.wait(BACKSTOP)
        for epoch in range(2, 22):  # twenty snapshots while the first draw waits
            recording.append_snapshot(_snapshot(rng, epoch))
        draw.release.set()
        assert explorer._drain(BACKSTOP)
        # one catch-up for the first snapshot, one for the twenty (a catch-up may show the
        # picture twice: once as the selection moves, once as it draws)
        assert 2 <= len(draw.threads) <= 4, draw.threads
        assert set(draw.threads) == {"nnviz-live"}
        assert explorer.index == 21 and explorer.slider.max == 21
        assert "epoch 21" in explorer.heatmap.figure.title
    finally:
        draw.release.set()
        explorer.close(widget=True)


def test_close_ends_the_live_thread(recording):
    before = set(_live_threads())
    explorer = TrainingExplorer(recording, min_interval=0.0)
    (mine,) = set(_live_threads()) - before
    explorer.close(widget=True)
    assert not mine.is_alive()  # joined by close(), not left behind
    assert mine not in _live_threads()


def test_a_failing_live_draw_is_shown_and_training_goes_on(recording, rng):
    explorer = TrainingExplorer(recording, min_interval=0.0)
    real = explorer.heatmap.show

    def broken(*args, **kwargs):
        raise RuntimeError("the picture exploded")

    explorer.heatmap.show = broken
    errors = []

    def train():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warning reaching training would raise
                for epoch in (1, 2):
                    recording.append_snapshot(_snapshot(rng, epoch))
        except BaseException as error:
            errors.append(error)

    try:
        thread = threading.Thread(target=train)
        thread.start()
        thread.join(BACKSTOP)
        assert explorer._drain(BACKSTOP)
        assert errors == [] and len(recording) == 3  # training went on
        assert "the picture exploded" in explorer.error.value
        explorer.heatmap.show = real
        recording.append_snapshot(_snapshot(rng, 3))  # the live thread outlived the failure
        assert explorer._drain(BACKSTOP)
        assert explorer.index == 3 and "epoch 3" in explorer.heatmap.figure.title
    finally:
        explorer.close(widget=True)


def test_the_health_panel_only_queues_in_the_appending_thread(recording, rng, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    threads = []
    real = health.diagnose

    def blocking(recording):
        threads.append(threading.current_thread().name)
        entered.set()
        release.wait(BACKSTOP)
        return real(recording)

    monkeypatch.setattr(health, "diagnose", blocking)
    explorer = TrainingExplorer(recording, min_interval=0.0)
    try:
        explorer.health.interval = 0.0
        assert entered.wait(BACKSTOP)  # the first diagnosis, blocked in its thread
        recording.append_snapshot(_snapshot(rng, 1))  # returns although the diagnosis waits
        release.set()
        assert explorer.health.wait(BACKSTOP)
        assert "2 snapshots" in explorer.health.strip.value
        assert set(threads) == {"nnviz-health"}
    finally:
        release.set()
        explorer.close(widget=True)


@pytest.mark.parametrize("bad", [-1, float("nan"), "soon"])
def test_a_bad_min_interval_is_refused_before_anything_starts(recording, bad):
    before = set(threading.enumerate())
    with pytest.raises(ValueError, match=r"min_interval must be a number of seconds >= 0, got"):
        TrainingExplorer(recording, min_interval=bad)
    started = {thread.name for thread in set(threading.enumerate()) - before}
    assert not {name for name in started if name.startswith("nnviz-")}
