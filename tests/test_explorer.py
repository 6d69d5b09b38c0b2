"""TrainingExplorer at the Python level: what each state puts into the figure, without a browser."""

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import traitlets

from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.render.colour import DIVERGING, NAN_COLOUR, SEQUENTIAL, colourize
from nnviz_widgets.render.layout import layout_frame
from nnviz_widgets.render.png import decode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer.selection import Selection

ROOT = Path(__file__).resolve().parents[1]


def _declare(recording: Recording) -> None:
    recording.set_layers(
        {
            INPUT: {"type": "input", "calls": 1},
            "conv": {"type": "Conv2d", "calls": 1},
            "relu": {"type": "ReLU", "calls": 1},
            "fc": {"type": "Linear", "calls": 1},
        }
    )
    recording.set_probe(np.zeros((3, 1, 6, 6), np.float32), np.array([0, 1, 2]))


def _snapshot(rng, epoch: int, scale: float = 1.0) -> SnapshotData:
    return SnapshotData(
        epoch=epoch,
        step=100 * epoch,
        frames={
            ("conv", "weight"): scale * rng.normal(size=(4, 1, 3, 3)),
            ("conv", "activation"): scale * rng.normal(size=(3, 4, 6, 6)),
            ("relu", "activation"): scale * np.abs(rng.normal(size=(3, 4, 6, 6))),
            ("fc", "weight"): scale * rng.normal(size=(5, 20)),
            ("fc", "weight_grad"): scale * rng.normal(size=(5, 20)),
            ("fc", "activation"): scale * rng.normal(size=(3, 5)),
            (INPUT, "probe"): rng.random((3, 1, 6, 6)),
            (INPUT, "saliency"): scale * rng.normal(size=(3, 1, 6, 6)),
        },
        statistics={("conv", "grad_norm"): 0.5 / (epoch + 1), ("fc", "grad_norm"): 0.1},
        metrics={"loss": 2.0 / (epoch + 1), "accuracy": epoch / 10},
    )


@pytest.fixture
def recording(rng):
    recording = Recording()
    _declare(recording)
    for epoch in range(4):
        # the scale grows so that a fixed colour range differs from a per-snapshot one
        recording.append_snapshot(_snapshot(rng, epoch, scale=1.0 + epoch))
    return recording


@pytest.fixture
def explorer(recording):
    explorer = TrainingExplorer(recording, min_interval=0.0)
    yield explorer
    explorer.close(widget=True)


def _shown_pixels(explorer) -> np.ndarray:
    return decode_png(bytes(explorer.heatmap.png.value))


def _expected_pixels(recording, layer, quantity, index, low, high, cmap, **layout):
    frame = recording.frame(layer, quantity, index)
    probe = recording.probe["input"]
    picture = layout_frame(frame, quantity, probe_shape=probe.shape, **layout)
    reduced = reduce_picture(picture, 400, 450)
    return colourize(reduced.values, low, high, cmap, gaps=reduced.gaps), picture


def test_starts_on_the_latest_snapshot_of_the_first_weighted_layer(explorer, recording):
    assert (explorer.index, explorer.layer, explorer.quantity) == (3, "conv", "weight")
    assert explorer.slider.max == 3
    assert explorer.play.max == 3
    assert "epoch 3" in explorer.epoch_label.value
    assert explorer.layer_box.options[0] == ("input", INPUT)
    assert list(explorer.quantity_box.options) == ["weight", "activation"]


