"""The Playground, without a browser: what it would send is checked against the recorded weights.

The pictures travel as PNG bytes coloured in the kernel; these tests decode them (filter 0 rows,
as ``nnviz_widgets.render.png`` writes them) and compare with what torch computes independently.
"""

from __future__ import annotations

import itertools
import json
import struct
import time
import uuid
import zlib

import numpy as np
import pytest
import torch
import traitlets

import nnviz_widgets as nv
from nnviz_widgets.render.colour import CLASSES, colourize
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.widgets.playground import forward, graph_layout


def decode_png(data: bytes) -> np.ndarray:
    """Pixels of a PNG as the Playground sends them (8-bit RGB/RGBA, one IDAT, filter 0).

    A decoder of the test's own, independent of the one the package ships.
    """
    data = bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks[kind] = data[position + 8 : position + 8 + length]
        crc = struct.unpack(">I", data[position + 8 + length : position + 12 + length])[0]
        assert crc == zlib.crc32(kind + chunks[kind]) & 0xFFFFFFFF
        position += 12 + length
    width, height, _depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {2: 3, 6: 4}[colour_type]
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8)
    rows = raw.reshape(height, width * channels + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, channels)


@pytest.fixture
def playground():
    widget = nv.Playground("xor", hidden=(3, 5), n=120, seed=1, resolution=32, node_resolution=12)
    yield widget
    widget.close()


def torch_model(widget: nv.Playground, index: int) -> torch.nn.Sequential:
    """An independent torch MLP carrying the recorded weights of snapshot ``index``."""
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}
    weights, biases = widget.weights(index)
    modules = []
    for i, (w, b) in enumerate(zip(weights, biases)):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(w)))
            linear.bias.copy_(torch.from_numpy(np.array(b)))
        modules.append(linear)
        if i < len(weights) - 1 and widget.activation in activation:
            modules.append(activation[widget.activation]())
    return torch.nn.Sequential(*modules)


def drawn_edges(widget: nv.Playground) -> list[tuple[float, float, float, float, str, float]]:
    """Every edge line on the graph: (x0, y0, x1, y1, colour, stroke width)."""
    found = []
    for mark in widget._figures.graph.edge_marks.values():
        if not mark.visible:
            continue
        x, y = np.atleast_2d(mark.x), np.atleast_2d(mark.y)
        for (x0, x1), (y0, y1) in zip(x, y):
            found.append((x0, y0, x1, y1, mark.colors[0], mark.stroke_width))
    return found


def expected_edges(widget: nv.Playground, index: int) -> dict:
    """Edge end points -> (weight) from the recording and the layout, independent of the marks."""
    lay = widget._figures.graph.layout
    weights, _ = widget.weights(index)
    expected = {}
    for column, w in enumerate(weights):
        cx, cy = lay.centre(column)
        nx, ny = lay.centre(column + 1)
        for o in range(w.shape[0]):
            for i in range(w.shape[1]):
                key = (
                    float(cx[i] + lay.node / 2),
                    float(lay.height - cy[i]),
                    float(nx[o] - lay.node / 2),
                    float(lay.height - ny[o]),
                )
                expected[key] = float(w[o, i])
    return expected


def test_the_graph_has_a_node_per_unit_and_an_edge_per_weight(playground):
    assert playground._figures.graph.layout.sizes == (2, 3, 5, 1)
    assert playground.layers == ("0", "2", "4")
    assert len(drawn_edges(playground)) == 2 * 3 + 3 * 5 + 5 * 1
    assert list(playground._figures.graph.column_labels.text) == [
        "input",
        "hidden 1",
        "hidden 2",
        "output",
    ]
    # the node picture: an opaque square where each node is, transparent elsewhere
    canvas = decode_png(playground._figures.graph.image.value)
    lay = playground._figures.graph.layout
    assert canvas.shape == (lay.height, lay.width, 4)
    opaque = canvas[:, :, 3] > 0
    expected = np.zeros_like(opaque)
    for column, count in enumerate(lay.sizes):
        assert len(lay.left[column]) == count
        for top, left in zip(lay.top[column], lay.left[column]):
            expected[top : top + lay.node, left : left + lay.node] = True
    assert np.array_equal(opaque, expected)
    assert opaque.sum() == 11 * lay.node**2


