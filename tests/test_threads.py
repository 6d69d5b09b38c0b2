"""The threads toolkit: throttle, worker, repeater, listeners and the thread-safe link."""

from __future__ import annotations

import threading
import time
import warnings

import ipywidgets
import pytest
import traitlets

from nnviz_widgets.threads import Listeners, Repeater, Throttle, Worker, warn_quietly
from nnviz_widgets.threads.controls import Link, LockedIntSlider


def test_throttle_runs_at_once_after_a_quiet_interval_and_defers_the_rest():
    runs = []
    throttle = Throttle(lambda: runs.append(threading.current_thread()), 0.2)
    throttle()
    assert runs == [threading.current_thread()]  # at once, in the calling thread
    for _ in range(5):
        throttle()  # within the interval: one deferred run for all five
    assert len(runs) == 1 and throttle.pending
    assert throttle.wait(2.0)
    assert len(runs) == 2 and runs[1] is not threading.current_thread()
    assert not throttle.pending


def test_throttle_flush_runs_the_deferred_call_now_and_close_cancels():
    runs = []
    throttle = Throttle(lambda: runs.append(1), 10.0)
    throttle()
    throttle()
    assert runs == [1] and throttle.pending
    throttle.flush()
    assert runs == [1, 1] and not throttle.pending
    throttle.flush()  # nothing due: nothing runs
    assert runs == [1, 1]
    throttle()
    assert throttle.pending
    throttle.close()
    assert not throttle.pending
    throttle()
    time.sleep(0.05)
    assert runs == [1, 1]


def test_throttle_wait_covers_a_run_in_progress():
    started, release = threading.Event(), threading.Event()
    done = []

    def slow() -> None:
        started.set()
        release.wait(5)
        done.append(1)

    throttle = Throttle(slow, 0.0)
    throttle.defer(0.0)
    assert started.wait(2)
    assert not throttle.wait(0.05)  # the action is still running
    release.set()
    assert throttle.wait(2) and done == [1]


def test_throttle_refuses_a_negative_interval():
    with pytest.raises(ValueError, match="interval"):
        Throttle(lambda: None, -1)


def test_worker_runs_jobs_in_order_and_bounds_its_queue():
    order = []
    gate = threading.Event()
    worker = Worker("test", max_pending=1)
    worker.submit(lambda: gate.wait(5))
    worker.submit(lambda: order.append(1))
    blocked = threading.Thread(target=lambda: worker.submit(lambda: order.append(2)))
    blocked.start()
    blocked.join(0.1)
    assert blocked.is_alive()  # the queue is full: the submitter waits
    gate.set()
    blocked.join(2)
    worker.close()
    assert order == [1, 2]
    assert not worker.alive and worker.submit(lambda: order.append(3)) is False


def test_worker_close_can_drop_pending_jobs_and_survives_a_failed_job():
    ran = []
    gate = threading.Event()
    worker = Worker("test")
    worker.submit(lambda: gate.wait(5))
    for k in range(5):
        worker.submit(lambda k=k: ran.append(k))
    gate.set()
    worker.close(cancel_pending=True)
    assert len(ran) < 5

    survivor = Worker("test")
    with pytest.warns(RuntimeWarning, match="ZeroDivisionError"):
        survivor.submit(lambda: 1 / 0)
        survivor.submit(lambda: ran.append("after"))
        survivor.close()
    assert ran[-1] == "after"


def test_repeater_repeats_until_its_job_says_no():
    calls = []
    repeater = Repeater(lambda: calls.append(1) or len(calls) < 3, 0.01, "test")
    deadline = time.monotonic() + 5
    while repeater.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [1, 1, 1]
    errors = []
    failing = Repeater(lambda: 1 / 0, 0.01, "test", on_error=errors.append)
    time.sleep(0.1)
    failing.stop()
    assert errors and isinstance(errors[0], ZeroDivisionError)
    with pytest.raises(ValueError, match="positive"):
        Repeater(lambda: None, 0, "test")


def test_listeners_turn_a_failure_into_a_warning_that_names_the_listener():
    listeners = Listeners("a test listener")
    seen = []

    def broken(value):
        raise ValueError("nope")

    listeners.add(broken)
    listeners.add(seen.append)
    with pytest.warns(RuntimeWarning, match="a test listener .*broken.* ValueError: nope"):
        listeners.emit(7)
    assert seen == [7]
    listeners.remove(broken)
    listeners.remove(broken)  # twice is fine
    listeners.emit(8)
    assert seen == [7, 8] and len(listeners) == 1
    with pytest.raises(TypeError, match="callable"):
        listeners.add(3)


def test_warn_quietly_never_raises_where_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_quietly("quiet")  # would raise with warnings.warn


class _Owner(traitlets.HasTraits):
    value = traitlets.Int(0)

    @traitlets.validate("value")
    def _check(self, proposal):
        if proposal["value"] > 100:
            raise traitlets.TraitError("too big")
        return proposal["value"]


def test_link_copies_both_ways_with_a_transform_and_reverts_a_refused_value():
    lock = threading.RLock()
    owner = _Owner(value=3)
    box = ipywidgets.Text()
    errors = []
    Link((owner, "value"), (box, "value"), lock, transform=(str, int), on_error=errors.append)
    assert box.value == "3"
    box.value = "12"
    assert owner.value == 12
    owner.value = 5
    assert box.value == "5"
    box.value = "500"  # the owner's validator refuses it: the box shows the truth again
    assert owner.value == 5 and box.value == "5"
    assert "too big" in str(errors[0])


def test_link_loses_no_change_made_from_two_threads():
    lock = threading.RLock()
    owner = _Owner()
    slider = LockedIntSlider(lock, min=0, max=100)
    Link((owner, "value"), (slider, "value"), lock)

    def from_training() -> None:
        for k in range(200):
            owner.value = k % 50

    thread = threading.Thread(target=from_training)
    thread.start()
    for k in range(200):
        slider.set_state({"value": 50 + k % 50})  # as the browser does
    thread.join()
    assert owner.value == slider.value  # both ends agree on the last value, whoever set it


def test_at_exit_every_worker_is_told_to_stop_and_its_running_job_ends():
    """A daemon thread left running while the interpreter exits is cut off wherever it is
    (inside torch, that aborts the process): at exit a worker is closed, and a long job that
    checks ``closed`` ends before the interpreter does."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import threading
        from nnviz_widgets.threads import Worker

        started = threading.Event()
        worker = Worker("exit-test")

        def long_job():
            started.set()
            while not worker.closed:
                threading.Event().wait(0.01)
            print("the job saw the exit and ended", flush=True)

        worker.submit(long_job)
        worker.submit(lambda: print("a queued job ran", flush=True))
        assert started.wait(30)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the job saw the exit and ended"]  # queued: dropped
