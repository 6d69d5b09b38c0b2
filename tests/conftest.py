"""Shared fixtures: a seeded RNG, deterministic torch, and a check that no hook is left behind."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator with a fixed seed."""
    return np.random.default_rng(1234)


@pytest.fixture
def deterministic():
    """Deterministic torch kernels and a fixed seed for the test, restored afterwards."""
    previous = torch.are_deterministic_algorithms_enabled()
    state = torch.get_rng_state()
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    yield
    torch.use_deterministic_algorithms(previous)
    torch.set_rng_state(state)


def hooks_left(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> list:
    """Every hook still attached to the model's modules and parameters, or to the optimizer."""
    found = []
    for name, module in model.named_modules():
        for attribute in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
            "_state_dict_hooks",
            "_load_state_dict_pre_hooks",
        ):
            if getattr(module, attribute, None):
                found.append((name or "<root>", attribute))
    for name, param in model.named_parameters():
        if param._backward_hooks:
            found.append((name, "_backward_hooks"))
        if getattr(param, "_post_accumulate_grad_hooks", None):
            found.append((name, "_post_accumulate_grad_hooks"))
    if optimizer is not None:
        for attribute in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks"):
            if getattr(optimizer, attribute):
                found.append(("optimizer", attribute))
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (``NNVIZ_REQUIRE_BROWSER=1``) a skipped browser test is a failure, never a pass."""
    outcome = yield
    report = outcome.get_result()
    required = os.environ.get("NNVIZ_REQUIRE_BROWSER") == "1"
    expected_failure = hasattr(report, "wasxfail")  # an xfail reports as skipped too
    browser = item.get_closest_marker("browser") is not None
    if required and report.skipped and browser and not expected_failure:
        report.outcome = "failed"
        report.longrepr = (
            f"NNVIZ_REQUIRE_BROWSER=1 but the browser test was skipped: {report.longrepr}"
        )


@pytest.fixture(scope="session")
def trained_lenet():
    """LeNet-5 trained two epochs on the 28 x 28 digits (a few seconds, once per session), and
    its recording: snapshots at epochs 0 (untrained), 1 and 2, whole weights in memory.

    Returns ``(model, data, recording)``; the model is in eval mode. Tests must not change it.
    """
    from nnviz_widgets import Recorder, datasets, models

    data = datasets.digits(size=28)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = models.LeNet5()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        with Recorder(model, probe=(data.probe_images, data.probe_labels)) as recorder:
            recorder.snapshot(epoch=0)
            for epoch in (1, 2):
                for x, y in data.train_loader(64, seed=epoch):
                    optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
                    recorder.step()
                recorder.snapshot(epoch=epoch)
    model.eval()
    return model, data, recorder.recording