@pytest.mark.parametrize("hidden", [(), (8,), (2, 7, 4)])
def test_other_architectures_give_their_own_graphs(hidden):
    widget = nv.Playground("circles", hidden=hidden, n=40, resolution=16, node_resolution=8)
    try:
        sizes = (2, *hidden, 1)
        assert widget._figures.graph.layout.sizes == sizes
        assert len(drawn_edges(widget)) == sum(a * b for a, b in itertools.pairwise(sizes))
        assert len(widget.layers) == len(hidden) + 1
    finally:
        widget.close()


def check_edges(widget: nv.Playground, index: int) -> None:
    expected = expected_edges(widget, index)
    drawn = drawn_edges(widget)
    assert len(drawn) == len(expected)
    for x0, y0, x1, y1, colour, width in drawn:
        weight = expected.pop((float(x0), float(y0), float(x1), float(y1)))
        assert colour == (
            graph_layout.EDGE_COLOURS[1] if weight >= 0 else graph_layout.EDGE_COLOURS[0]
        )
        magnitude = abs(weight)
        # the width steps up at fixed weight magnitudes
        steps = int(np.sum(magnitude >= graph_layout.WIDTH_THRESHOLDS))
        assert width == graph_layout.WIDTHS[steps], (weight, width)
    assert not expected  # every weight has its edge


def test_edge_colours_and_widths_follow_the_selected_snapshot(playground):
    check_edges(playground, 0)
    playground.learning_rate = 0.3  # large steps: the weights move across width classes
    playground.train(5, timeout=60)
    assert playground.snapshot == 5
    check_edges(playground, 5)
    before = sorted(drawn_edges(playground))
    playground.snapshot = 0
    check_edges(playground, 0)
    assert sorted(drawn_edges(playground)) != before  # the picture changed with the weights


def test_wider_edges_mean_larger_weights():
    magnitudes = np.array([0.0, 0.05, 0.1, 0.3, 0.5, 0.99, 1.0, 1.5, 2.0, 10.0])
    widths = graph_layout.edge_width(magnitudes)
    assert np.all(np.diff(widths) >= 0)
    assert widths[0] == graph_layout.WIDTHS[0] and widths[-1] == graph_layout.WIDTHS[-1]


def test_the_decision_boundary_is_the_models_prediction_at_that_snapshot(playground):
    playground.train(4, timeout=60)
    points = torch.from_numpy(playground.grid_points())
    for index in (0, 2, 4):
        playground.snapshot = index
        with torch.no_grad():
            probability = torch.sigmoid(torch_model(playground, index)(points)[:, 0]).numpy()
        expected = probability.reshape(32, 32)
        np.testing.assert_allclose(playground.boundary(index), expected, atol=1e-5)
        # what is sent: the coloured picture of exactly these values, paled
        colours = colourize(expected, 0.0, 1.0, CLASSES).astype(np.float32)
        paled = 255 - (255 - colours) * 0.7
        sent = decode_png(playground._figures.boundary.image.value).astype(np.float32)
        assert sent.shape == (32, 32, 3)
        assert np.abs(sent - paled).max() <= 3.0  # rounding may move a value by a LUT step
        # and the class picture: blue (class 1) where torch predicts class 1
        blue = sent[:, :, 2] > sent[:, :, 0]
        confident = np.abs(expected - 0.5) > 0.01
        assert np.array_equal(blue[confident], (expected > 0.5)[confident])


def test_the_grid_runs_left_to_right_and_top_to_bottom(playground):
    points = playground.grid_points().reshape(32, 32, 2)
    assert np.all(np.diff(points[0, :, 0]) > 0)  # first coordinate grows to the right
    assert np.all(np.diff(points[:, 0, 1]) < 0)  # second coordinate falls going down
    assert points[0, 0, 0] == pytest.approx(-1.5 + 1.5 / 32)
    assert points[0, 0, 1] == pytest.approx(1.5 - 1.5 / 32)


def test_neuron_maps_are_that_neurons_output_over_the_plane(playground):
    playground.train(3, timeout=60)
    playground.snapshot = 2
    model = torch_model(playground, 2)
    size = 12
    points = torch.from_numpy(forward.grid(1.5, size))
    with torch.no_grad():
        first_hidden = model[1](model[0](points)).numpy()  # tanh of the first Linear
    canvas = decode_png(playground._figures.graph.image.value)
    lay = playground._figures.graph.layout
    for unit in range(3):
        top, left = lay.top[1][unit] + 1, lay.left[1][unit] + 1
        tile = canvas[top : top + size, left : left + size, :3].astype(np.int16)
        expected = colourize(first_hidden[:, unit].reshape(size, size), -1.0, 1.0, CLASSES)
        assert np.abs(tile - expected.astype(np.int16)).max() <= 2