@pytest.mark.parametrize(
    ("layer", "quantity", "index"),
    [("fc", "weight", 1), ("fc", "weight_grad", 0), ("conv", "weight", 2), ("fc", "activation", 3)],
)
def test_moving_the_state_shows_exactly_the_recorded_frame(
    explorer, recording, layer, quantity, index
):
    explorer.layer = layer
    explorer.quantity = quantity
    explorer.index = index
    # fixed range: symmetric about zero, as wide as the largest value over every snapshot
    bound = max(np.abs(recording.frame(layer, quantity, i)).max() for i in range(4))
    low, high = explorer.heatmap.colour_limits
    assert (low, high) == pytest.approx((-bound, bound))
    assert explorer.heatmap.colour_scale.min == pytest.approx(-bound)
    assert explorer.heatmap.colour_scale.colors == list(DIVERGING.anchors)
    # the colour bar: the same lookup table, high at the top, its axis spanning the range
    assert (explorer.heatmap.bar_scale.min, explorer.heatmap.bar_scale.max) == pytest.approx(
        (-bound, bound)
    )
    bar = decode_png(bytes(explorer.heatmap.bar_png.value))
    np.testing.assert_array_equal(bar[:, 0], DIVERGING.table[::-1])
    expected, picture = _expected_pixels(recording, layer, quantity, index, low, high, DIVERGING)
    np.testing.assert_array_equal(_shown_pixels(explorer), expected)
    np.testing.assert_array_equal(explorer.heatmap.picture.values, picture.values)
    assert f"{layer} \u00b7 {quantity} \u00b7 epoch {index}" in explorer.heatmap.figure.title


def test_per_snapshot_and_robust_ranges(explorer, recording):
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 0
    fixed = explorer.heatmap.colour_limits
    explorer.colour_range = "snapshot"
    bound = np.abs(recording.frame("fc", "weight", 0)).max()
    assert explorer.heatmap.colour_limits == pytest.approx((-bound, bound))
    assert bound < fixed[1]
    explorer.colour_range = "robust"
    values = recording.frame("fc", "weight", 0)
    low, high = np.percentile(values, [1, 99])
    robust = max(abs(low), abs(high))
    assert explorer.heatmap.colour_limits == pytest.approx((-robust, robust), rel=1e-5)
    assert explorer.colour_box.value == "robust"


def test_non_negative_data_gets_a_sequential_map(explorer):
    explorer.layer = "relu"
    assert explorer.quantity == "activation"
    low, high = explorer.heatmap.colour_limits
    assert low == 0.0
    assert high > 0
    assert explorer.heatmap.colour_map is SEQUENTIAL
    bar = decode_png(bytes(explorer.heatmap.bar_png.value))
    np.testing.assert_array_equal(bar[:, 0], SEQUENTIAL.table[::-1])
    assert explorer.heatmap.colour_scale.colors == list(SEQUENTIAL.anchors)


def test_sample_and_channel_select_what_is_shown(explorer, recording):
    explorer.layer, explorer.quantity = "conv", "activation"
    explorer.sample = 1
    explorer.channel = 2
    np.testing.assert_array_equal(
        explorer.heatmap.picture.values, recording.frame("conv", "activation", 3)[1, 2]
    )
    assert not explorer.channel_box.disabled
    assert len(explorer.channel_box.options) == 5
    assert explorer.sample_box.options[2] == ("1 (label 1)", 1)
    with pytest.raises(traitlets.TraitError, match="channel 9 is out of range"):
        explorer.channel = 9
    explorer.layer = "fc"  # the same quantity family is kept; dense: nothing to choose
    assert explorer.quantity == "activation"
    assert explorer.channel == -1
    assert explorer.channel_box.disabled
    assert explorer.sample_box.disabled
    explorer.layer = "relu"
    explorer.layer = "conv"
    assert explorer.quantity == "activation"
    assert explorer.sample == 1


def test_input_pseudo_layer_is_offered_as_input(explorer, recording):
    explorer.layer = "input"  # the label the dropdown shows works from code too
    assert explorer.layer == INPUT
    explorer.quantity = "saliency"
    explorer.sample = 2
    np.testing.assert_array_equal(
        explorer.heatmap.picture.values, recording.frame(INPUT, "saliency", 3)[2, 0]
    )
    assert explorer.heatmap.figure.title.startswith("input \u00b7 saliency")


def test_unknown_layer_or_quantity_names_the_valid_ones(explorer):
    with pytest.raises(traitlets.TraitError, match="valid layers: 'input', 'conv', 'relu', 'fc'"):
        explorer.layer = "fc9"
    with pytest.raises(traitlets.TraitError, match="valid quantities: 'weight', 'activation'"):
        explorer.quantity = "gradient"
    with pytest.raises(traitlets.TraitError, match="out of range"):
        explorer.index = 4
    assert explorer.layer == "conv"


