"""save_png as a publication figure: axes, ticks, colour bar with its label, title, a real font,
at a chosen DPI; SVG and PDF from the suffix; the bitmap fallback without matplotlib."""

import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from nnviz_widgets.recording import Recording, SnapshotData
from nnviz_widgets.render.figure import figure_size, main_figure, tile_ticks
from nnviz_widgets.render.mosaic import mosaic
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer import exports as exports_module


@pytest.fixture
def explorer(rng):
    recording = Recording()
    recording.set_layers({"fc3": {"type": "Linear", "calls": 1}})
    weight = rng.normal(size=(10, 84)).astype(np.float32)  # a wide matrix
    recording.append_snapshot(SnapshotData(epoch=0, step=0, frames={("fc3", "weight"): weight}))
    explorer = TrainingExplorer(recording)
    yield explorer
    explorer.close(widget=True)


def _pixels(path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("dpi", [72, 200])
def test_the_png_has_the_size_asked_for_and_is_not_blank(explorer, tmp_path, dpi):
    path = explorer.save_png(tmp_path / "fc3.png", dpi=dpi)
    pixels = _pixels(path)
    width, height = figure_size(10, 84)
    # matplotlib truncates inches x DPI to whole pixels
    assert pixels.shape[:2] == (int(height * dpi), int(width * dpi))
    assert pixels.std() > 20  # a picture, not a white page
    # the picture's own colours are in it, unsmoothed: the first cell's colour appears
    assert (pixels == explorer.heatmap.rgb[0, 0]).all(axis=2).any()


def test_save_png_with_no_new_arguments_still_writes_a_png(explorer, tmp_path):
    path = explorer.save_png(str(tmp_path / "default.png"))
    assert path == str(tmp_path / "default.png")
    width, height = figure_size(10, 84)
    assert _pixels(path).shape[:2] == (int(height * 150), int(width * 150))


def test_the_figure_says_what_it_shows(explorer):
    heatmap = explorer.heatmap
    figure = main_figure(
        heatmap.picture,
        heatmap.rgb,
        title=heatmap.figure.title,
        low=-1.0,
        high=1.0,
        colour_map=heatmap.colour_map,
        colour_label="weight",
    )
    axes, bar = figure.axes
    assert axes.get_title() == heatmap.figure.title
    assert axes.get_xlabel() == "input feature" and axes.get_ylabel() == "output unit"
    assert bar.get_ylabel() == "weight"
    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    assert labels[0] == "0" and len(labels) <= 8  # whole numbers, not crowded
    assert bar.get_ylim() == (-1.0, 1.0)  # the colour bar spans the colour range


def test_a_mosaics_ticks_count_tiles_at_their_centres():
    tiles = np.zeros((6, 5, 5), np.float32)
    picture = mosaic(tiles, noun="kernels", layout="6 kernels", index_of=lambda n, r, c: (n, r, c))
    columns = picture.values.shape[1]
    positions, labels = tile_ticks(picture, 1)
    assert labels == [str(k) for k in range((columns + 1) // 6)]
    np.testing.assert_array_equal(positions, np.arange(len(labels)) * 6 + 2)


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_svg_and_pdf_from_the_suffix(explorer, tmp_path, suffix, magic):
    path = explorer.save_png(tmp_path / f"fc3{suffix}")
    data = Path(path).read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        assert b">input feature<" in data  # text as text, not as glyph paths
    else:
        assert b"/FontFile2" in data  # TrueType embedded, not Type 3


def test_an_unknown_suffix_is_refused(explorer, tmp_path):
    with pytest.raises(ValueError, match=r"should end in \.png, \.svg, \.pdf"):
        explorer.save_png(tmp_path / "fc3.jpg")


def test_without_matplotlib(explorer, tmp_path, monkeypatch):
    monkeypatch.setattr(exports_module, "have_matplotlib", lambda: False)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    # a plain PNG: the bitmap picture, title and colour bar
    path = explorer.save_png(tmp_path / "plain.png")
    assert _pixels(path).std() > 20
    # anything more names the pip command
    with pytest.raises(ImportError, match=r'pip install "nnviz_widgets\[export\]"'):
        explorer.save_png(tmp_path / "fine.png", dpi=300)
    with pytest.raises(ImportError, match="matplotlib"):
        explorer.save_png(tmp_path / "fc3.svg")
