"""The Recorder must not change training: a zoo of real-world model shapes, trained with and
without a Recorder, must end with bit-identical parameters, optimizer state and RNG state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from tests.conftest import hooks_left

# ---------------------------------------------------------------------------- the zoo


class ResidualBlock(nn.Module):
    """A ResNet basic block: in-place ReLUs and `out += identity`, the classic hook traps."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.block = ResidualBlock(4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.pool(self.block(self.stem(x))).flatten(1))


class BatchNormDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))


class SequenceClassifier(nn.Module):
    """An LSTM: its output is a tuple (out, (h, c))."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=5, hidden_size=8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class SharedLayer(nn.Module):
    """One Linear called twice per forward."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 8)
        self.shared = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = torch.tanh(self.shared(h))
        h = torch.tanh(self.shared(h))
        return self.out(h)


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        features = F.gelu(self.body(x))
        return {"features": features, "logits": self.head(features)}


class TiedLanguageModel(nn.Module):
    """Embedding and decoder share one weight; integer token inputs."""

    def __init__(self, vocabulary: int = 11, width: int = 6):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.mix = nn.Linear(width, width)
        self.decoder = nn.Linear(width, vocabulary, bias=False)
        self.decoder.weight = self.embed.weight

    def forward(self, tokens):
        return self.decoder(torch.tanh(self.mix(self.embed(tokens))))


class EncoderClassifier(nn.Module):
    """A sequence-first TransformerEncoder (dropout on) on batch-first input, with a padding
    mask: its MultiheadAttention is called with need_weights=False."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(5, 8)
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        padding = x[..., 0] > 1.5  # some positions are padding
        padding[:, 0] = False
        h = self.encoder(self.embed(x).transpose(0, 1), src_key_padding_mask=padding)
        return self.head(h.mean(dim=0))


class BidirectionalGRU(nn.Module):
    """A sequence-first bidirectional GRU, on batch-first input."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 6, num_layers=2, bidirectional=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        out, _ = self.gru(x.transpose(0, 1))
        return self.head(out[-1])


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(6, 8)
        self.features.requires_grad_(False)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(F.relu(self.features(x)))


class Bfloat16Parameters(nn.Module):
    """Parameters stored in bf16 (not autocast): the update sample keeps bf16 values."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 2048).to(torch.bfloat16)  # 12,288 weights: a strided sample
        self.fc2 = nn.Linear(2048, 3).to(torch.bfloat16)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x.to(torch.bfloat16)))).float()


class StridedParameters(nn.Module):
    """A transposed (non-contiguous) weight and one with gaps between its rows."""

    def __init__(self):
        super().__init__()
        self.transposed = nn.Parameter(torch.randn(6, 2048).t() * 0.1)  # strides (1, 2048)
        self.gapped = nn.Parameter((torch.randn(2048, 96) * 0.05)[:, :40])  # rows 96 apart
        self.head = nn.Linear(40, 3)

    def forward(self, x):
        return self.head(torch.tanh(torch.tanh(x @ self.transposed.t()) @ self.gapped))


class SparseEmbeddingBag(nn.Module):
    """An nn.Embedding(sparse=True): its gradient is a sparse COO tensor, uncoalesced (a token
    read twice gives two rows); SGD takes sparse gradients."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 6, sparse=True)
        self.head = nn.Linear(6, 3)

    def forward(self, tokens):
        return self.head(torch.tanh(self.embed(tokens).mean(dim=1)))