def test_a_large_frame_is_reduced_and_the_title_says_so(rng):
    recording = Recording()
    recording.set_layers({"big": {"type": "Linear", "calls": 1}})
    weight = rng.normal(size=(1000, 1200)).astype(np.float32)
    recording.append_snapshot(SnapshotData(epoch=0, step=0, frames={("big", "weight"): weight}))
    explorer = TrainingExplorer(recording)
    shown = _shown_pixels(explorer)
    assert shown.shape == (334, 400, 3)  # blocks of 3x3
    means = weight[:999, :1200].reshape(333, 3, 400, 3).mean(axis=(1, 3))
    low, high = explorer.heatmap.colour_limits
    np.testing.assert_array_equal(shown[:333], colourize(means, low, high, DIVERGING))
    assert "reduced 1000x1200 to 334x400 (block mean of 3x3)" in explorer.heatmap.figure.title
    # the axes still count the frame's rows and columns, not the reduced picture's
    np.testing.assert_array_equal(explorer.heatmap.image.x, [-0.5, 1199.5])
    explorer.close(widget=True)


def test_nan_gets_its_colour_and_a_line_of_text(rng):
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
    weight = rng.normal(size=(4, 6)).astype(np.float32)
    weight[2, 3] = np.nan
    weight[0, 1] = np.inf
    recording.append_snapshot(SnapshotData(epoch=0, step=0, frames={("fc", "weight"): weight}))
    explorer = TrainingExplorer(recording)
    shown = _shown_pixels(explorer)
    assert tuple(shown[2, 3]) == NAN_COLOUR
    assert (shown.reshape(-1, 3) == NAN_COLOUR).all(axis=1).sum() == 1
    text = explorer.nonfinite.value
    assert "1 NaN at (2, 3)" in text
    assert "1 +Inf at (0, 1)" in text
    assert "magenta" in text
    # the finite values set the colour range; the NaN and Inf do not break it
    finite = weight[np.isfinite(weight)]
    assert explorer.heatmap.colour_limits[1] == pytest.approx(np.abs(finite).max())
    explorer.close(widget=True)


def test_an_empty_recording_comes_alive_on_the_first_snapshot(rng):
    recording = Recording()
    explorer = TrainingExplorer(recording, min_interval=0.0)
    assert explorer.heatmap.figure.title == "no snapshots yet"
    assert "no snapshots yet" in explorer.epoch_label.value
    _declare(recording)
    recording.append_snapshot(_snapshot(rng, 0))
    explorer._drain()
    assert explorer.layer == "conv"
    assert explorer.quantity == "weight"
    # the controls show the state too
    assert explorer.layer_box.value == "conv"
    assert explorer.quantity_box.value == "weight"
    assert explorer.heatmap.figure.title.startswith("conv \u00b7 weight \u00b7 epoch 0")
    assert _shown_pixels(explorer).shape == (7, 7, 3)  # 4 kernels of 3x3 in a 2x2 mosaic
    explorer.close(widget=True)


def test_follow_latest_and_scrubbing_back(explorer, recording, rng):
    assert explorer.follow_latest
    explorer.slider.value = 1  # what a user's drag does
    assert explorer.index == 1
    assert not explorer.follow_latest
    assert not explorer.follow_box.value
    recording.append_snapshot(_snapshot(rng, 4))
    explorer._drain()
    assert explorer.index == 1
    assert explorer.slider.max == 4
    explorer.follow_box.value = True
    assert explorer.index == 4
    assert explorer.slider.value == 4
    assert "epoch 4" in explorer.heatmap.figure.title
    assert "epoch 4" in explorer.epoch_label.value


def test_new_dropdown_options_never_pass_through_the_traits(explorer):
    """A Dropdown selects its first option when its options change: the traits never see it."""
    explorer.layer = "relu"
    assert explorer.quantity == "activation"
    seen = []
    explorer.observe(lambda change: seen.append(change["new"]), names=["quantity", "sample"])
    explorer.layer = "conv"  # the quantity box now offers "weight" first
    assert seen == []
    assert explorer.quantity_box.value == "activation"
    assert list(explorer.quantity_box.options) == ["weight", "activation"]
    explorer.quantity_box.set_state({"index": 0})  # what a pick in the browser sends
    assert explorer.quantity == "weight"
    # weights have no samples: the sample becomes "all", as its dropdown shows (issue 13)
    assert sorted(map(str, seen)) == ["-1", "weight"]
    assert explorer.sample == explorer.sample_box.value == -1


