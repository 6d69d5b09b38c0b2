"""Feature visualization: it finds inputs a unit likes far more than any probe digit, is
deterministic for a seed, leaves the model and torch's random state alone, and reads a recorded
snapshot's weights (or says clearly why it cannot)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnviz_widgets import Recorder, models
from nnviz_widgets.understand import SnapshotWeightsError, feature_visualization
from nnviz_widgets.understand.objective import layer_output, unit_activations
from tests.conftest import hooks_left


def _probe_best(model, layer, images):
    module = dict(model.named_modules())[layer]
    with torch.no_grad():
        return unit_activations(layer_output(model, module, images)).max(dim=0).values.numpy()


def test_units_are_excited_far_more_than_by_any_probe_digit(trained_lenet):
    model, data, _ = trained_lenet
    features = feature_visualization(model, "conv2", probe=data.probe_images, seed=0)
    assert features.images.shape == (16, 1, 28, 28)
    assert features.units == tuple(range(16))
    best = _probe_best(model, "conv2", data.probe_images)
    liked = best > 0  # a channel no digit excites has no meaningful ratio
    ratios = features.activations[liked] / best[liked]
    assert liked.sum() >= 12
    assert np.median(ratios) > 2.0, ratios
    assert ratios.min() > 1.5, ratios
    low, high = features.value_range
    assert (low, high) == (float(data.probe_images.min()), float(data.probe_images.max()))
    assert features.images.min() >= low and features.images.max() <= high


def test_a_central_neuron_wants_a_pattern_inside_its_receptive_field(trained_lenet):
    model, data, _ = trained_lenet
    features = feature_visualization(model, "conv1", probe=data.probe_images, where="center")
    middle = sum(features.value_range) / 2
    away = np.abs(features.images - middle)
    # conv1's central neuron sees the 5 x 5 patch around (14, 14): the picture is there
    inside = away[:, :, 12:17, 12:17].mean(axis=(1, 2, 3))
    outside = np.concatenate([away[:, :, :6].reshape(6, -1), away[:, :, -6:].reshape(6, -1)], 1)
    assert (inside > 4 * outside.mean(axis=1)).all(), (inside, outside.mean(axis=1))


def test_a_linear_unit_and_a_chosen_subset(trained_lenet):
    model, data, _ = trained_lenet
    features = feature_visualization(model, "fc3", [3, 7], probe=data.probe_images, steps=64)
    assert features.units == (3, 7)
    best = _probe_best(model, "fc3", data.probe_images)[[3, 7]]
    assert (features.activations > 1.3 * best).all(), (features.activations, best)


def test_same_seed_same_images_other_seed_other_images(trained_lenet):
    model, data, _ = trained_lenet
    run = {"probe": data.probe_images, "steps": 16}
    first = feature_visualization(model, "conv1", seed=3, **run)
    again = feature_visualization(model, "conv1", seed=3, **run)
    other = feature_visualization(model, "conv1", seed=4, **run)
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)


def test_model_and_global_random_state_are_left_alone(trained_lenet):
    model, data, _ = trained_lenet
    kept_grad = model.fc1.weight.grad  # the shared fixture's, put back at the end
    model.train()  # a mode that differs from the eval mode the work runs in
    model.conv1.weight.requires_grad_(False)
    model.fc1.weight.grad = torch.ones_like(model.fc1.weight)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    grads = {
        name: None if p.grad is None else p.grad.clone() for name, p in model.named_parameters()
    }
    rng = torch.get_rng_state()
    try:
        feature_visualization(model, "conv2", probe=data.probe_images, steps=8)
        assert torch.equal(torch.get_rng_state(), rng)
        assert all(module.training for module in model.modules())
        for name, value in model.state_dict().items():
            assert torch.equal(value, before[name]), name
        for name, parameter in model.named_parameters():
            assert parameter.requires_grad == flags[name], name
            if grads[name] is None:
                assert parameter.grad is None, name
            else:
                assert torch.equal(parameter.grad, grads[name]), name
        assert hooks_left(model) == []
    finally:
        model.eval()
        model.conv1.weight.requires_grad_(True)
        model.fc1.weight.grad = kept_grad


def test_wrong_layer_or_unit_names_the_choices(trained_lenet):
    model, data, _ = trained_lenet
    with pytest.raises(ValueError, match=r"no layer 'conv3'.*conv1, relu1, pool1, conv2"):
        feature_visualization(model, "conv3", probe=data.probe_images)
    with pytest.raises(
        ValueError, match=r"unit 6 is not a unit of 'conv1': it has 6 units, 0 to 5"
    ):
        feature_visualization(model, "conv1", [0, 6], probe=data.probe_images)
    with pytest.raises(ValueError, match="pass probe="):
        feature_visualization(model, "conv1")
    with pytest.raises(ValueError, match="where must be one of mean, center, got 'middle'"):
        feature_visualization(model, "conv1", probe=data.probe_images, where="middle")
    with pytest.raises(ValueError, match="value range"):
        feature_visualization(model, "conv1", probe=data.probe_images, value_range=(1, 0))


def test_a_snapshot_gives_that_snapshots_weights(trained_lenet):
    model, data, recording = trained_lenet
    untrained = models.LeNet5()
    untrained.eval()
    run = {"probe": data.probe_images, "steps": 8}
    at_end = feature_visualization(untrained, "conv2", recording=recording, snapshot=-1, **run)
    from_model = feature_visualization(model, "conv2", **run)
    np.testing.assert_allclose(at_end.images, from_model.images, atol=1e-6)
    at_start = feature_visualization(untrained, "conv2", recording=recording, snapshot=0, **run)
    assert at_start.snapshot == 0 and at_end.snapshot == 2
    assert not np.allclose(at_start.images, at_end.images, atol=1e-3)
    # the recording's probe gives the shape and range when no probe is passed
    assert feature_visualization(model, "conv1", recording=recording, steps=2).images.shape[1:] == (
        1,
        28,
        28,
    )


def test_previews_only_gives_a_clear_error(trained_lenet):
    _, data, _ = trained_lenet
    model = models.LeNet5()
    with Recorder(model, probe=data.probe_images[:2], memory_per_snapshot=4096) as recorder:
        recorder.snapshot(epoch=0)
    with pytest.raises(SnapshotWeightsError, match=r"only a preview of conv2.weight.*path="):
        feature_visualization(model, "conv1", recording=recorder.recording, snapshot=0)
    with Recorder(model, probe=data.probe_images[:2], layers="conv1") as recorder:
        recorder.snapshot(epoch=0)
    with pytest.raises(SnapshotWeightsError, match="no weights for conv2.weight"):
        feature_visualization(model, "conv1", recording=recorder.recording, snapshot=0)


def test_the_panel_computes_in_the_background_and_caches(trained_lenet, monkeypatch):
    import threading

    from nnviz_widgets import TrainingExplorer
    from nnviz_widgets.render.png import decode_png
    from nnviz_widgets.widgets.explorer import features as panel_module

    model, _, recording = trained_lenet
    gate, started, calls = threading.Event(), threading.Event(), []
    real = panel_module.feature_visualization

    def held(*args, **kwargs):
        calls.append((kwargs["snapshot"], args[1]))
        started.set()
        gate.wait(10)  # a backstop: the test opens the gate
        return real(*args, **kwargs)

    monkeypatch.setattr(panel_module, "feature_visualization", held)
    explorer = TrainingExplorer(recording)
    try:
        explorer.layer = "conv2"
        panel = panel_module.FeaturesPanel(explorer, model, steps=8)
        drawn = threading.Event()
        panel.image.observe(lambda change: change["new"] and drawn.set(), names="value")
        assert panel_module.COMPUTING in panel.status.value and panel.image.value == b""
        assert started.wait(10)
        explorer.index = 0  # a scrub while the first one computes: answered at once
        assert panel_module.COMPUTING in panel.status.value and "epoch 0" in panel.status.value
        gate.set()
        assert drawn.wait(10)
        assert "what each unit of conv2 wants at epoch 0: 16 units" in panel.status.value
        rows, columns = decode_png(panel.image.value).shape[:2]
        assert rows > 4 * 28 * 3 and columns > 4 * 28 * 3  # a mosaic of 16 zoomed units
        assert calls == [(2, "conv2"), (0, "conv2")]
        explorer.index = 2  # computed already: drawn at once from the cache
        assert "at epoch 2" in panel.status.value and panel.image.value
        assert calls == [(2, "conv2"), (0, "conv2")]
        panel.close()
    finally:
        gate.set()
        explorer.close()


def test_the_panel_needs_a_model(trained_lenet):
    from nnviz_widgets import TrainingExplorer
    from nnviz_widgets.widgets.explorer.features import FeaturesPanel

    explorer = TrainingExplorer(trained_lenet[2])
    try:
        with pytest.raises(ValueError, match=r"needs the model.*FeaturesPanel\(explorer, model\)"):
            FeaturesPanel(explorer)
    finally:
        explorer.close()


def test_a_model_that_takes_tokens_is_refused_in_words():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 3))
    with pytest.raises(ValueError, match="torch.int64 inputs .*continuous inputs"):
        feature_visualization(model, "2", units=[0], probe=torch.randint(0, 10, (2, 3)))
