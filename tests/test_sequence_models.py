"""Transformers and recurrent models: attention maps taken in the probe pass only, outputs
recorded samples-first, and the explorer's pictures and defaults for them.

Training with a Recorder on these models stays bit-identical: see the zoo in
``test_recorder_invisible.py`` (``transformer_lm``, ``transformer_encoder``, ``gru``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from nnviz_widgets.record.sequence import AttentionHooks
from nnviz_widgets.render.layout import layout_frame
from nnviz_widgets.widgets.explorer.selection import default_quantity
from tests.conftest import hooks_left

VOCABULARY, WIDTH, HEADS, CONTEXT = 13, 16, 4, 6


# ---------------------------------------------------------------------------- attention hooks
def _attention(batch_first: bool) -> nn.MultiheadAttention:
    torch.manual_seed(0)
    return nn.MultiheadAttention(WIDTH, HEADS, batch_first=batch_first).eval()


def _inputs(batch_first: bool, samples: int = 3, target: int = 5, source: int = 7):
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(samples, target, WIDTH, generator=generator)
    memory = torch.randn(samples, source, WIDTH, generator=generator)
    padding = torch.zeros(samples, source)
    padding[0, -2:] = -torch.inf  # the first sample's last two keys are padding
    mask = torch.zeros(target, source).masked_fill(torch.rand(target, source) > 0.7, -1e9)
    if not batch_first:
        query, memory = query.transpose(0, 1), memory.transpose(0, 1)
    return query, memory, padding, mask


CALLS = {
    "default": lambda m, q, k, p, a: m(q, k, k),
    "no weights": lambda m, q, k, p, a: m(q, k, k, need_weights=False),
    "positional no weights": lambda m, q, k, p, a: m(q, k, k, p, False, a),
    "per head, masks": lambda m, q, k, p, a: m(
        q, k, k, key_padding_mask=p, attn_mask=a, average_attn_weights=False
    ),
    "keyword query": lambda m, q, k, p, a: m(query=q, key=k, value=k, need_weights=False),
}


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("call", CALLS, ids=list(CALLS))
def test_the_caller_receives_what_it_asked_for(batch_first, call):
    attention = _attention(batch_first)
    query, memory, padding, mask = _inputs(batch_first)
    with torch.no_grad():
        expected = CALLS[call](attention, query, memory, padding, mask)
        # the per-head weights, as the module returns them when asked
        heads = attention(
            query, memory, memory, key_padding_mask=padding if "masks" in call else None,
            attn_mask=mask if "masks" in call else None, average_attn_weights=False,
        )[1]  # fmt: skip
    kept: list[torch.Tensor] = []
    handles = AttentionHooks(kept.append).register(attention)
    try:
        with torch.no_grad():
            got = CALLS[call](attention, query, memory, padding, mask)
    finally:
        for handle in handles:
            handle.remove()
    assert hooks_left(attention) == []
    torch.testing.assert_close(got[0], expected[0], rtol=1e-5, atol=1e-6)
    if expected[1] is None:
        assert got[1] is None
    else:
        assert got[1].shape == expected[1].shape
        torch.testing.assert_close(got[1], expected[1], rtol=1e-5, atol=1e-6)
    assert len(kept) == 1 and kept[0].shape == (3, HEADS, 5, 7)  # samples first, either way
    if "masks" in call:
        torch.testing.assert_close(kept[0], heads)
        assert (kept[0][0, :, :, -2:] == 0).all()  # padded keys get no attention


def test_an_unbatched_call_gives_one_sample():
    attention = _attention(True)
    query = torch.randn(5, WIDTH)
    kept: list[torch.Tensor] = []
    handles = AttentionHooks(kept.append).register(attention)
    try:
        with torch.no_grad():
            _, weights = attention(query, query, query)
    finally:
        for handle in handles:
            handle.remove()
    assert weights.shape == (5, 5)  # averaged over heads, unbatched: as asked
    assert kept[0].shape == (1, HEADS, 5, 5)
    torch.testing.assert_close(kept[0][0].mean(dim=0), weights)


# ---------------------------------------------------------------------------- a transformer LM
def _language_model() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    model = nv.models.TransformerLM(VOCABULARY, width=WIDTH, layers=2, heads=HEADS, context=CONTEXT)
    tokens = torch.randint(0, VOCABULARY, (3, CONTEXT), generator=torch.Generator().manual_seed(2))
    return model, (tokens, tokens.roll(-1, dims=1))


def _lm_loss(output, target):
    return F.cross_entropy(output.reshape(-1, VOCABULARY), target.reshape(-1), reduction="sum")


@pytest.fixture
def language_model_recording():
    model, probe = _language_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    with nv.Recorder(model, probe=probe, optimizer=optimizer, loss_fn=_lm_loss) as recorder:
        recorder.snapshot(epoch=0)
        for _ in range(3):
            optimizer.zero_grad()
            _lm_loss(model(probe[0]), probe[1]).backward()
            optimizer.step()
        recorder.snapshot(epoch=1)
    assert hooks_left(model, optimizer) == []
    return model, probe, recorder.recording


def test_attention_maps_of_a_transformer_lm_are_its_per_head_weights(language_model_recording):
    model, (tokens, _), recording = language_model_recording
    model.eval()
    with torch.no_grad():  # the same pass by hand, asking each attention for its weights
        x = model.embedding(tokens) + model.position[:CONTEXT]
        mask = model.causal_mask[:CONTEXT, :CONTEXT]
        for k, block in enumerate(model.blocks):
            h = block.norm1(x)
            _, weights = block.attention(h, h, h, attn_mask=mask, average_attn_weights=False)
            frame = recording.frame(f"blocks.{k}.attention", "attention", -1)
            assert frame.shape == (3, HEADS, CONTEXT, CONTEXT)
            np.testing.assert_allclose(frame, weights.numpy(), rtol=1e-5, atol=1e-6)
            x = block(x, mask)
        logits = model.head(model.norm(x))
    frame = recording.frame("blocks.0.attention", "attention", 0)
    np.testing.assert_allclose(frame.sum(axis=-1), 1.0, rtol=1e-5)
    assert (np.triu(frame, k=1) == 0).all()  # causal: no token attends to a later one
    # what the model computed downstream is what it computes without the hooks
    np.testing.assert_allclose(recording.frame("head", "activation", -1), logits, atol=1e-5)


def test_the_layer_info_says_what_the_pictures_need(language_model_recording):
    model, (tokens, _), recording = language_model_recording
    assert recording.layer_info("blocks.0.attention")["heads"] == HEADS
    assert recording.layer_info("blocks.1.attention.out_proj")["input_heads"] == HEADS
    embedding = recording.layer_info("embedding")
    assert embedding["probe_rows"] == sorted(set(tokens.flatten().tolist()))
    assert recording.layer_info("blocks.0.mlp.1")["channel_first"] is False  # a GELU on tokens
    norms = recording.frame("embedding", "row_norm", -1)
    np.testing.assert_allclose(norms, model.embedding.weight.detach().norm(dim=1), rtol=1e-6)
    quantities = recording.quantities("blocks.0.attention")
    assert default_quantity(list(quantities), "weight") == "in_proj_weight"
    assert default_quantity(list(quantities), "") == "in_proj_weight"
    assert default_quantity(list(quantities), "bias_grad") == "in_proj_bias_grad"
    assert default_quantity(list(quantities), "attention[1]") == "attention"


def test_the_explorer_opens_attention_on_its_weights_and_shows_heads(language_model_recording):
    _, _, recording = language_model_recording
    explorer = nv.TrainingExplorer(recording)
    try:
        explorer.layer = "blocks.0.mlp.0"
        explorer.quantity = "weight"
        explorer.layer = "blocks.0.attention"
        assert explorer.quantity == "in_proj_weight"
        assert "Q | K | V" in explorer.heatmap.picture.column_label
        explorer.quantity = "attention"
        assert [value for _, value in explorer.channel_box.options] == [-1, 0, 1, 2, 3]
        explorer.sample, explorer.channel = 2, 1
        frame = recording.frame("blocks.0.attention", "attention", explorer.index)
        shown = explorer.heatmap.picture
        np.testing.assert_array_equal(shown.values, frame[2, 1])
        assert shown.locate(3, 1) == (2, 1, 3, 1)
        explorer.layer = "blocks.1.mlp.1"  # attention -> a GELU: its activation, tokens x features
        assert explorer.quantity == "activation"
        assert explorer.heatmap.picture.row_label == "token"
    finally:
        explorer.close(widget=True)


# ---------------------------------------------------------------------------- nn.Transformer*
class PaddedEncoder(nn.Module):
    """Token ids in, batch first; a sequence-first TransformerEncoder inside, with a padding
    mask (token 0 is padding)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, WIDTH, padding_idx=0)
        layer = nn.TransformerEncoderLayer(WIDTH, HEADS, 32, dropout=0.1)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(WIDTH, 3)

    def forward(self, tokens):
        padding = tokens == 0
        x = self.encoder(self.embedding(tokens).transpose(0, 1), src_key_padding_mask=padding)
        return self.head(x.transpose(0, 1).mean(dim=1))