def test_an_index_set_before_the_range_grows_reaches_the_slider(recording, rng):
    explorer = TrainingExplorer(recording, min_interval=10)
    explorer.follow_latest = False
    recording.append_snapshot(_snapshot(rng, 4))  # applied at once: the interval was quiet
    assert explorer._drain()  # in the explorer's thread: wait for it
    recording.append_snapshot(_snapshot(rng, 5))  # due in ten seconds
    explorer.index = 5  # from code: the slider cannot show it yet
    assert explorer.slider.value == 4
    explorer._live.flush()  # the update that was due
    assert explorer.slider.max == 5
    assert explorer.slider.value == explorer.play.value == 5
    explorer.close(widget=True)


def test_play_is_linked_to_the_slider_in_the_browser(explorer):
    link = explorer.play_link
    assert link.get_state()["_model_name"] == "LinkModel"  # a jslink, not a kernel link
    assert link.source == (explorer.play, "value")
    assert link.target == (explorer.slider, "value")
    assert explorer.play.max == explorer.slider.max == 3


def test_listener_update_from_another_thread(explorer, recording, rng):
    errors = []
    snapshot = _snapshot(rng, 4)

    def train():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                recording.append_snapshot(snapshot)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    explorer._drain()
    assert errors == []
    assert explorer.index == 4
    assert explorer.follow_latest  # the explorer moving to the newest is not a scrub back
    assert explorer.error.value == ""
    assert "epoch 4" in explorer.heatmap.figure.title


def test_small_frames_are_prepared_for_the_whole_run(explorer):
    explorer.layer, explorer.quantity = "fc", "weight"
    assert explorer._frames.wait(timeout=10)  # queued work is done
    selection = Selection.of(explorer)
    prepared = {index for index in range(4) if selection.at(index) in explorer._frames}
    assert prepared == {0, 1, 2, 3}  # a jump anywhere is warm


def test_live_updates_are_throttled(recording, rng):
    explorer = TrainingExplorer(recording, min_interval=0.3)
    draws = []
    original = explorer.heatmap.show
    explorer.heatmap.show = lambda *a, **k: (draws.append(1), original(*a, **k))
    for epoch in range(4, 14):
        recording.append_snapshot(_snapshot(rng, epoch))
    explorer._drain()
    assert len(draws) <= 3  # ten snapshots in a burst, a few redraws
    assert explorer.index == 13
    assert "epoch 13" in explorer.heatmap.figure.title
    explorer.close(widget=True)


def test_a_failing_view_shows_the_error_and_never_raises(explorer, recording, rng):
    def broken(*args, **kwargs):
        raise ValueError("histogram exploded")

    explorer.histogram.show_counts = broken
    recording.append_snapshot(_snapshot(rng, 4))  # the listener path: must not raise
    explorer._drain()
    assert "histogram exploded" in explorer.error.value
    assert "main view" in explorer.error.value
    explorer.index = 2  # the user path: shown, not raised
    assert "histogram exploded" in explorer.error.value
    assert explorer.gradients.across_figure.title.endswith("epoch 2")


def test_pointer_readout(explorer, recording):
    explorer.layer, explorer.quantity, explorer.index = "fc", "weight", 2
    frame = recording.frame("fc", "weight", 2)  # 5 x 20: coarse blocks of 2 x 2 cells
    heatmap = explorer.heatmap
    heatmap.hover._handle_custom_msgs(None, {"event": "hover", "data": {"index": 3}})
    block = frame[0:2, 6:8]
    assert "rows 0&ndash;1, columns 6&ndash;7 (4 values)" in explorer.readout.value
    assert f"mean <b>{block.mean():.4g}</b>" in explorer.readout.value
    # the block now has one marker per cell above it: the next move reads a single value
    heatmap.hover_fine._handle_custom_msgs(None, {"event": "hover", "data": {"index": 2 + 1}})
    assert f"weight[1, 7] = <b>{frame[1, 7]:.6g}</b>" in explorer.readout.value