def picture(widget: nv.Playground) -> tuple:
    return (
        bytes(widget._figures.graph.image.value),
        bytes(widget._figures.boundary.image.value),
        tuple(sorted(drawn_edges(widget))),
        tuple(widget._figures.losses.marker.x),
    )


def test_scrubbing_shows_exactly_that_snapshots_picture(playground):
    playground.train(6, timeout=60)
    seen = {}
    for index in range(7):
        playground.snapshot = index
        seen[index] = picture(playground)
        assert playground._controls.slider.value == index
        assert f"epoch {index}</b>" in playground._figures.losses.readout.value
    assert len({p[0] for p in seen.values()}) == 7  # every epoch looks different
    for index in (3, 0, 6, 3):
        playground.snapshot = index
        assert picture(playground) == seen[index]
    # the slider drives the same trait
    playground._controls.slider.value = 1
    assert playground.snapshot == 1 and picture(playground) == seen[1]


def test_a_snapshot_holds_the_weights_training_had_at_that_epoch():
    # a second run with the same seed trains the same way; stop it after 2 epochs and compare
    long = nv.Playground("circles", hidden=(4,), n=80, seed=5, resolution=16, node_resolution=8)
    short = nv.Playground("circles", hidden=(4,), n=80, seed=5, resolution=16, node_resolution=8)
    try:
        long.train(4, timeout=60)
        short.train(2, timeout=60)
        weights, biases = long.weights(2)
        state = short.model.state_dict()
        for name, w, b in zip(long.layers, weights, biases):
            assert torch.equal(torch.from_numpy(np.array(w)), state[f"{name}.weight"])
            assert torch.equal(torch.from_numpy(np.array(b)), state[f"{name}.bias"])
        long.snapshot = 2
        assert long._figures.boundary.image.value == short._figures.boundary.image.value
    finally:
        long.close()
        short.close()


def test_play_step_pause_from_the_buttons(playground):
    assert playground.loop.state == "idle" and playground.epochs == 0
    assert (
        not playground._controls.play_button.disabled and playground._controls.pause_button.disabled
    )
    playground._controls.step_button.click()
    playground.wait(timeout=60)
    assert playground.epochs == 1 and playground.loop.state == "paused"
    assert playground._controls.slider.max == 1 and playground.snapshot == 1
    playground._controls.step_button.click()
    playground.wait(timeout=60)
    assert playground.epochs == 2 and playground.snapshot == 2

    playground._controls.play_button.click()
    start = time.monotonic()
    while playground.epochs < 6 and time.monotonic() - start < 60:
        time.sleep(0.005)
    assert playground.epochs >= 6, "Play did not keep training"
    playground._controls.pause_button.click()
    playground.wait(timeout=60)
    assert playground.loop.state == "paused" and "paused" in playground._controls.state_label.value
    paused_at = playground.epochs
    time.sleep(0.3)
    assert playground.epochs == paused_at  # paused means paused
    # the slider and the picture followed training to the newest epoch
    assert playground._controls.slider.max == paused_at == playground.snapshot
    assert len(playground.recording) == paused_at + 1
    assert playground.recording.metric("train_loss").shape == (paused_at + 1,)
    assert (
        not playground._controls.play_button.disabled and playground._controls.pause_button.disabled
    )
    check_edges(playground, paused_at)


def test_scrubbed_back_the_picture_stays_while_training_goes_on(playground):
    playground.train(2, timeout=60)
    playground.snapshot = 1
    frozen = picture(playground)
    playground.train(3, timeout=60)
    assert playground.epochs == 5 and playground._controls.slider.max == 5
    assert playground.snapshot == 1 and picture(playground)[:3] == frozen[:3]


