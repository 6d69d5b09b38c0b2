"""Comparing runs: ``TrainingExplorer({"name": source, ...})`` at the Python level, no browser."""

from __future__ import annotations

import functools
import sys
import threading
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
import traitlets
from torch import nn

import nnviz_widgets as nv
from nnviz_widgets.render.colour import DIVERGING
from nnviz_widgets.render.figure import comparison_size
from nnviz_widgets.render.png import decode_png
from nnviz_widgets.widgets.compare import RunComparison
from nnviz_widgets.widgets.compare import exports as compare_exports
from tests import trainings

LENET_LAYER = "fc3"  # a Linear: its weights are laid out as the matrix itself


@functools.cache
def _lenet(lr: float) -> nv.Recording:
    """LeNet-5 on the 28x28 digits with SGD at ``lr``: three snapshots, three steps apart."""
    torch.manual_seed(0)
    data = nv.datasets.digits(size=28)
    model = nv.models.LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    probe = (data.probe_images[:4], data.probe_labels[:4])
    return trainings.train(
        model, optimizer, data.train_images, data.train_labels, probe, epochs=2, steps_per_epoch=3
    )


def _mlp(epochs: tuple[float, ...], sizes=(8, 6, 3), **metrics) -> nv.Recording:
    """A tiny MLP snapshotted at ``epochs`` (a step of SGD between two), loss = 1 / (1 + epoch)."""
    torch.manual_seed(0)
    model = nv.models.MLP(sizes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(16, sizes[0]), torch.randint(0, sizes[-1], (16,))
    with nv.Recorder(model, probe=(x[:4], y[:4]), optimizer=optimizer) as rec:
        for epoch in epochs:
            rec.snapshot(epoch=epoch, loss=1.0 / (1.0 + epoch), **metrics)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    return rec.recording


@pytest.fixture
def lenets():
    return {"lr=0.01": _lenet(0.01), "lr=0.5": _lenet(0.5)}


@pytest.fixture
def comparison(lenets):
    with nv.TrainingExplorer(lenets) as made:
        yield made


def test_a_dict_makes_a_comparison_and_one_source_still_an_explorer(comparison, lenets):
    assert isinstance(comparison, RunComparison)
    assert comparison.epochs == (0.0, 1.0, 2.0)
    assert comparison.index == 2  # following the newest epoch
    titles = [heatmap.figure.title for heatmap in comparison.heatmaps]
    assert titles[0].startswith("lr=0.01 \u00b7 conv1 \u00b7 weight \u00b7 epoch 2")
    assert titles[1].startswith("lr=0.5 \u00b7 conv1 \u00b7 weight \u00b7 epoch 2")
    single = nv.TrainingExplorer(lenets["lr=0.01"])
    assert isinstance(single, nv.TrainingExplorer) and not isinstance(single, RunComparison)
    single.close()


def test_the_slider_moves_every_run(comparison, lenets):
    comparison.layer = LENET_LAYER
    before = [heatmap.png.value for heatmap in comparison.heatmaps]
    comparison.slider.value = 0  # as the browser moves it
    assert comparison.index == 0 and not comparison.follow_latest
    assert comparison.shown.indices == {"lr=0.01": 0, "lr=0.5": 0}
    for heatmap, png, (name, recording) in zip(
        comparison.heatmaps, before, lenets.items(), strict=True
    ):
        assert heatmap.png.value != png  # a new picture in each
        assert "epoch 0" in heatmap.figure.title and heatmap.figure.title.startswith(name)
        np.testing.assert_array_equal(
            heatmap.picture.values, recording.frame(LENET_LAYER, "weight", 0)
        )
    assert "epoch 0" in comparison.epoch_label.value


def test_one_colour_range_shared_by_the_runs(comparison, lenets):
    comparison.layer = LENET_LAYER
    limits = {heatmap.colour_limits for heatmap in comparison.heatmaps}
    assert len(limits) == 1
    low, high = limits.pop()
    for recording in lenets.values():  # every run's values fit the one range
        for index in range(len(recording)):
            frame = recording.frame(LENET_LAYER, "weight", index)
            assert low <= frame.min() and frame.max() <= high
    assert "one range shared by the runs" in comparison.note.value


def test_difference_is_a_minus_b_centred_on_zero(comparison, lenets):
    comparison.layer = LENET_LAYER
    comparison.index = 1
    assert not comparison.mode_box.disabled
    comparison.mode_box.value = "difference"
    assert comparison.shown.mode == "difference"
    panel = comparison.panels[0]
    a, b = (r.frame(LENET_LAYER, "weight", 1) for r in lenets.values())
    np.testing.assert_allclose(panel.picture.values, a - b, rtol=0, atol=1e-7)
    assert np.abs(a - b).max() > 0  # the runs did differ
    low, high = comparison.heatmaps[0].colour_limits
    assert low == -high and high >= np.abs(a - b).max()
    assert comparison.heatmaps[0].colour_map.name == "diverging"
    assert comparison.heatmaps[0].figure.title.startswith("lr=0.01 - lr=0.5")
    pictures = comparison.heatmaps[0].widget, comparison.heatmaps[1].widget
    assert comparison.pictures.children == pictures[:1]  # one difference for two runs
    assert pictures[0].children[-1] is comparison.heatmaps[0].colour_bar
    assert "centred on zero" in comparison.note.value
    comparison.mode = "side by side"
    assert comparison.pictures.children == pictures
    assert pictures[0].children == (comparison.heatmaps[0].figure,)  # one bar, beside the last
    assert pictures[1].children[-1] is comparison.heatmaps[1].colour_bar


def test_difference_is_not_offered_when_the_shapes_differ():
    narrow, wide = _mlp((0, 1)), _mlp((0, 1), sizes=(8, 12, 3))
    with nv.TrainingExplorer({"narrow": narrow, "wide": wide}) as comparison:
        comparison.layer = "0"
        assert comparison.mode_box.disabled
        comparison.mode = "difference"
        assert comparison.shown.mode == "side by side"
        assert "the shapes differ" in comparison.shown.why_not_difference
        assert "no difference: the shapes differ ('narrow' 6x8, 'wide' 12x8)" in (
            comparison.note.value
        )


def test_runs_are_aligned_by_epoch():
    every, sparse, late = _mlp((0, 1, 2, 3)), _mlp((0, 2, 4)), _mlp((2, 3))
    runs = {"every": every, "sparse": sparse, "late": late}
    with nv.TrainingExplorer(runs) as comparison:
        assert comparison.epochs == (0.0, 1.0, 2.0, 3.0, 4.0)
        comparison.index = 1  # epoch 1: sparse shows its epoch 0, late has none yet
        assert comparison.shown.indices == {"every": 1, "sparse": 0, "late": None}
        assert "sparse shows epoch 0" in comparison.epoch_label.value
        assert "late: none yet" in comparison.epoch_label.value
        assert "no snapshot at or before epoch 1" in comparison.heatmaps[2].figure.title
        assert "epoch 0" in comparison.heatmaps[1].figure.title
        comparison.index = 4  # epoch 4: every shows 3, late 3
        assert comparison.shown.indices == {"every": 3, "sparse": 2, "late": 1}
        np.testing.assert_array_equal(
            comparison.heatmaps[0].picture.values, every.frame("0", "weight", 3)
        )


def test_metrics_and_gradient_norms_have_one_line_per_run(comparison, lenets):
    lines = comparison.metrics_view.lines
    assert list(lines) == [("lr=0.01", "loss"), ("lr=0.5", "loss")]
    assert [line.labels for line in lines.values()] == [["lr=0.01"], ["lr=0.5"]]
    assert len({line.colors[0] for line in lines.values()}) == 2
    assert all(line.display_legend for line in lines.values())
    for line, recording in zip(lines.values(), lenets.values(), strict=True):
        np.testing.assert_allclose(line.y, recording.metric("loss")[1:])  # epoch 0 has none
    comparison.layer = LENET_LAYER
    norms = comparison.gradients.lines
    assert list(norms) == list(lenets)
    assert [line.colors for line in norms.values()] == [line.colors for line in lines.values()]
    for line, recording in zip(norms.values(), lenets.values(), strict=True):
        expected = recording.statistic(LENET_LAYER, "grad_norm")
        np.testing.assert_allclose(line.y, expected[np.isfinite(expected)])
    assert comparison.gradients.figure.title == f"gradient norm of {LENET_LAYER} per run"


def test_two_metrics_are_drawn_solid_and_dashed():
    runs = {"a": _mlp((0, 1), accuracy=0.5), "b": _mlp((0, 1), accuracy=0.7)}
    with nv.TrainingExplorer(runs) as comparison:
        lines = comparison.metrics_view.lines
        assert set(lines) == {(r, m) for r in runs for m in ("loss", "accuracy")}
        assert lines["a", "loss"].line_style == "solid"
        assert lines["a", "accuracy"].line_style == "dashed"
        assert lines["a", "loss"].colors == lines["a", "accuracy"].colors


def test_clear_errors_for_bad_dicts():
    with pytest.raises(ValueError, match="nothing to compare: the dict is empty"):
        nv.TrainingExplorer({})
    with pytest.raises(TypeError, match="run names must be non-empty strings.*got 1 of type int"):
        nv.TrainingExplorer({1: _mlp((0,))})
    with pytest.raises(TypeError, match="run 'b': TrainingExplorer takes"):
        nv.TrainingExplorer({"a": _mlp((0,)), "b": 3})
    with pytest.raises(TypeError, match="takes a dict of run name to source"):
        RunComparison([_mlp((0,))])


def test_runs_without_a_shared_layer_are_refused_naming_their_layers():
    with pytest.raises(
        ValueError, match=r"share no layer.*'a': 'input', '0', '1', '2'; 'b': 'input', 'encoder'"
    ):
        nv.TrainingExplorer({"a": _mlp((0,)), "b": _one_layer("encoder")})


def _one_layer(name: str) -> nv.Recording:
    """A model with one Linear layer called ``name``, snapshotted once."""
    model = nn.Sequential()
    model.add_module(name, nn.Linear(8, 3))
    with nv.Recorder(model, probe=(torch.zeros(2, 8), torch.zeros(2, dtype=torch.long))) as rec:
        rec.snapshot(epoch=0)
    return rec.recording


def test_layers_not_in_every_run_are_named_and_left_out():
    deeper = _mlp((0, 1), sizes=(8, 6, 6, 3))  # layers 0, 2, 4 (and ReLUs 1, 3)
    with nv.TrainingExplorer({"shallow": _mlp((0, 1)), "deeper": deeper}) as comparison:
        offered = [value for _, value in comparison.layer_box.options]
        assert "4" not in offered and "0" in offered and "2" in offered
        assert "'shallow' has no '3', '4'" in comparison.note.value
        with pytest.raises(traitlets.TraitError, match="not in every run"):
            comparison.layer = "4"


def test_a_live_run_appended_while_open_updates_the_comparison():
    torch.manual_seed(0)
    model = nv.models.MLP((8, 6, 3))
    x, y = torch.randn(4, 8), torch.randint(0, 3, (4,))
    with nv.Recorder(model, probe=(x, y)) as recorder:
        recorder.snapshot(epoch=0)
        comparison = nv.TrainingExplorer({"done": _mlp((0, 1, 2)), "live": recorder})
        comparison.min_interval = 0.0
        comparison.index = 0  # scrub back: following stops
        comparison.follow_latest = True
        assert comparison.shown.indices["live"] == 0
        with torch.no_grad():
            model[0].weight.add_(1.0)
        drawn_in = []
        catch_up = comparison._catch_up
        comparison._catch_up = lambda: (
            drawn_in.append(threading.current_thread().name),
            catch_up(),
        )
        comparison.snapshot("live", epoch=2, loss=0.1)  # through the live run's Recorder
        comparison._drain()
        assert drawn_in == ["nnviz-compare-live"]  # never in the training thread
        assert comparison.index == 2 and comparison.shown.indices == {"done": 2, "live": 1}
        np.testing.assert_array_equal(
            comparison.heatmaps[1].picture.values, recorder.recording.frame("0", "weight", 1)
        )
        assert comparison.metrics_view.lines["live", "loss"].y.tolist() == pytest.approx([0.1])
        comparison.close()
        assert "nnviz-compare-live" not in [t.name for t in threading.enumerate()]
        recorder.snapshot(epoch=3)  # after close(): nothing listens any more
        assert comparison.epochs == (0.0, 1.0, 2.0)


def test_snapshot_needs_a_run_with_a_recorder(comparison):
    with pytest.raises(RuntimeError, match="runs with one: none"):
        comparison.snapshot(epoch=5)


def _pixels(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("dpi", [72, 200])
def test_save_png_is_a_figure_whose_size_follows_the_dpi(comparison, tmp_path, dpi):
    comparison.layer = LENET_LAYER
    pixels = _pixels(comparison.save_png(tmp_path / "both.png", dpi=dpi))
    width, height = comparison_size(10, 84, 2)  # fc3's weight: 10 x 84, two runs
    assert pixels.shape[:2] == (int(height * dpi), int(width * dpi))
    # each run's own colours are in it, unsmoothed
    for heatmap in comparison.heatmaps:
        assert (pixels == heatmap.rgb[0, 0]).all(axis=2).any()


def test_save_png_as_svg_has_a_panel_per_run_named_and_one_colour_bar(comparison, tmp_path):
    comparison.layer = LENET_LAYER
    data = Path(comparison.save_png(tmp_path / "both.svg")).read_text()
    assert data.count('<g id="axes_') == 3  # two pictures and one colour bar
    for name, shown in comparison.shown.indices.items():
        epoch = comparison.runs[name].snapshots[shown]
        assert f">{name} \u00b7 epoch {epoch:g}<" in data  # each panel's title, as text
    assert "input feature" in data and "fc3" in data


def test_save_png_in_difference_mode_is_centred_on_zero(comparison, tmp_path, monkeypatch):
    comparison.layer = LENET_LAYER
    comparison.mode = "difference"
    drawn, real = {}, compare_exports.comparison_figure

    def keep(panels, **parts):
        drawn["figure"] = figure = real(panels, **parts)
        drawn.update(parts, panels=panels)
        return figure

    monkeypatch.setattr(compare_exports, "comparison_figure", keep)
    comparison.save_png(tmp_path / "difference.png", dpi=50)
    assert len(drawn["panels"]) == 1 and drawn["panels"][0].title.startswith("lr=0.01 - lr=0.5")
    assert drawn["colour_map"] is DIVERGING and drawn["low"] == -drawn["high"] < 0
    assert drawn["colour_label"] == "weight difference"
    bar = drawn["figure"].axes[-1]
    assert bar.get_ylim() == (drawn["low"], drawn["high"])


def test_save_png_without_matplotlib_puts_the_pictures_side_by_side(
    comparison, tmp_path, monkeypatch
):
    monkeypatch.setattr(compare_exports, "have_matplotlib", lambda: False)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    comparison.layer = LENET_LAYER
    both = decode_png(Path(comparison.save_png(tmp_path / "both.png")).read_bytes())
    comparison.mode = "difference"  # one picture of the same shape instead of two
    one = decode_png(Path(comparison.save_png(tmp_path / "one.png")).read_bytes())
    assert both.shape[1] == 2 * one.shape[1]
    with pytest.raises(ImportError, match=r'pip install "nnviz_widgets\[export\]"'):
        comparison.save_png(tmp_path / "fine.svg")


def test_close_stops_listening_and_can_close_the_widgets(lenets):
    comparison = nv.TrainingExplorer(lenets)
    comparison.close(widget=True)
    comparison.close()  # twice is fine
    assert comparison.comm is None and comparison.heatmaps[0].figure.comm is None


def test_explorer_only_arguments_with_runs_are_refused_in_words(lenets):
    with pytest.raises(TypeError, match=r"takes no probe, train_epoch.*one run"):
        nv.TrainingExplorer(lenets, probe=object(), train_epoch=print)