def test_metrics_click_jumps_to_that_snapshot(explorer):
    explorer.metrics_view._points["loss"]._handle_custom_msgs(
        None, {"event": "element_click", "data": {"index": 1}}
    )
    assert explorer.index == 1
    assert not explorer.follow_latest
    np.testing.assert_array_equal(explorer.metrics_view._current["loss"].y, [1.0])


def test_gradient_norm_views_follow_the_index(explorer):
    explorer.index = 1
    np.testing.assert_allclose(explorer.gradients.across.y, [0.25, 0.1])
    assert list(explorer.gradients.across.x) == ["conv", "fc"]
    np.testing.assert_allclose(explorer.gradients.cursor.x, [1.0, 1.0])


def test_a_missing_frame_says_why(rng):
    recording = Recording()
    recording.set_layers({"fc": {"type": "Linear", "calls": 1}})
    recording.append_snapshot(
        SnapshotData(
            epoch=0,
            step=0,
            frames={("fc", "weight"): rng.normal(size=(2, 2))},
            missing={("fc", "weight_grad"): "no optimizer step ran before this snapshot"},
        )
    )
    explorer = TrainingExplorer(recording)
    explorer.quantity = "weight_grad"
    assert "no optimizer step ran" in explorer.heatmap.figure.title
    explorer.close(widget=True)


def test_export_writes_a_valid_png(explorer, tmp_path):
    path = explorer.save_png(tmp_path / "view.png")
    data = Path(path).read_bytes()
    with PIL.Image.open(path) as file:  # matplotlib's PNG filters rows: read it with pillow
        image = np.asarray(file.convert("RGB"))
    assert image.shape[0] > 100
    assert image.shape[1] > 300
    shown = explorer.heatmap.rgb
    # the picture appears scaled up by a whole factor; its first cell is in the top-left block
    assert (image == shown[0, 0]).all(axis=2).any()
    assert len(data) < 300_000


def test_nothing_to_export_when_empty():
    explorer = TrainingExplorer(Recording())
    with pytest.raises(RuntimeError, match="no snapshots yet"):
        explorer.save_png("never.png")


def test_state_on_the_wire_is_bytes(explorer):
    explorer.index = 0
    state = explorer.heatmap.png.get_state()
    assert isinstance(state["value"], bytes | memoryview)
    assert explorer.get_state()["index"] == 0
    for name in ("index", "layer", "quantity", "sample", "channel", "colour_range"):
        assert TrainingExplorer.class_traits()[name].help


