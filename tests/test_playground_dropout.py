"""Dropout in the Playground: active in training only, from the run's own random numbers, and
the pictures are the network without it (as it predicts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

import nnviz_widgets as nv
from nnviz_widgets.widgets.playground.run import SeededDropout
from tests.test_playground import torch_model


@pytest.fixture
def playground():
    widget = nv.Playground("xor", hidden=(6,), n=80, dropout=0.5, resolution=16, node_resolution=8)
    yield widget
    widget.close()


def test_dropout_is_in_the_model_and_active_in_training_only(playground):
    drops = [m for m in playground.model if isinstance(m, SeededDropout)]
    assert len(drops) == 1 and drops[0].p == 0.5
    x = playground._run.inputs["train"][:20]
    playground.model.train()
    with torch.no_grad():
        first, second = playground.model(x), playground.model(x)
    assert not torch.equal(first, second)  # a new mask each call
    playground.model.eval()
    with torch.no_grad():
        assert torch.equal(playground.model(x), playground.model(x))
    playground.model.train()
    # the recorded losses are the network without dropout, as the pictures draw it
    playground.train(2, timeout=60)
    eval_model = torch_model(playground, 2)
    with torch.no_grad():
        logits = eval_model(playground._run.inputs["test"])[:, 0]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, playground.data.test_y.float()
    )
    assert float(playground.recording.metric("test_loss")[2]) == pytest.approx(float(loss), 1e-5)
    assert playground.model.training  # evaluating put the mode back


def test_dropout_leaves_the_users_random_state_alone_and_is_reproducible():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    weights = []
    for _ in range(2):
        widget = nv.Playground("xor", hidden=(4,), n=60, dropout=0.3, resolution=8)
        widget.train(2, timeout=60)
        weights.append(np.array(widget.weights(2)[0][0]))
        widget.close()
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(weights[0], weights[1])


def test_a_dropout_change_starts_a_new_run_and_rewind_keeps_the_past(playground):
    playground.train(2, timeout=60)
    past = playground.boundary(2)
    menu = next(c for c in playground._controls._widgets if c.description == "dropout")
    menu.value = 0.0
    assert playground.dropout == 0.0 and playground.epochs == 0
    assert not any(isinstance(m, SeededDropout) for m in playground.model)
    playground.run = 1
    assert playground.dropout == 0.5 and np.array_equal(playground.boundary(2), past)
    with pytest.raises(traitlets.TraitError, match="dropout must be from 0"):
        playground.dropout = 1.0