def test_reset_and_architecture_change_start_again_and_say_so(playground):
    playground.train(2, timeout=60)
    playground.hidden = [2]
    assert playground.epochs == 0 and playground.snapshot == 0
    assert playground._figures.graph.layout.sizes == (2, 2, 1)
    assert "Architecture changed" in playground._controls.status.value
    assert "Run 1 (2 epoch(s)) is kept" in playground._controls.status.value
    assert playground._controls.layers.value == 1 and playground._controls.neurons.value == 2
    playground.train(1, timeout=60)
    playground.dataset = "spirals"
    assert playground.data.name == "spirals" and playground.epochs == 0
    assert "Data set changed to 'spirals'" in playground._controls.status.value
    playground._controls.reset_button.click()
    assert "Reset" in playground._controls.status.value and playground.loop.state == "idle"
    # the controls for the shape drive the trait
    playground._controls.layers.value = 3
    assert playground.hidden == [2, 2, 2]


def test_learning_rate_and_regularization_apply_without_a_reset(playground):
    playground.train(1, timeout=60)
    playground.learning_rate = 0.1
    playground.regularization = 0.01
    assert playground.epochs == 1
    group = playground._run.optimizer.param_groups[0]
    assert group["lr"] == 0.1 and group["weight_decay"] == 0.01


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"dataset": "moons"}, "dataset must be one of 'circles', 'xor', 'gaussians', 'spirals'"),
        ({"activation": "softmax"}, "activation must be one of 'tanh', 'relu', 'sigmoid'"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of 'adam', 'sgd'"),
        ({"hidden": (4, 9)}, "at most 6 layers of 1 to 8 neurons"),
        ({"hidden": (1,) * 7}, "at most 6 layers"),
        ({"hidden": (0,)}, "1 to 8 neurons"),
        ({"learning_rate": 0.0}, "learning_rate must be above 0"),
        ({"regularization": -1.0}, "regularization must be from 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"noise": 3.0}, "noise must be from 0 to 1"),
        ({"n": 4}, "n must be from 8"),
    ],
)
def test_bad_arguments_raise_naming_valid_values(kwargs, words):
    with pytest.raises(traitlets.TraitError, match=words):
        nv.Playground(**kwargs)


def test_bad_values_later_are_refused_and_leave_the_run_alone(playground):
    playground.train(1, timeout=60)
    with pytest.raises(
        traitlets.TraitError, match="snapshot must be a recorded epoch, from 0 to 1"
    ):
        playground.snapshot = 2
    with pytest.raises(traitlets.TraitError, match="dataset must be one of"):
        playground.dataset = "moon"
    assert playground.epochs == 1 and playground.dataset == "xor"
    with pytest.raises(ValueError, match="resolution must be an integer from 8 to 512"):
        nv.Playground(resolution=4)
    with pytest.raises(ValueError, match='split must be "train" or "test"'):
        playground.accuracy("validation")


def test_pictures_travel_as_compact_png(playground):
    for image in (playground._figures.graph.image, playground._figures.boundary.image):
        assert image.format == "png"
        assert image.value[:8] == b"\x89PNG\r\n\x1a\n"
        state = image.get_state()
        assert isinstance(state["value"], bytes | memoryview)
    for mark in playground._figures.graph.edge_marks.values():
        assert np.asarray(mark.x).dtype.kind == "f"


def test_render_helpers_refuse_what_they_cannot_draw():
    with pytest.raises(ValueError, match=r"\(rows, columns, 4\) RGBA, got shape \(4, 4, 2\)"):
        encode_png(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="unknown activation 'gelu'; valid: 'tanh'"):
        forward.activate("gelu", np.zeros(3, dtype=np.float32))
    pixels = colourize(np.array([np.nan, -1.0, 0.0, 1.0]), -1.0, 1.0, CLASSES)
    assert pixels[0].tolist() == [255, 0, 255]  # NaN is magenta, not a plausible colour
    assert pixels[2].min() > 230  # the middle is near white
    assert pixels[1, 0] > pixels[1, 2] and pixels[3, 2] > pixels[3, 0]  # orange low, blue high
    big = np.array([-1e6, 1e6], dtype=np.float32)
    assert forward.activate("sigmoid", big).tolist() == [0.0, 1.0]  # no overflow warning


class RecordingComm:
    """Stands in for a kernel comm and keeps what would be sent."""

    kernel = "test"

    def __init__(self, log: list) -> None:
        self.log = log
        self.comm_id = uuid.uuid4().hex  # widget references name it

    def open(self, *args, **kwargs):
        pass

    def on_msg(self, *args, **kwargs):
        pass

    def close(self, *args, **kwargs):
        pass

    def send(self, data=None, metadata=None, buffers=None):
        self.log.append((data, [bytes(b) for b in buffers or ()]))


