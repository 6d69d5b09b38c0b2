"""The bundled models: their sizes, their outputs, and the traits that make them good tests."""

from __future__ import annotations

import pytest
import torch

import nnviz_widgets as nv


def _parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_resnets_have_their_published_sizes_and_classify_small_images():
    assert _parameters(nv.models.ResNet18()) == 11_173_962  # ResNet-18, CIFAR stem, 10 classes
    assert _parameters(nv.models.ResNet20()) == 272_474  # He et al. 2016, table 6: 0.27M
    model = nv.models.ResNet20(num_classes=7)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    names = dict(model.named_modules())
    assert "layer2.0.downsample.0" in names and "layer3.2.conv2" in names
    assert isinstance(names["layer1.0.relu"], torch.nn.ReLU)


def test_transformer_lm_is_causal_and_ties_its_head():
    torch.manual_seed(0)
    model = nv.models.TransformerLM(100, width=32, layers=2, heads=4, context=16).eval()
    assert _parameters(nv.models.TransformerLM()) == 13_842_432
    assert model.head.weight is model.embedding.weight
    tokens = torch.randint(0, 100, (2, 10))
    logits = model(tokens)
    assert logits.shape == (2, 10, 100)
    changed = tokens.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 100
    # a later token never changes an earlier position's prediction
    torch.testing.assert_close(model(changed)[:, :-1], logits[:, :-1])
    with pytest.raises(RuntimeError):
        model(torch.randint(0, 100, (1, 17)))  # longer than its context
