"""ThrottledWorker: the asking thread only marks a run due; its own thread runs the newest."""

from __future__ import annotations

import threading

import pytest

from nnviz_widgets.threads import ThrottledWorker

BACKSTOP = 10  # seconds: only a broken test waits this long


def _names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_calls_return_at_once_and_many_calls_during_a_run_make_one_more_run():
    entered, release = threading.Event(), threading.Event()
    runs = []

    def action():
        runs.append(threading.current_thread().name)
        entered.set()
        release.wait(BACKSTOP)

    worker = ThrottledWorker(action, 0.0, "test-coalesce")
    try:
        worker()
        assert entered.wait(BACKSTOP)  # running, and blocked
        for _ in range(50):
            worker()  # each returns at once, while the action waits
        assert worker.pending
        release.set()
        assert worker.wait(BACKSTOP)
        assert runs == ["nnviz-test-coalesce"] * 2  # the blocked run, then one for all fifty
        assert not worker.pending
    finally:
        release.set()
        worker.close()


def test_a_call_within_the_interval_runs_at_its_end_and_flush_runs_it_now():
    runs = []
    worker = ThrottledWorker(lambda: runs.append(1), 60.0, "test-interval")
    try:
        worker()
        assert worker.wait(BACKSTOP) and runs == [1]  # a quiet interval: at once
        worker()
        worker()
        assert worker.pending and not worker.wait(0.05)  # due in a minute
        assert worker.flush(BACKSTOP)
        assert runs == [1, 1] and not worker.pending
    finally:
        worker.close()


def test_defer_from_the_action_runs_it_again_later():
    runs = []

    def action():
        runs.append(1)
        if len(runs) < 3:
            worker.defer(0.01)

    worker = ThrottledWorker(action, 0.0, "test-defer")
    try:
        worker()
        assert worker.wait(BACKSTOP)
        assert runs == [1, 1, 1]
    finally:
        worker.close()


def test_a_failed_run_is_reported_and_the_thread_goes_on():
    errors, runs = [], []

    def action():
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("boom")

    worker = ThrottledWorker(action, 0.0, "test-error", on_error=errors.append)
    try:
        worker()
        assert worker.wait(BACKSTOP)
        worker()
        assert worker.wait(BACKSTOP)
        assert [str(error) for error in errors] == ["boom"] and runs == [1, 1]
        assert worker.alive
    finally:
        worker.close()


def test_close_ends_the_thread_drops_the_run_due_and_ignores_later_calls():
    runs = []
    worker = ThrottledWorker(lambda: runs.append(1), 60.0, "test-close")
    assert "nnviz-test-close" in _names()
    worker()
    assert worker.wait(BACKSTOP)
    worker()  # due in a minute
    assert worker.close()
    assert "nnviz-test-close" not in _names()
    worker()
    assert runs == [1] and not worker.alive
    assert worker.wait(0.1) is True  # nothing due any more
    assert worker.close()  # twice is fine


def test_refuses_a_negative_interval():
    with pytest.raises(ValueError, match="interval must be a number of seconds >= 0, got -1"):
        ThrottledWorker(lambda: None, -1, "test-bad")