def test_from_a_recording_without_torch(tmp_path):
    # with torch made unimportable: a recording from a cluster must open on a laptop without it
    script = f"""
import sys
sys.modules['torch'] = None
import numpy as np
import nnviz_widgets as nv
from nnviz_widgets.recording import SnapshotData
recording = nv.Recording()
recording.set_layers({{'fc': {{'type': 'Linear', 'calls': 1}}}})
recording.append_snapshot(SnapshotData(epoch=0, step=0, frames={{('fc', 'weight'): np.eye(3)}}))
explorer = nv.TrainingExplorer(recording)
assert explorer.heatmap.picture is not None, explorer.error.value
explorer.save_png({str(tmp_path / "x.png")!r})
print('ok', sorted(m for m in sys.modules if m.startswith('torch')))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok ['torch']"  # only the blocking placeholder


def test_from_a_recording_directory(recording, tmp_path, rng):
    recording.save(tmp_path / "run")
    explorer = TrainingExplorer(str(tmp_path / "run"), min_interval=0.0)
    assert len(explorer.recording) == 4 and explorer.index == 3
    explorer.layer, explorer.quantity = "fc", "weight"
    np.testing.assert_array_equal(
        explorer.heatmap.picture.values, recording.frame("fc", "weight", 3)
    )
    explorer.close()
    explorer.close(widget=True)


def test_snapshot_needs_a_recorder(explorer):
    with pytest.raises(RuntimeError, match="append snapshots to the Recording"):
        explorer.snapshot(epoch=1)


def test_close_stops_listening_and_is_idempotent(recording, rng):
    explorer = TrainingExplorer(recording, min_interval=0.0)
    explorer.close()
    explorer.close()
    recording.append_snapshot(_snapshot(rng, 4))
    assert explorer.index == 3
    assert explorer.slider.max == 3
    made = explorer._all_widgets()  # what close(widget=True) closes
    for widget in (explorer.heatmap.colour_bar, explorer.heatmap.bar_png, explorer.play_link):
        assert widget in made
    assert explorer.heatmap.x_scale in made and explorer.gradients.cursor in made
    explorer.close(widget=True)


@pytest.mark.slow
def test_lenet5_trained_with_the_explorer(tmp_path):
    torch = pytest.importorskip("torch")
    import nnviz_widgets as nv

    torch.manual_seed(0)
    data = nv.datasets.digits(size=28)
    model = nv.models.LeNet5()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    explorer = nv.TrainingExplorer(
        model, probe=(data.probe_images, data.probe_labels), optimizer=optimizer, min_interval=0
    )
    assert explorer.heatmap.figure.title == "no snapshots yet"
    explorer.snapshot(epoch=0)
    images, labels = data.train_images[:256], data.train_labels[:256]
    for epoch in (1, 2):
        for start in range(0, 256, 64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                model(images[start : start + 64]), labels[start : start + 64]
            )
            loss.backward()
            optimizer.step()
        explorer.snapshot(epoch=epoch, loss=loss.item())
    explorer._drain()
    recording = explorer.recording
    assert (explorer.index, explorer.layer, explorer.quantity) == (2, "conv1", "weight")
    assert explorer.layer_box.options[0] == ("input", INPUT)
    # every quantity of every layer draws, at every snapshot, without an error
    for layer in ("conv1", "conv2", "fc1", "relu3", "input"):
        explorer.layer = layer
        for quantity in explorer.quantity_box.options:
            explorer.quantity = quantity
            for index in range(3):
                explorer.index = index
                assert explorer.error.value == "", (layer, quantity, index, explorer.error.value)
                reason = recording.missing_reason(explorer.layer, quantity, index)
                if reason is not None:
                    assert explorer.heatmap.figure.title == reason
                    continue
                frame = recording.frame(explorer.layer, quantity, index)
                picture = explorer.heatmap.picture
                if quantity == "weight" and layer == "fc1":
                    np.testing.assert_array_equal(picture.values, frame)  # 120 x 400
    explorer.layer, explorer.quantity, explorer.index = "conv1", "weight", 2
    np.testing.assert_array_equal(
        explorer.heatmap.picture.values[:5, :5], recording.frame("conv1", "weight", 2)[0, 0]
    )
    explorer.layer, explorer.quantity, explorer.sample = "input", "saliency", -1
    assert explorer.heatmap.picture.values.shape == (4 * 29 - 1, 5 * 29 - 1)  # 20 probe images
    assert explorer.gradients.across.x.tolist() == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    explorer.save_png(tmp_path / "saliency.png")
    explorer.close()
    assert explorer.recorder.closed


@pytest.mark.parametrize(
    ("control", "value", "trait"),
    [
        ("slider", 1, "index"),
        ("layer_box", "fc", "layer"),
        ("colour_box", "snapshot", "colour_range"),
    ],
)
def test_a_browser_change_during_a_live_update_is_applied_not_ignored(
    explorer, control, value, trait
):
    """A key press or click that arrives while a live update moves the controls.

    The explorer used to ignore its controls' callbacks while it moved them itself; a change
    from the browser arriving then was ignored (the control showed it, the explorer did not).
    Now the control applies it under the explorer's lock: it waits for the live update, then
    counts.
    """
    widget = getattr(explorer, control)
    assert getattr(explorer, trait) != value  # the change must be a change
    if control == "slider":
        state = {"value": value}
    else:  # a Dropdown's browser side sends the index of the option picked
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        state = {"index": values.index(value)}
    moving, release = threading.Event(), threading.Event()

    def live_update():  # what _apply_live does: holds the explorer's lock while it moves things
        with explorer._lock:
            moving.set()
            release.wait(10)

    updater = threading.Thread(target=live_update)
    updater.start()
    moving.wait(10)
    browser = threading.Thread(target=lambda: widget.set_state(state))
    browser.start()
    browser.join(0.2)
    assert browser.is_alive(), "the browser's change went through during the live update"
    release.set()
    updater.join(10)
    browser.join(10)
    assert getattr(explorer, trait) == value
    assert widget.value == value
