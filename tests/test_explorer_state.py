"""The explorer never shows one thing while holding another (issue 13).

A refused value leaves each trait and its control agreeing, in one short sentence; a layer named
``input`` stays apart from the probe pseudo-layer; the pointer readout never outlives its picture;
``close()`` leaves every widget on screen open (a page still building them, as Voila does, builds
them whole).
"""

import sys
import traceback

import numpy as np
import pytest
import traitlets

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.views.hover_grid import HOVER_CELLS
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer.display import every_widget
from tests.test_explorer import _declare, _snapshot

#: The readout line while no value is under the pointer (display.READOUT_HINT).
READOUT_HINT = "move the pointer over the picture to read values"


@pytest.fixture
def explorer(rng):
    recording = Recording()
    _declare(recording)
    for epoch in range(3):
        recording.append_snapshot(_snapshot(rng, epoch))
    explorer = TrainingExplorer(recording, min_interval=0.0)
    yield explorer
    explorer.close(widget=True)


# ---------------------------------------------------------------------------- refused values
def _agree(explorer) -> None:
    """Every selection trait shows in its control as it is."""
    assert explorer.slider.value == explorer.index
    assert explorer.layer_box.value == explorer.layer
    assert explorer.quantity_box.value == explorer.quantity
    assert explorer.sample_box.value == explorer.sample
    assert explorer.channel_box.value == explorer.channel


@pytest.mark.parametrize(
    ("layer", "quantity", "name", "value", "message"),
    [
        # weights have no samples: only -1 (all), which the disabled dropdown shows
        ("fc", "weight", "sample", 99, "sample 99 is out of range: this quantity has no samples"),
        ("conv", "activation", "sample", 99, "sample 99 is out of range: -1 (all) or 0 to 2"),
        ("fc", "weight", "channel", 3, "channel 3 is out of range: -1 (all); this quantity has"),
        ("conv", "activation", "channel", 9, "channel 9 is out of range: -1 (all) or 0 to 3"),
        ("fc", "weight", "index", 99, "index 99 is out of range: the recording has 3 snapshot(s)"),
        ("fc", "weight", "layer", "fc9", "unknown layer 'fc9' (did you mean 'fc'?)"),
        ("fc", "weight", "quantity", "wieght", "unknown quantity 'wieght' for layer 'fc' (did you"),
    ],
)
def test_a_refused_value_raises_and_leaves_trait_and_control_agreeing(
    explorer, layer, quantity, name, value, message
):
    explorer.layer, explorer.quantity = layer, quantity
    _agree(explorer)
    before = getattr(explorer, name)
    with pytest.raises(traitlets.TraitError, match=r"^" + _escaped(message)):
        setattr(explorer, name, value)
    assert getattr(explorer, name) == before
    _agree(explorer)


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_weights_show_all_samples_and_the_chosen_sample_comes_back(explorer):
    explorer.layer, explorer.quantity, explorer.sample = "conv", "activation", 2
    explorer.quantity = "weight"  # no samples to choose: "all", as the dropdown shows
    assert explorer.sample == explorer.sample_box.value == -1
    assert explorer.sample_box.disabled
    explorer.quantity = "activation"
    assert explorer.sample == explorer.sample_box.value == 2
    _agree(explorer)


def test_a_numpy_integer_is_an_index(explorer):
    explorer.index = np.int64(1)
    assert explorer.index == 1 and type(explorer.index) is int


