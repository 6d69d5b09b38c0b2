"""Tall pictures use the heatmap's space as wide ones do, and the pointer still reads the right
tensor element over their widened cells (docs/explorer.md, "Tall and wide pictures")."""

import math

import numpy as np
import pytest

from nnviz_widgets.render.colour import DIVERGING
from nnviz_widgets.render.layout import layout_frame
from nnviz_widgets.render.picture import Picture
from nnviz_widgets.views.geometry import (
    MATRIX_STRETCH,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    cell_size,
)
from nnviz_widgets.views.heatmap import HeatmapView
from nnviz_widgets.views.picture_axes import stretch_of


def _drawn(picture: Picture) -> tuple[float, float]:
    """Width and height in pixels of ``picture`` as the heatmap draws it."""
    rows, columns = picture.values.shape
    width, height = cell_size(rows, columns, stretch_of(picture))
    return width * columns, height * rows


def _conv2_mosaic() -> Picture:
    """LeNet-5's conv2 weight, 16 output x 6 input channels of 5x5 kernels, as the explorer
    lays it out."""
    weight = np.arange(16 * 6 * 5 * 5, dtype=np.float32).reshape(16, 6, 5, 5)
    return layout_frame(weight, "weight", layer_type="Conv2d")


def test_a_tall_matrix_is_no_longer_a_strip():
    picture = Picture(np.zeros((120, 10), np.float32), None, "", "", "")
    width, height = _drawn(picture)
    assert height == pytest.approx(PLOT_HEIGHT)  # the rows fill the height
    # square cells would draw it 30 pixels wide (ratio 1/12); its cells grow to 4x as wide
    assert width / height == pytest.approx(MATRIX_STRETCH * 10 / 120)
    assert 0.3 <= width / height <= 0.34
    # the mirror image: a wide matrix gets the same treatment the other way
    wide_width, wide_height = _drawn(Picture(np.zeros((10, 120), np.float32), None, "", "", ""))
    assert wide_width == pytest.approx(PLOT_WIDTH)
    assert wide_height / wide_width == pytest.approx(MATRIX_STRETCH * 10 / 120)


def test_conv2s_mosaic_is_wider_and_its_kernels_keep_their_look():
    picture = _conv2_mosaic()
    rows, columns = picture.values.shape
    assert (rows, columns) == (16 * 6 - 1, 6 * 6 - 1)  # tiles with one-cell gaps
    width, height = _drawn(picture)
    assert height == pytest.approx(PLOT_HEIGHT)
    # square cells: 35/95 = 0.37; kernels stretch at most 1.5x, so 0.55
    assert 0.5 <= width / height <= 0.6
    cell_width, cell_height = cell_size(rows, columns, stretch_of(picture))
    assert cell_width / cell_height == pytest.approx(1.5)


def test_a_near_square_picture_keeps_square_cells():
    # the plot area is wider than tall: a square image is not stretched to fill it
    for shape in ((28, 28), (30, 30), (64, 60)):
        width, height = cell_size(*shape, MATRIX_STRETCH)
        assert width == pytest.approx(height, rel=0.1)
    width, height = cell_size(28, 28, MATRIX_STRETCH)
    assert width == height


def _screen_rectangles(view: HeatmapView, mark) -> np.ndarray:
    """Each marker's ``(left, top, right, bottom)`` in plot pixels, drawn as bqplot draws it:
    a "rectangle" ``sqrt(size / 10**skew)`` wide and ``10**skew`` times as tall, turned a
    quarter turn where its rotation is 1."""
    ratio = 10**mark.default_skew
    width = math.sqrt(mark.default_size / ratio)
    height = width * ratio
    turned = np.asarray(mark.rotation, float) == 1.0
    widths = np.where(turned, height, width)
    heights = np.where(turned, width, height)
    x, y = _to_pixels(view, np.asarray(mark.x, float), np.asarray(mark.y, float))
    return np.stack([x - widths / 2, y - heights / 2, x + widths / 2, y + heights / 2], axis=1)


def _to_pixels(view: HeatmapView, x, y):
    xs, ys = view.x_scale, view.y_scale
    return (
        (x - xs.min) / (xs.max - xs.min) * PLOT_WIDTH,
        (y - ys.min) / (ys.max - ys.min) * PLOT_HEIGHT,
    )


def _point_at(view, seen, row: int, column: int) -> tuple:
    """Move the pointer to the centre of cell ``(row, column)`` as a browser would: hover the
    topmost marker under that point (fine grid above coarse, later markers above earlier),
    until one cell is reported; return the last report."""
    px, py = _to_pixels(view, np.float64(column), np.float64(row))
    for _ in range(4):
        for mark in (view.hover_fine, view.hover):
            if not len(mark.x):
                continue
            box = _screen_rectangles(view, mark)
            inside = np.flatnonzero(
                (box[:, 0] <= px) & (px <= box[:, 2]) & (box[:, 1] <= py) & (py <= box[:, 3])
            )
            if inside.size:
                index = int(inside[-1])
                data = {"index": index, "x": float(mark.x[index]), "y": float(mark.y[index])}
                mark._handle_custom_msgs(None, {"event": "hover", "data": data})
                break
        else:
            raise AssertionError(f"no marker under cell {(row, column)}")
        if seen and seen[-1][2] - seen[-1][0] == 1 and seen[-1][3] - seen[-1][1] == 1:
            return seen[-1]
    return seen[-1]