def test_a_scrub_step_sends_pictures_and_lines_as_binary_buffers(monkeypatch):
    import comm

    log: list = []
    monkeypatch.setattr(comm, "create_comm", lambda *args, **kwargs: RecordingComm(log))
    widget = nv.Playground("xor", hidden=(3,), n=40, resolution=16, node_resolution=8)
    try:
        widget.train(2, timeout=60)
        # the two picture buffers hold epochs 0 and 2: epoch 1's pictures must travel anew
        # (whichever epochs training happened to draw while it followed)
        widget.snapshot = 0
        widget.snapshot = 2
        log.clear()
        widget.snapshot = 1
        updates = [(data["state"], buffers) for data, buffers in log if data["method"] == "update"]
        assert 0 < len(updates) <= 16
        sent = b"".join(b for _, buffers in updates for b in buffers)
        assert (
            bytes(widget._figures.boundary.image.value) in sent
        )  # the PNG itself, not base64 or JSON
        assert bytes(widget._figures.graph.image.value) in sent
        for state, _ in updates:
            text = json.dumps(state, default=str)
            assert len(text) < 2000, "large data travelled as JSON instead of a buffer"
        # bqplot's Image view redraws only when the mark's image reference changes: the new
        # bytes must arrive first, then the mark must point at the widget holding them
        for mark in (widget._figures.graph.nodes.mark, widget._figures.boundary.pictures.mark):
            data = bytes(mark.image.value)
            holds = next(i for i, (_, b) in enumerate(updates) if data in b)
            points = next(
                i
                for i, (s, _) in enumerate(updates)
                if s.get("image") == f"IPY_MODEL_{mark.image.model_id}"
            )
            assert holds < points
        edge_states = [s for s, _ in updates if "x" in s and isinstance(s["x"], dict)]
        assert edge_states and all(s["x"]["dtype"] == "float32" for s in edge_states)
    finally:
        widget.close()


def test_scrubbing_while_training_runs_redraws_at_once(playground):
    playground.train(3, timeout=60)
    playground.snapshot = 1
    expected_one = picture(playground)
    playground.snapshot = 2
    expected_two = picture(playground)
    playground.play()
    try:
        for _ in range(5):  # quick moves, faster than the training thread's redraw interval
            playground.snapshot = 1
            assert picture(playground)[:3] == expected_one[:3]
            playground.snapshot = 2
            assert picture(playground)[:3] == expected_two[:3]
        assert playground.loop.state == "running"
    finally:
        playground.pause()
        playground.wait(timeout=60)
    assert playground.snapshot == 2  # scrubbed back, the picture did not jump to the newest epoch
    assert playground.epochs >= 3 and playground._controls.slider.max == playground.epochs


def test_the_users_random_state_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    widget = nv.Playground("gaussians", hidden=(2,), n=40, resolution=16, node_resolution=8)
    try:
        widget.train(2, timeout=60)
        widget.hidden = [3]
        assert torch.equal(torch.rand(3), expected)
    finally:
        widget.close()


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    runs = []
    for seed in (4, 4, 5):
        widget = nv.Playground(
            "xor", hidden=(3,), n=60, seed=seed, resolution=16, node_resolution=8
        )
        widget.train(2, timeout=60)
        runs.append([np.array(w) for w in widget.weights(2)[0]])
        widget.close()
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not np.array_equal(runs[0][0], runs[2][0])


def test_a_scrub_handled_off_the_main_thread_also_redraws_at_once(playground):
    # ipykernel may run widget message handlers on a thread that is not Python's main thread:
    # quick slider moves from there must never be mistaken for training's throttled redraws
    import threading

    playground.train(3, timeout=60)
    seen = {}
    for index in (1, 2, 3):
        playground.snapshot = index
        seen[index] = picture(playground)
    playground.snapshot = 0
    failures = []

    def scrub():
        for index in (1, 2, 3, 1, 3):
            playground.snapshot = index
            if picture(playground)[:3] != seen[index][:3]:
                failures.append(index)

    thread = threading.Thread(target=scrub)
    thread.start()
    thread.join(60)
    assert failures == []


