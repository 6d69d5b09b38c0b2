"""Sharing a comparison: ``RunComparison.save_html``'s offline page (a row of runs per view,
one slider over the epochs) and ``save_gif``'s animation, without a browser."""

from __future__ import annotations

import numpy as np
import pytest

import nnviz_widgets as nv
from nnviz_widgets.recording import Recording, SnapshotData
from nnviz_widgets.widgets.compare.charts import run_colour
from tests.test_share import HOSTILE, external_references, page_data


def _run(rng, epochs, scale=1.0) -> Recording:
    """fc (a 6x8 weight) and conv (four 3x3 kernels) at ``epochs``, loss = 1 / (1 + epoch)."""
    recording = Recording()
    recording.set_layers(
        {"fc": {"type": "Linear", "calls": 1}, "conv": {"type": "Conv2d", "calls": 1}}
    )
    for epoch in epochs:
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=10 * epoch,
                frames={
                    ("fc", "weight"): rng.normal(size=(6, 8)) * scale,
                    ("conv", "weight"): rng.normal(size=(4, 1, 3, 3)),
                },
                metrics={"loss": 1.0 / (1.0 + epoch)},
            )
        )
    return recording


@pytest.fixture
def comparison(rng):
    # b has no snapshot at epoch 1: there it shows epoch 0, as the widget does
    runs = {"a": _run(rng, (0, 1, 2)), "b": _run(rng, (0, 2), scale=10.0)}
    with nv.TrainingExplorer(runs) as made:
        made.layer = "fc"
        yield made


def test_page_has_a_row_of_runs_per_view_aligned_by_epoch(comparison, tmp_path):
    saved = comparison.save_html(tmp_path / "runs.html", layers=["fc", "conv"], progress=False)
    html = (tmp_path / "runs.html").read_text("utf-8")
    assert external_references(html) == [] and "default-src 'none'" in html
    assert html.count("<div class='views'>") == 2  # fc's row, conv's row
    data = page_data(html)
    names = [view["name"] for view in data["views"]]
    assert names == [
        f"{run} \u00b7 {layer} \u00b7 weight" for layer in ["fc", "conv"] for run in "ab"
    ]
    assert saved.views == tuple(names) and saved.snapshots == (0, 1, 2)
    lines = [snapshot["line"] for snapshot in data["snapshots"]]
    assert lines[1] == "epoch 1 \u00b7 2 of 3 \u00b7 b shows epoch 0"
    b_fc = data["views"][1]["frames"]
    assert [frame["title"].rsplit(" \u00b7 ", 1)[1] for frame in b_fc] == [
        "epoch 0",
        "epoch 0",
        "epoch 2",
    ]
    assert b_fc[0]["png"] == b_fc[1]["png"]  # the same snapshot, in the same range
    assert data["start"] == 2  # the epoch on screen
    for frames in zip(data["views"][0]["frames"], b_fc, strict=True):
        # one range shared by the runs, though b's weights are ten times a's
        assert len({(frame["low"], frame["high"]) for frame in frames}) == 1
    strips = [marker["name"] for marker in data["markers"]]
    assert strips == ["a: loss", "b: loss"]
    for order, strip in enumerate(strips):  # each run's strip in the run's colour
        assert f'fill="{run_colour(order)}">{strip}' in html


def test_a_page_over_max_bytes_is_not_written_and_says_what_to_drop(comparison, tmp_path):
    with pytest.raises(ValueError, match=r"max_bytes=5,000.*snapshots=slice") as raised:
        comparison.save_html(tmp_path / "big.html", layers="all", max_bytes=5_000, progress=False)
    assert "per snapshot: " in str(raised.value) and "a \u00b7 " in str(raised.value)
    assert not (tmp_path / "big.html").exists()
    with pytest.raises(ValueError, match=r"snapshot 7 is out of range.*3 snapshot"):
        comparison.save_html(tmp_path / "x.html", snapshots=[7], progress=False)


def test_a_hostile_run_name_is_text_not_markup(rng, tmp_path):
    runs = {HOSTILE: _run(rng, (0, 1)), "b": _run(rng, (0, 1))}
    with nv.TrainingExplorer(runs) as comparison:
        comparison.save_html(tmp_path / "evil.html", progress=False)
    html = (tmp_path / "evil.html").read_text("utf-8")
    assert HOSTILE not in html
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert page_data(html)["views"][0]["name"].startswith(HOSTILE)  # intact as data


def test_gif_shows_every_run_side_by_side_per_epoch(comparison, tmp_path):
    from PIL import Image

    saved = comparison.save_gif(tmp_path / "runs.gif", size=200, progress=False)
    assert saved.views == ("a \u00b7 fc \u00b7 weight", "b \u00b7 fc \u00b7 weight")
    one = nv.save_gif(comparison.runs["a"], tmp_path / "a.gif", layer="fc", size=200)
    with Image.open(tmp_path / "runs.gif") as gif, Image.open(one.path) as single:
        assert gif.n_frames == len(comparison.epochs) == 3
        assert gif.size[0] == 2 * single.size[0]  # two runs in a row
        frames = []
        for k in range(3):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB")))
    assert not np.array_equal(frames[1], frames[2])
    with pytest.raises(ValueError, match="one view"):
        comparison.save_gif(tmp_path / "x.gif", layer=["fc", "conv"], progress=False)