def test_a_sequence_first_encoder_is_recorded_samples_first_with_its_padding():
    torch.manual_seed(0)
    model = PaddedEncoder()
    tokens = torch.randint(1, VOCABULARY, (4, 7))
    tokens[1, 5:] = 0
    with nv.Recorder(model, probe=(tokens, torch.tensor([0, 1, 2, 0]))) as recorder:
        recorder.snapshot()
    recording = recorder.recording
    maps = recording.frame("encoder.layers.1.self_attn", "attention", 0)
    assert maps.shape == (4, HEADS, 7, 7)
    assert (maps[1, :, :, 5:] == 0).all()  # padded keys get no attention
    model.eval()
    seen = []
    handle = model.encoder.layers[0].linear1.register_forward_hook(
        lambda m, a, out: seen.append(out)
    )
    with torch.no_grad():
        x = model.embedding(tokens).transpose(0, 1)
        first = model.encoder.layers[0](x, src_key_padding_mask=tokens == 0)
    handle.remove()
    linear = seen[0]
    # the layer's output is its norm2's (post-norm), recorded samples-first
    activation = recording.frame("encoder.layers.0.norm2", "activation", 0)
    np.testing.assert_allclose(activation, first.transpose(0, 1), atol=1e-5)
    assert linear.shape == (7, 4, 32)  # as the model computes it; recorded samples-first:
    frame = recording.frame("encoder.layers.0.linear1", "activation", 0)
    np.testing.assert_allclose(frame, linear.transpose(0, 1), atol=1e-5)
    assert recording.frame("encoder.layers.0.linear1", "output_grad", 0).shape == (4, 7, 32)