def test_slider_moves_from_another_thread_during_training_are_never_lost(playground):
    """The kernel thread moves the slider while training adds epochs: each move shows at once.

    Training used to wrap its slider update in hold_trait_notifications, which holds every
    thread's notifications on the widget: a move arriving then was redrawn later from the
    training thread, as a throttled redraw, and could stay off screen until training stopped
    (seen in Chromium). Moves stay two epochs behind the newest, so training never follows.
    """
    import threading

    playground.train(5, timeout=60)
    seen = {}
    for index in range(4):
        playground.snapshot = index
        seen[index] = picture(playground)[:3]
    # a slow send of the new range (a busy kernel) widens the window in which training
    # updates the slider, so the test does not depend on luck to meet it
    playground._controls.slider.observe(lambda change: time.sleep(0.02), "max")
    playground.play()
    failures, moves = [], 0

    def user():
        nonlocal moves
        rng = np.random.default_rng(0)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            index = int(rng.integers(0, 4))
            playground._controls.slider.set_state(
                {"value": index}
            )  # a key press, as ipywidgets applies it
            moves += 1
            state = (playground._controls.slider.value, playground.snapshot)
            if state != (index, index) or picture(playground)[:3] != seen[index]:
                failures.append((index, state))

    thread = threading.Thread(target=user)
    try:
        thread.start()
        thread.join(60)
    finally:
        playground.pause()
        playground.wait(timeout=60)
    assert playground.epochs > 6, "training did not run beside the moves"
    assert moves > 50 and failures == [], (moves, failures[:5])


def test_browser_and_kernel_agree_on_the_slider_while_training_follows(playground):
    """Key presses from the browser against training moving the slider to each new epoch.

    Whatever the interleaving, the last value the browser was sent (an update, or the echo of
    its own change) is the value the kernel keeps and draws. Without the lock around set_state
    the user's move and training's could cross: browser at one epoch, kernel at another.
    """
    slider = playground._controls.slider
    sent = []
    send = slider._send

    def recording_send(msg, buffers=None):
        if "value" in msg.get("state", {}):
            sent.append(msg["state"]["value"])
        result = send(msg, buffers)
        if msg.get("method") == "echo_update":
            time.sleep(0.002)  # a slow kernel: the echo goes out well before the value is set
        return result

    slider._send = recording_send
    playground.train(2, timeout=60)
    playground.play()
    rng = np.random.default_rng(1)
    checks = 0

    def user():
        nonlocal checks
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            # back to the start, or to the newest epoch (where training follows again)
            slider.set_state({"value": 0 if rng.random() < 0.5 else slider.max})
            time.sleep(float(rng.uniform(0, 0.02)))
            with playground._state_lock:  # a quiet moment: nothing moves while we look
                assert sent[-1] == slider.value == playground.snapshot, (sent[-3:], slider.value)
                checks += 1

    try:
        user()  # this thread plays the kernel's; training runs in its own
    finally:
        playground.pause()
        playground.wait(timeout=60)
    assert sent[-1] == slider.value == playground.snapshot
    assert playground.epochs > 5 and checks > 50


def test_an_uneven_architecture_from_python_is_kept_and_shown(playground):
    playground.hidden = [2, 7, 4]
    assert playground.hidden == [2, 7, 4]
    assert playground._figures.graph.layout.sizes == (2, 2, 7, 4, 1)
    assert playground._controls.layers.value == 3 and playground._controls.neurons.value == 7
    playground._controls.neurons.value = 5  # the boxes set every layer alike
    assert playground.hidden == [5, 5, 5]


def test_index_and_snapshot_are_one_setting(playground):
    playground.train(3, timeout=60)
    playground.index = 1
    assert playground.snapshot == 1 == playground._controls.slider.value
    playground.snapshot = 2
    assert playground.index == 2 == playground._controls.slider.value
    playground._controls.slider.value = 0
    assert playground.index == 0 == playground.snapshot
    with pytest.raises(traitlets.TraitError, match="index must be a recorded epoch, from 0 to 3"):
        playground.index = 4
    assert playground.index == 0 == playground.snapshot


def test_after_a_reset_the_picture_follows_training_again(playground):
    playground.train(3, timeout=60)
    playground.snapshot = 0  # scrubbed back: the picture stays there while training goes on
    playground.reset()  # a new run is at its newest snapshot: following starts again
    playground.train(2, timeout=60)
    assert playground.snapshot == playground.epochs == 2
