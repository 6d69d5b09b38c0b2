"""Adversarial examples: FGSM and PGD flip correctly classified probe digits of a trained
LeNet-5 at a small epsilon, stay within epsilon and the data's range, and leave the model and
torch's random state alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnviz_widgets.understand import adversarial
from tests.conftest import hooks_left

#: The stated epsilon: a change of at most 0.15 per pixel (values in [0, 1]) flips digits.
EPSILON = 0.15


def test_fgsm_flips_correctly_classified_digits(trained_lenet):
    model, data, _ = trained_lenet
    found = adversarial(model, data.probe_images, data.probe_labels, epsilon=EPSILON)
    correct = found.predicted_before == found.labels
    flipped = correct & (found.predicted_after != found.labels)
    assert correct.sum() >= 15  # the model is good on the probe
    assert flipped.sum() >= 3, (found.labels, found.predicted_after)
    # the perturbation is epsilon's signed gradient, cut where the range ends
    assert np.abs(found.perturbation).max() <= EPSILON + 1e-6
    np.testing.assert_allclose(found.adversarial - found.original, found.perturbation, atol=1e-6)
    assert found.adversarial.min() >= 0.0 and found.adversarial.max() <= 1.0
    assert found.probabilities_after.shape == (20, 10)
    np.testing.assert_allclose(found.probabilities_before.sum(axis=1), 1.0, rtol=1e-5)
    assert found.saliency.shape == found.original.shape and np.abs(found.saliency).max() > 0


def test_a_tiny_epsilon_flips_nothing_and_pgd_flips_at_least_as_many(trained_lenet):
    model, data, _ = trained_lenet
    tiny = adversarial(model, data.probe_images, data.probe_labels, epsilon=1e-4)
    assert (tiny.predicted_after == tiny.predicted_before).all()
    fgsm = adversarial(model, data.probe_images, data.probe_labels, epsilon=EPSILON)
    pgd = adversarial(
        model, data.probe_images, data.probe_labels, method="pgd", epsilon=EPSILON, steps=10
    )
    assert np.abs(pgd.perturbation).max() <= EPSILON + 1e-6
    assert (pgd.predicted_after != pgd.labels).sum() >= (fgsm.predicted_after != fgsm.labels).sum()


def test_model_and_random_state_untouched(trained_lenet):
    model, data, recording = trained_lenet
    before = {name: value.clone() for name, value in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]  # left by the fixture's training
    assert all(g.abs().sum() > 0 for g in grads)
    rng = torch.get_rng_state()
    found = adversarial(
        model, data.probe_images, data.probe_labels, method="pgd", recording=recording, snapshot=1
    )
    assert found.snapshot == 1
    assert torch.equal(torch.get_rng_state(), rng)
    assert not any(module.training for module in model.modules())
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))
    assert hooks_left(model) == []


def test_bad_arguments_say_what_is_expected(trained_lenet):
    model, data, _ = trained_lenet
    with pytest.raises(ValueError, match="method must be one of fgsm, pgd"):
        adversarial(model, data.probe_images, data.probe_labels, method="cw")
    with pytest.raises(ValueError, match="epsilon must be a positive number"):
        adversarial(model, data.probe_images, data.probe_labels, epsilon=0)
    with pytest.raises(ValueError, match=r"one per image: shape \(20,\)"):
        adversarial(model, data.probe_images, data.probe_labels[:3])


def test_the_panel_shows_a_fooled_digit_and_follows_its_slider(trained_lenet):
    import threading

    from nnviz_widgets.widgets.explorer.adversarial import AdversarialPanel

    model, _, recording = trained_lenet
    panel = AdversarialPanel(model, recording, epsilon=0.3)
    shown = threading.Event()
    panel.bars.observe(lambda _: shown.set(), names="y")
    try:
        assert shown.wait(10)
        assert "class 0: predicted 0" in panel.status.value and "fooled" in panel.status.value
        assert all(picture.value for picture in panel.pictures)
        after = np.asarray(panel.bars.y)
        assert after.shape == (2, 10)
        np.testing.assert_allclose(after.sum(axis=1), 1.0, rtol=1e-5)
        shown.clear()
        panel.slider.value = 0  # the untrained network: its own probabilities
        assert shown.wait(10)
        assert not np.allclose(np.asarray(panel.bars.y), after)
    finally:
        panel.close()


def test_one_image_with_an_int_label_is_a_batch_of_one(trained_lenet):
    model, data, _ = trained_lenet
    batch = adversarial(model, data.probe_images, data.probe_labels, epsilon=EPSILON)
    one = adversarial(model, data.probe_images[3], int(data.probe_labels[3]), epsilon=EPSILON)
    assert one.original.shape == (1, *data.probe_images.shape[1:])
    np.testing.assert_allclose(one.perturbation[0], batch.perturbation[3], atol=1e-6)
    assert one.predicted_after[0] == batch.predicted_after[3]