@pytest.mark.parametrize("which", ["matrix", "conv2"])
def test_the_pointer_names_the_right_tensor_index_over_widened_cells(which):
    seen = []
    view = HeatmapView(on_hover=lambda *cell: seen.append(cell))
    if which == "matrix":
        weight = np.arange(120 * 10, dtype=np.float32).reshape(120, 10)
        picture = layout_frame(weight, "weight", layer_type="Linear")
    else:
        picture = _conv2_mosaic()
    view.show(picture, -1, 1, DIVERGING, title="")
    cell_width, cell_height = view.hover_grid.cell_size()
    assert cell_width > 1.4 * cell_height  # widened cells ...
    # ... under markers turned a quarter turn: a bqplot skew only makes them taller
    assert set(np.asarray(view.hover.rotation).tolist()) == {1.0}
    assert len(view.hover.rotation) == len(view.hover.x)
    rng = np.random.default_rng(3)
    rows, columns = picture.values.shape
    targets = [(0, 0), (rows - 1, columns - 1), (rows // 2, 1)]
    targets += [(int(r), int(c)) for r, c in rng.integers((0, 0), (rows, columns), (12, 2))]
    for row, column in targets:
        report = _point_at(view, seen, row, column)
        assert report == (row, column, row + 1, column + 1), (row, column)
        index = picture.locate(row, column)
        if which == "matrix":
            assert index == (row, column)
        elif index is not None:  # a gap between kernels names no element
            out, inp, r, c = index
            assert (row, column) == (out * 6 + r, inp * 6 + c)


def test_a_wide_picture_keeps_upright_markers():
    view = HeatmapView()
    view.show(Picture(np.zeros((10, 84), np.float32), None, "", "", ""), -1, 1, DIVERGING,
              title="")  # fmt: skip
    assert set(np.asarray(view.hover.rotation).tolist()) == {0.0}
    view.clear("nothing")
    assert len(view.hover.rotation) == len(view.hover.x) == 0


def test_a_long_bias_is_wrapped_into_rows_not_drawn_as_a_strip():
    bias = np.arange(500, dtype=np.float32)
    picture = layout_frame(bias, "bias", layer_type="Linear")
    assert picture.values.shape == (10, 50)  # rows of a round length, about 4x as wide
    _, height = _drawn(picture)
    assert height >= 60  # a single row would be 3 pixels tall
    assert picture.row_label == "row of 50 units" and picture.gaps is None
    assert picture.locate(3, 7) == (157,) and picture.values[3, 7] == 157
    # a length that does not fill its last row: the rest are gaps and name no element
    odd = layout_frame(np.arange(84, dtype=np.float32), "bias")
    assert odd.values.shape == (5, 20)
    assert odd.gaps is not None and odd.gaps[4, 4:].all() and not odd.gaps[4, :4].any()
    assert odd.locate(4, 3) == (83,) and odd.locate(4, 4) is None
    # a short one stays a single row
    assert layout_frame(np.arange(10, dtype=np.float32), "bias").values.shape == (1, 10)


@pytest.mark.parametrize("shape", [(10, 4096), (8, 4096), (4096, 10)])
def test_a_4096_wide_layer_is_not_a_hairline_and_the_pointer_reads_it(shape):
    from nnviz_widgets.views.geometry import MIN_SIDE

    seen = []
    view = HeatmapView(on_hover=lambda *cell: seen.append(cell))
    picture = Picture(np.zeros(shape, np.float32), None, "", "", "")
    view.show(picture, -1, 1, DIVERGING, title="")
    width, height = _drawn(picture)
    assert min(width, height) >= MIN_SIDE - 1e-6  # 4x the stretch alone: 4 pixels
    for mark in (view.hover, view.hover_fine):
        # every marker a shape bqplot can draw: at most 10x as long as wide
        assert mark.default_skew <= 1.0
    assert len(view.hover.x) + len(view.hover_fine.x) <= 2 * 16**2
    rows, columns = shape
    for row, column in [(0, 0), (rows - 1, columns - 1), (rows // 2, columns // 3)]:
        before = len(seen)
        _point_at(view, seen, row, column)
        assert len(seen) > before
        first, left, end, right = seen[-1]
        # the block read lies under the pointer, to a pixel (cells a tenth of a pixel across
        # cannot be singled out), and is a few pixels across at most
        cell_width, cell_height = view.hover_grid.cell_size()
        assert (left - 1 / cell_width) <= column < right + 1 / cell_width
        assert (first - 1 / cell_height) <= row < end + 1 / cell_height
        assert (right - left) * cell_width <= 12 and (end - first) * cell_height <= 12


@pytest.mark.parametrize(
    "shape", [(10, 4096), (120, 10), (4096, 10), (10, 84), (28, 28), (300, 300), (2, 4096)]
)
def test_the_axes_tick_labels_have_room(shape):
    """Neighbouring tick labels at least a label apart on screen (ten row labels on a 96-pixel
    band overlapped), on a 1-2-5 step."""
    view = HeatmapView()
    picture = Picture(np.zeros(shape, np.float32), None, "", "", "")
    view.show(picture, -1, 1, DIVERGING, title="")
    width, height = view.hover_grid.cell_size()
    for axis, pixels, size in (
        (view.y_axis, height, 14.0),
        (view.x_axis, width, 7.0 * len(str(shape[1] - 1)) + 4),
    ):
        ticks = np.asarray(axis.tick_values)
        assert len(ticks) >= 1
        if len(ticks) > 1:
            assert np.diff(ticks).min() * pixels >= size, (axis.side, ticks)
            step = np.diff(ticks)[0]
            assert step / 10 ** np.floor(np.log10(step)) in (1, 2, 5)