class ChannelsLast(nn.Module):
    """A conv net in channels_last memory format: parameters and gradients non-contiguous."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 3)
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(F.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


class ComplexParameters(nn.Module):
    """A complex-valued weight (a spectral filter): norms and frames of complex tensors."""

    def __init__(self):
        super().__init__()
        self.filter = nn.Parameter(torch.randn(6, 5, dtype=torch.complex64) * 0.3)
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        return self.head((x.to(torch.complex64) @ self.filter).abs())


def sparse_tokens(generator, n):
    x = torch.randint(0, 11, (n, 4), generator=generator)
    x[:, 1] = x[:, 0]  # repeated tokens: the sparse gradient has duplicate rows
    return x, torch.randint(0, 3, (n,), generator=generator)


def classification(shape, classes=3):
    def make(generator, n):
        return torch.randn(n, *shape, generator=generator), torch.randint(
            0, classes, (n,), generator=generator
        )

    return make


def tokens(generator, n):
    x = torch.randint(0, 11, (n, 7), generator=generator)
    return x, x.roll(-1, dims=1)


def cross_entropy(output, target):
    if isinstance(output, dict):
        output = output["logits"]
    return F.cross_entropy(output.reshape(-1, output.shape[-1]).float(), target.reshape(-1))


@dataclass
class Case:
    name: str
    model: Callable[[], nn.Module]
    data: Callable
    optimizer: str = "sgd"
    autocast: bool = False
    loss_fn: Callable | None = None


ZOO = [
    Case("mlp", lambda: nv.models.MLP((6, 16, 16, 3)), classification((6,))),
    Case("lenet5_inplace", lambda: nv.models.LeNet5(), classification((1, 28, 28), 10), "adam"),
    Case("residual_block", ResNetTiny, classification((1, 8, 8))),
    Case("batchnorm_dropout", BatchNormDropout, classification((6,)), "adam"),
    Case("lstm", SequenceClassifier, classification((4, 5))),
    Case("called_twice", SharedLayer, classification((6,))),
    Case(
        "dict_output",
        DictOutput,
        classification((6,)),
        loss_fn=lambda out, y: F.cross_entropy(out["logits"], y, reduction="sum"),
    ),
    Case(
        "tied_weights",
        TiedLanguageModel,
        tokens,
        "adam",
        loss_fn=lambda out, y: F.cross_entropy(out.reshape(-1, 11), y.reshape(-1)),
    ),
    Case("frozen", Frozen, classification((6,))),
    Case(
        "autocast_bf16", lambda: nv.models.MLP((6, 16, 16, 3)), classification((6,)), "adam", True
    ),
    Case(
        "autocast_bf16_lenet",
        lambda: nv.models.LeNet5(),
        classification((1, 28, 28), 10),
        "sgd",
        True,
    ),
    Case(
        "transformer_lm",
        lambda: nv.models.TransformerLM(11, width=8, layers=2, heads=2, context=7),
        tokens,
        "adam",
        loss_fn=lambda out, y: F.cross_entropy(out.reshape(-1, 11), y.reshape(-1)),
    ),
    Case("transformer_encoder", EncoderClassifier, classification((4, 5)), "adam"),
    Case("gru", BidirectionalGRU, classification((4, 5))),
    Case("bf16_parameters", Bfloat16Parameters, classification((6,)), "adam"),
    Case("strided_parameters", StridedParameters, classification((6,)), "adam"),
    Case("sparse_embedding", SparseEmbeddingBag, sparse_tokens),
    Case("channels_last", ChannelsLast, classification((2, 5, 5)), "adam"),
    Case("complex_parameters", ComplexParameters, classification((6,)), "adam"),
]


def train(
    case: Case,
    *,
    record: bool,
    steps: int = 24,
    every: int = 6,
    manual: bool = False,
    options: dict | None = None,
):
    """Train one zoo model; returns (model, optimizer, recording or None, final RNG state).

    ``options`` are the Recorder's; by default statistics on every step (the most hook work).
    """
    torch.manual_seed(0)
    model = case.model()
    data = torch.Generator().manual_seed(1)
    if case.optimizer == "adam":
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    else:
        optimizer = torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9
        )
    probe = case.data(torch.Generator().manual_seed(2), 5)
    recorder = None
    if record:
        recorder = nv.Recorder(
            model,
            probe=probe,
            optimizer=None if manual else optimizer,
            loss_fn=case.loss_fn,
            **({"stats_every": 1} if options is None else options),
        )
    try:
        if recorder is not None:
            recorder.snapshot(epoch=0)
        for step in range(1, steps + 1):
            x, y = case.data(data, 8)
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=case.autocast):
                output = model(x)
                loss = cross_entropy(output, y)
            loss.backward()
            optimizer.step()
            if recorder is not None and manual:
                recorder.step()
            if recorder is not None and step % every == 0:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=case.autocast):
                    recorder.snapshot(epoch=step // every, loss=loss)
    finally:
        if recorder is not None:
            recorder.close()
    return model, optimizer, recorder.recording if recorder else None, torch.get_rng_state()


def dense(tensor):
    """A sparse tensor (SGD's momentum of a sparse gradient) as a dense one, to compare."""
    return tensor.to_dense() if tensor.layout != torch.strided else tensor


def assert_identical(a, b):
    (model_a, opt_a, _, rng_a), (model_b, opt_b, _, rng_b) = a, b
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), f"{key} differs"
    opt_state_a, opt_state_b = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert opt_state_a.keys() == opt_state_b.keys()
    for index in opt_state_a:
        for name, value in opt_state_a[index].items():
            other = opt_state_b[index][name]
            if isinstance(value, torch.Tensor):
                assert torch.equal(dense(value), dense(other)), f"optimizer state {index}.{name}"
            else:
                assert value == other
    assert torch.equal(rng_a, rng_b), "the global RNG advanced differently"


