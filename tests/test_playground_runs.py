"""The Playground's kept runs: a restart keeps the run before it, which comes back exactly."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import nnviz_widgets as nv
from nnviz_widgets.widgets.playground.runs import MAX_KEPT_RUNS, RunHistory
from tests.conftest import hooks_left
from tests.test_playground import picture


@pytest.fixture
def playground():
    widget = nv.Playground("xor", hidden=(3,), n=80, seed=2, resolution=16, node_resolution=8)
    yield widget
    widget.close()


def every_boundary(widget: nv.Playground) -> list[np.ndarray]:
    return [widget.boundary(i) for i in range(widget.epochs + 1)]


def test_a_changed_setting_keeps_the_run_before_and_it_comes_back_exactly(playground):
    playground.train(3, timeout=60)
    first_run = playground._run
    before = every_boundary(playground)
    playground.snapshot = 2
    shown = picture(playground)
    playground.dataset = "circles"
    playground.activation = "relu"
    assert playground.epochs == 0 and playground.run == 3
    assert "Run 2 (0 epoch(s)) is kept" in playground._controls.status.value
    playground.train(2, timeout=60)
    assert playground.runs == [
        "run 3: circles, relu, 3, 2 epochs",
        "run 2: circles, tanh, 3, 0 epochs",
        "run 1: xor, tanh, 3, 3 epochs",
    ]
    # picked in the run list, as a user does
    playground._controls.runs.value = 1
    assert playground._run is first_run and playground.run == 1
    assert (playground.dataset, playground.activation, playground.epochs) == ("xor", "tanh", 3)
    assert playground._controls.runs.value == 1
    after = every_boundary(playground)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    playground.snapshot = 2
    assert picture(playground)[:3] == shown[:3]
    # brought back, it trains on from where it was; the run it left is paused, not grown
    playground.train(2, timeout=60)
    assert playground.epochs == 5 and playground._history.get(3).epochs == 2
    assert all(np.array_equal(a, b) for a, b in zip(before, every_boundary(playground)))


def test_the_status_counts_the_run_as_it_grows_while_scrubbed_back(playground):
    playground.train(3, timeout=60)
    playground.snapshot = 1
    playground.train(4, timeout=60)
    assert playground.snapshot == 1
    assert "<b>epoch 1</b> of 7" in playground._figures.losses.readout.value


def test_at_most_the_cap_of_runs_is_kept_and_a_dropped_run_is_said_and_closed(playground):
    playground._history.cap = 2
    playground.train(1, timeout=60)
    oldest = playground._run
    playground.seed = 3
    playground.seed = 4
    assert len(playground.runs) == 2 and playground._history.numbers == [2, 3]
    status = playground._controls.status.value
    assert "Dropped run 1: xor, tanh, 3, 1 epochs: at most 2 runs are kept" in status
    assert oldest.loop.state == "closed" and not hooks_left(oldest.model, oldest.optimizer)
    kept = r"run must be the number of a kept run \(2, 3\)"
    with pytest.raises(traitlets.TraitError, match=kept):
        playground.run = 1
    assert MAX_KEPT_RUNS >= 2


def test_closing_releases_every_kept_runs_hooks():
    widget = nv.Playground("xor", hidden=(2,), n=40, resolution=8, node_resolution=8)
    widget.train(1, timeout=60)
    widget.seed = 1
    runs = [widget._history.get(number) for number in widget._history.numbers]
    widget.close()
    assert all(run.loop.state == "closed" for run in runs)
    assert not any(hooks_left(run.model, run.optimizer) for run in runs)


def test_a_history_refuses_a_cap_below_one():
    with pytest.raises(ValueError, match="cap must be at least 1 run"):
        RunHistory(cap=0)