def test_a_wrong_layer_raises_one_short_sentence_not_traitlets_internals(explorer):
    with pytest.raises(traitlets.TraitError) as caught:
        explorer.layer = "fc9"
    assert str(caught.value) == (
        "unknown layer 'fc9' (did you mean 'fc'?); valid layers: 'input', 'conv', 'relu', 'fc'"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    frames = traceback.extract_tb(caught.value.__traceback__)[1:]  # below this test's own frame
    assert [frame.name for frame in frames] == ["__setattr__"]  # was a dozen traitlets frames
    assert not any("traitlets" in frame.filename for frame in frames)


def test_a_wrong_layer_of_a_large_model_names_the_close_matches_and_a_few_more(rng):
    recording = Recording()
    names = [f"blocks.{k}.{part}" for k in range(20) for part in ("attn", "mlp")]
    recording.set_layers({name: {"type": "Linear", "calls": 1} for name in names})
    frames = {(name, "weight"): rng.normal(size=(2, 2)) for name in names}
    recording.append_snapshot(SnapshotData(epoch=0, step=0, frames=frames))
    explorer = TrainingExplorer(recording)
    with pytest.raises(traitlets.TraitError) as caught:
        explorer.layer = "blocks.3.atn"
    message = str(caught.value)
    assert message.startswith("unknown layer 'blocks.3.atn' (did you mean 'blocks.3.attn'")
    assert message.endswith("and 28 more")  # 12 of the 40 named, not all of them
    assert "\n" not in message
    explorer.close(widget=True)


# ---------------------------------------------------------------------------- "input"
def test_a_layer_named_input_is_that_layer_not_the_probe(rng):
    recording = Recording()
    recording.set_layers(
        {INPUT: {"type": "input", "calls": 1}, "input": {"type": "Linear", "calls": 1}}
    )
    recording.set_probe(np.zeros((2, 4), np.float32))
    weight = rng.normal(size=(3, 4)).astype(np.float32)
    recording.append_snapshot(
        SnapshotData(
            epoch=0,
            step=0,
            frames={("input", "weight"): weight, (INPUT, "saliency"): rng.normal(size=(2, 4))},
        )
    )
    explorer = TrainingExplorer(recording)
    labels = [label for label, _ in explorer.layer_box.options]
    assert labels == [INPUT, "input"]  # distinct: the pseudo-layer by its own name
    explorer.layer = "input"
    assert explorer.layer == "input"  # the model's layer, not the probe's
    np.testing.assert_array_equal(explorer.heatmap.picture.values, weight)
    assert explorer.heatmap.figure.title.startswith("input \u00b7 weight")
    explorer.layer = INPUT
    assert explorer.layer == INPUT and explorer.quantity == "saliency"
    assert explorer.heatmap.figure.title.startswith(f"{INPUT} \u00b7 saliency")
    explorer.close(widget=True)


# ---------------------------------------------------------------------------- the readout
def _hover(mark, index, x=None, y=None):
    point = {"index": index} if x is None else {"index": index, "x": x, "y": y}
    mark._handle_custom_msgs(None, {"event": "hover", "point": point})


def test_the_readout_is_cleared_by_another_picture_and_read_anew_at_another_snapshot(
    explorer,
):
    recording = explorer.recording
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 2
    explorer.heatmap._on_hover(1, 7, 2, 8)  # a click on cell (1, 7)
    assert f"= <b>{recording.frame('fc', 'weight', 2)[1, 7]:.6g}</b>" in explorer.readout.value
    explorer.index = 1  # the same picture at another snapshot: the value there
    assert f"= <b>{recording.frame('fc', 'weight', 1)[1, 7]:.6g}</b>" in explorer.readout.value
    explorer.layer = "conv"  # another picture: nothing read from it yet
    assert explorer.readout.value == READOUT_HINT
    explorer.index = 2
    assert explorer.readout.value == READOUT_HINT
    explorer.layer, explorer.quantity = "fc", "weight"
    explorer.heatmap._on_hover(0, 0, 1, 1)
    explorer.quantity = "weight_grad"  # same layer, another quantity
    assert explorer.readout.value == READOUT_HINT
    explorer.heatmap._on_hover(0, 0, 1, 1)
    explorer.colour_range = "robust"  # values do not change, but the picture does
    assert explorer.readout.value == READOUT_HINT


def test_a_hover_from_markers_placed_before_is_dropped(explorer):
    """The browser reports a marker by index and centre; after the grid moved, an old marker's
    index names another block, and its centre tells it apart."""
    heatmap = explorer.heatmap
    explorer.layer, explorer.quantity = "fc", "weight"  # 5 x 20: coarse blocks of 2 x 2
    grid = heatmap.hover_grid
    coarse_x, coarse_y = np.asarray(heatmap.hover.x), np.asarray(heatmap.hover.y)
    _hover(heatmap.hover, 3, coarse_x[3], coarse_y[3])  # block rows 0-1, columns 6-7
    assert "rows 0&ndash;1, columns 6&ndash;7" in explorer.readout.value
    fine_x, fine_y = np.asarray(heatmap.hover_fine.x), np.asarray(heatmap.hover_fine.y)
    _hover(heatmap.hover, 10 + 2, coarse_x[12], coarse_y[12])  # block rows 2-3, columns 4-5
    assert "rows 2&ndash;3, columns 4&ndash;5" in explorer.readout.value
    # the browser still shows the fine markers of the first block: their index 3 means cell
    # (3, 5) of the new block now, their centre is cell (1, 7) of the old one
    _hover(heatmap.hover_fine, 3, fine_x[3], fine_y[3])
    assert "rows 2&ndash;3, columns 4&ndash;5" in explorer.readout.value  # unchanged
    now_x, now_y = np.asarray(heatmap.hover_fine.x), np.asarray(heatmap.hover_fine.y)
    _hover(heatmap.hover_fine, 3, now_x[3], now_y[3])  # a marker of the new block
    assert "row 3, column 5 &rarr; weight[3, 5]" in explorer.readout.value
    # a picture of another shape: an old coarse marker names a block of the old grid
    explorer.layer, explorer.quantity = "conv", "activation"
    assert grid.coarse.x.shape != coarse_x.shape or not np.array_equal(grid.coarse.x, coarse_x)
    _hover(heatmap.hover, 12, coarse_x[12], coarse_y[12])
    assert explorer.readout.value == READOUT_HINT
    assert HOVER_CELLS == 16  # the grids above are laid for this many markers per side


# ---------------------------------------------------------------------------- close()
def _closed(widgets) -> list:
    """The widgets that are closed (a closed widget has no comm)."""
    return [w for w in widgets if w.comm is None]


def test_close_leaves_every_widget_open_and_scrubbing_works(explorer):
    widgets = explorer._all_widgets()
    explorer.close()
    assert _closed(widgets) == []
    assert _closed(explorer._all_widgets()) == []
    explorer.index = 0  # scrubbing still draws
    assert "epoch 0" in explorer.heatmap.figure.title
    explorer.close(widget=True)
    assert len(_closed(widgets)) == len(widgets)


def test_every_widget_is_reachable_from_the_explorer_and_none_closed_at_close(explorer):
    """What Voila needs: each widget a displayed explorer refers to is open when the page
    builds it, after the whole notebook ran (a closed one left it at 'Loading widget...')."""
    explorer.close()
    assert page_builds_whole(explorer) > 50


def test_a_training_explorer_closed_is_built_whole_too():
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    explorer = TrainingExplorer(
        model, probe=torch.zeros(2, 4), optimizer=optimizer, train_epoch=lambda epoch: {}
    )
    explorer.close()  # closed the Train/Pause/Step row before: the page never built
    assert page_builds_whole(explorer) > 50
    explorer.close(widget=True)


def page_builds_whole(explorer) -> int:
    """How many widgets a page builds for ``explorer``, following each reference in their
    states from the explorer's, as the front end does; fails on a closed one."""
    by_id = {w.model_id: w for w in every_widget([explorer]) if w.comm is not None}
    stack, seen = [explorer.model_id], set()
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        assert model in by_id, "a widget the page needs is closed"
        # the state the page asks for: a closed child fails here (it has no model id)
        for value in by_id[model].get_state().values():
            for item in value if isinstance(value, list | tuple) else [value]:
                if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                    stack.append(item[len("IPY_MODEL_") :])
    return len(seen)


def test_python_traceback_of_a_refused_sample_is_short(explorer):
    explorer.layer, explorer.quantity = "fc", "weight"
    try:
        explorer.sample = 99
    except traitlets.TraitError:
        text = "".join(traceback.format_exception(*sys.exc_info()))
    assert text.count('  File "') == 2, text  # this test's line and __setattr__


def test_close_shows_every_snapshot_recorded_before_it(rng):
    """A live update still waiting for its turn (the throttle) is applied by close(), not
    dropped: the widget that stays on screen reaches the last snapshot."""
    recording = Recording()
    _declare(recording)
    recording.append_snapshot(_snapshot(rng, 0))
    explorer = TrainingExplorer(recording, min_interval=60)
    recording.append_snapshot(_snapshot(rng, 1))  # applied at once: the interval was quiet
    assert explorer._drain()  # in the explorer's thread (nnviz-live): wait for it
    recording.append_snapshot(_snapshot(rng, 2))  # due in a minute
    assert explorer.slider.max == 1
    explorer.close()
    assert explorer.slider.max == 2 and explorer.index == 2
    assert "snapshot 3 of 3" in explorer.epoch_label.value
    explorer.close(widget=True)


def test_an_empty_explorer_shows_its_sample_as_it_is_and_refuses_one_it_lacks(rng):
    recording = Recording()
    _declare(recording)
    explorer = TrainingExplorer(recording, min_interval=0.0)
    assert explorer.sample == explorer.sample_box.value == -1  # was 0, shown as "all"
    with pytest.raises(traitlets.TraitError, match="sample 99 is out of range"):
        explorer.sample = 99
    recording.append_snapshot(_snapshot(rng, 0))
    explorer._drain()
    explorer.layer, explorer.quantity = "conv", "activation"
    assert explorer.sample == explorer.sample_box.value == 0  # the default choice comes back
    explorer.close(widget=True)