@pytest.mark.parametrize("case", ZOO, ids=[c.name for c in ZOO])
def test_training_is_bit_identical_with_a_recorder(case, deterministic):
    bare = train(case, record=False)
    recorded = train(case, record=True)
    assert_identical(bare, recorded)
    model, optimizer, recording, _ = recorded
    # the recording is not empty: the comparison above would be vacuous otherwise
    assert len(recording.snapshots) == 5
    assert recording.steps.tolist() == list(range(1, 25))
    with_weights = [layer for layer in recording.layers if "weight" in recording.quantities(layer)]
    assert with_weights
    for layer in recording.layers:
        # every layer the forward pass calls (a MultiheadAttention reads its out_proj's
        # weights without calling it)
        if recording.layer_info(layer)["calls"]:
            assert "activation" in recording.quantities(layer), layer
    assert hooks_left(model, optimizer) == []


@pytest.mark.parametrize("case", ZOO[:3], ids=[c.name for c in ZOO[:3]])
def test_manual_steps_are_bit_identical_too(case, deterministic):
    bare = train(case, record=False)
    recorded = train(case, record=True, manual=True)
    assert_identical(bare, recorded)
    assert recorded[2].steps.size == 24


OTHER_OPTIONS = {
    "defaults": ({}, False),  # stats_every="auto": the steps with statistics vary with timing
    "every_5_mean_gradient": ({"stats_every": 5, "mean_gradient": True}, False),
    "manual_every_4": ({"stats_every": 4}, True),
}
SOME = [
    case
    for case in ZOO
    if case.name
    in (
        "lenet5_inplace",
        "tied_weights",
        "frozen",
        "transformer_lm",
        "bf16_parameters",
        "strided_parameters",
        "sparse_embedding",
        "channels_last",
        "complex_parameters",
    )
]


@pytest.mark.parametrize("options", OTHER_OPTIONS.values(), ids=list(OTHER_OPTIONS))
@pytest.mark.parametrize("case", SOME, ids=[c.name for c in SOME])
def test_other_step_options_are_bit_identical_too(case, options, deterministic):
    options, manual = options
    bare = train(case, record=False)
    recorded = train(case, record=True, manual=manual, options=options)
    assert_identical(bare, recorded)
    steps = recorded[2].steps.tolist()
    every = options.get("stats_every", "auto")
    if every == "auto":  # the first step, then at least the first after each snapshot
        assert {1, 7, 13, 19} <= set(steps) <= set(range(1, 25))
    else:
        assert steps == list(range(every, 25, every))
    assert hooks_left(recorded[0], recorded[1]) == []


def test_module_called_twice_gets_one_frame_per_call(deterministic):
    _, _, recording, _ = train(ZOO[5], record=True)
    assert recording.layer_info("shared")["calls"] == 2
    quantities = recording.quantities("shared")
    assert "activation" in quantities and "activation[1]" in quantities
    first, second = (
        recording.frame("shared", "activation"),
        recording.frame("shared", "activation[1]"),
    )
    assert first.shape == second.shape == (5, 8)
    assert not (first == second).all()


def test_tied_weight_recorded_under_both_layers(deterministic):
    _, _, recording, _ = train(ZOO[7], record=True)
    embed = recording.frame("embed", "weight", -1)
    decoder = recording.frame("decoder", "weight", -1)
    assert (embed == decoder).all()
    # both uses' gradients were summed by autograd into one .grad: the same mean gradient
    assert (
        recording.frame("embed", "weight_grad", -1) == recording.frame("decoder", "weight_grad", -1)
    ).all()
    # token inputs have no saliency, but activations and their gradients are there
    assert "saliency" not in recording.quantities(nv.INPUT)
    assert recording.frame("mix", "output_grad", -1).shape == (5, 7, 6)


def test_frozen_parameters_are_reported_frozen(deterministic):
    _, _, recording, _ = train(ZOO[8], record=True)
    reason = recording.missing_reason("features", "weight_grad", -1)
    assert reason is not None and "frozen" in reason
    assert recording.frame("head", "weight_grad", -1).shape == (3, 8)
    assert recording.layer_info("features")["frozen"] == ["weight", "bias"]


def test_lstm_records_its_output_sequence(deterministic):
    _, _, recording, _ = train(ZOO[4], record=True)
    assert recording.frame("lstm", "activation", -1).shape == (5, 4, 8)
    assert set(recording.quantities("lstm")) >= {
        "weight_ih_l0",
        "weight_hh_l0_grad",
        "bias_ih_l0_update",
    }


def test_autocast_frames_hold_what_the_model_computed(deterministic):
    case = ZOO[9]
    model, _, recording, _ = train(case, record=True)
    activation = recording.frame("0", "activation", -1)
    assert activation.dtype == "float32"
    x, _ = case.data(torch.Generator().manual_seed(2), 5)
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model[0](x)
    assert expected.dtype == torch.bfloat16
    assert torch.equal(torch.tensor(activation), expected.float())
    assert recording.statistic("0", "nonfinite_activation").tolist() == [0.0] * 5