def test_a_sequence_first_probe_is_recorded_samples_first():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(WIDTH, HEADS, 32, dropout=0.0)
    model = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    x = torch.randn(7, 3, WIDTH)  # (tokens, samples, features), as the model takes it
    with nv.Recorder(model, probe=x) as recorder:
        recorder.snapshot()
    recording = recorder.recording
    assert recording.layer_info(nv.INPUT)["sequence_first"] is True
    np.testing.assert_array_equal(recording.probe["input"], x.transpose(0, 1).numpy())
    assert recording.frame(nv.INPUT, "saliency", 0).shape == (3, 7, WIDTH)
    assert recording.frame("layers.0.linear2", "activation", 0).shape == (3, 7, WIDTH)
    assert recording.frame("layers.0.self_attn", "attention", 0).shape == (3, HEADS, 7, 7)
    model.eval()
    with torch.no_grad():
        expected = model(x).transpose(0, 1)
    np.testing.assert_allclose(
        recording.frame("layers.0.norm2", "activation", 0), expected, atol=1e-5
    )


def test_a_decoder_layer_records_self_and_cross_attention():
    torch.manual_seed(0)

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.memory = nn.Parameter(torch.randn(1, 9, WIDTH))
            self.layer = nn.TransformerDecoderLayer(WIDTH, HEADS, 32, batch_first=True)

        def forward(self, x):
            memory = self.memory.expand(x.shape[0], -1, -1)
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return self.layer(x, memory, tgt_mask=mask, tgt_is_causal=True)

    model = Decoder()
    with nv.Recorder(model, probe=torch.randn(2, 5, WIDTH)) as recorder:
        recorder.snapshot()
    recording = recorder.recording
    own = recording.frame("layer.self_attn", "attention", 0)
    cross = recording.frame("layer.multihead_attn", "attention", 0)
    assert own.shape == (2, HEADS, 5, 5) and (np.triu(own, k=1) == 0).all()
    assert cross.shape == (2, HEADS, 5, 9)
    np.testing.assert_allclose(cross.sum(axis=-1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------------------- recurrent layers
class Recurrent(nn.Module):
    """A bidirectional sequence-first LSTM and a batch-first GRU, on batch-first input."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5, 6, bidirectional=True)
        self.gru = nn.GRU(12, 4, batch_first=True)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        h, _ = self.lstm(x.transpose(0, 1))
        h, _ = self.gru(h.transpose(0, 1))
        return self.head(h[:, -1])


def test_recurrent_outputs_are_hidden_states_over_time_per_sample():
    torch.manual_seed(0)
    model = Recurrent()
    x = torch.randn(3, 8, 5)
    with nv.Recorder(model, probe=(x, torch.tensor([0, 1, 2]))) as recorder:
        recorder.snapshot()
    recording = recorder.recording
    model.eval()
    with torch.no_grad():
        lstm, _ = model.lstm(x.transpose(0, 1))
    frame = recording.frame("lstm", "activation", 0)
    np.testing.assert_allclose(frame, lstm.transpose(0, 1), atol=1e-6)
    info = recording.layer_info("lstm")
    assert info["gates"] == ["input", "forget", "cell", "output"] and info["bidirectional"]
    picture = layout_frame(frame, "activation", layer_info=info, sample=2)
    assert picture.row_label == "time step" and "forward | backward" in picture.column_label
    assert recording.frame("gru", "output_grad", 0).shape == (3, 8, 4)
    weight = layout_frame(
        recording.frame("gru", "weight_ih_l0", 0),
        "weight_ih_l0",
        layer_info=recording.layer_info("gru"),
    )
    assert "reset | update | new" in weight.column_label
    assert default_quantity(list(recording.quantities("lstm")), "") == "weight_ih_l0"


def test_a_relu_after_a_conv1d_stays_channels_first():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 5), nn.GELU()
    )
    with nv.Recorder(model, probe=torch.randn(3, 2, 8)) as recorder:
        recorder.snapshot()
    recording = recorder.recording
    assert recording.layer_info("1")["channel_first"] is True
    assert recording.layer_info("4")["channel_first"] is False
    activation = recording.frame("1", "activation", 0)
    dead = float((activation.max(axis=(0, 2)) <= 0).mean())  # over channels, not positions
    assert recording.statistic("1", "dead_fraction")[0] == pytest.approx(dead)
    picture = layout_frame(activation, "activation", layer_info=recording.layer_info("1"))
    assert (picture.row_label, picture.column_label) == ("channel", "position")
