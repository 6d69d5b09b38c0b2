"""Views: tensor-to-picture layout, block-mean reduction, colouring, PNG and pointer events."""

import math

import bqplot
import numpy as np
import pytest

from nnviz_widgets.render.colour import (
    DIVERGING,
    GAP_COLOUR,
    NAN_COLOUR,
    NEG_INF_COLOUR,
    POS_INF_COLOUR,
    SEQUENTIAL,
    colour_range,
    colourize,
    describe_nonfinite,
)
from nnviz_widgets.render.export import compose_export, render_text
from nnviz_widgets.render.layout import Picture, layout_frame, quantity_kind
from nnviz_widgets.render.png import decode_png, encode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.views.gradients import MOST_TICKS, GradientNormView, layer_ticks
from nnviz_widgets.views.heatmap import HOVER_CELLS, HeatmapView
from nnviz_widgets.views.histogram import HistogramView
from nnviz_widgets.views.metrics import MetricsView


def test_quantity_kinds():
    assert quantity_kind("weight") == "parameter"
    assert quantity_kind("bias_update") == "parameter"
    assert quantity_kind("activation") == "activation"
    assert quantity_kind("output_grad[2]") == "activation"
    assert quantity_kind("saliency") == "input"


def test_linear_weight_is_the_out_by_in_matrix(rng):
    weight = rng.normal(size=(7, 13)).astype(np.float32)
    picture = layout_frame(weight, "weight", layer_type="Linear", probe_shape=(4, 3, 5, 5))
    np.testing.assert_array_equal(picture.values, weight)
    assert picture.gaps is None
    assert picture.row_label == "output unit"
    assert picture.column_label == "input feature"
    assert picture.locate(2, 11) == (2, 11)


def test_first_layer_on_images_shows_one_image_per_unit(rng):
    weight = rng.normal(size=(6, 28 * 28)).astype(np.float32)
    picture = layout_frame(weight, "weight", layer_type="Linear", probe_shape=(10, 1, 28, 28))
    assert picture.tile == (28, 28)
    # 6 units in a 2 x 3 grid of 28 x 28 images with one-cell gaps
    assert picture.values.shape == (2 * 29 - 1, 3 * 29 - 1)
    unit = 4  # second row, second column of the grid
    np.testing.assert_array_equal(
        picture.values[29 : 29 + 28, 29 : 29 + 28], weight[4].reshape(28, 28)
    )
    assert picture.gaps[28].all()
    assert picture.gaps[:, 28].all()
    assert picture.locate(29 + 3, 29 + 5) == (unit, 3 * 28 + 5)
    assert picture.locate(28, 0) is None


def test_conv_kernels_form_a_mosaic_with_gaps(rng):
    weight = rng.normal(size=(4, 3, 5, 5)).astype(np.float32)
    picture = layout_frame(weight, "weight_grad", layer_type="Conv2d")
    assert picture.values.shape == (4 * 6 - 1, 3 * 6 - 1)
    np.testing.assert_array_equal(picture.values[6:11, 12:17], weight[1, 2])
    assert picture.locate(6 + 1, 12 + 4) == (1, 2, 1, 4)
    assert picture.gaps.sum() == picture.values.size - weight.size
    one = layout_frame(weight, "weight", layer_type="Conv2d", channel=3)
    np.testing.assert_array_equal(one.values[:5, :5], weight[3, 0])


def test_conv_activations_show_the_selected_sample(rng):
    activation = rng.normal(size=(5, 4, 6, 6)).astype(np.float32)
    picture = layout_frame(activation, "activation", layer_type="Conv2d", sample=2)
    assert picture.values.shape == (2 * 7 - 1, 2 * 7 - 1)
    np.testing.assert_array_equal(picture.values[7:13, 7:13], activation[2, 3])
    single = layout_frame(activation, "activation", sample=2, channel=1)
    np.testing.assert_array_equal(single.values, activation[2, 1])
    every = layout_frame(activation, "output_grad", sample=-1)
    assert every.values.shape == (5 * 7 - 1, 4 * 7 - 1)
    np.testing.assert_array_equal(every.values[14:20, 21:27], activation[2, 3])


def test_dense_activations_are_samples_by_units(rng):
    activation = rng.normal(size=(5, 9)).astype(np.float32)
    picture = layout_frame(activation, "activation", layer_type="Linear", sample=3)
    np.testing.assert_array_equal(picture.values, activation)
    assert picture.row_label == "probe sample"


def test_saliency_is_an_image_per_sample(rng):
    saliency = rng.normal(size=(3, 1, 8, 8)).astype(np.float32)
    picture = layout_frame(saliency, "saliency", sample=1)
    np.testing.assert_array_equal(picture.values, saliency[1, 0])
    flat = layout_frame(saliency.reshape(3, 64), "saliency", sample=2)
    np.testing.assert_array_equal(flat.values, saliency[2, 0])
    assert flat.locate(1, 2) == (2, 10)


def test_reduce_is_a_block_mean_with_partial_edges(rng):
    values = rng.normal(size=(10, 7)).astype(np.float32)
    reduced = reduce_picture(Picture(values, None, "r", "c", ""), 4, 3)
    assert reduced.reduction == (3, 3)
    assert reduced.values.shape == (4, 3)
    assert reduced.full_shape == (10, 7)
    for i in range(4):
        for j in range(3):
            block = values[3 * i : 3 * i + 3, 3 * j : 3 * j + 3]
            assert reduced.values[i, j] == pytest.approx(block.mean(), rel=1e-5)


def test_reduce_keeps_nan_and_inf_visible():
    values = np.zeros((64, 64), dtype=np.float32)
    values[5, 9] = np.nan
    values[40, 40] = np.inf
    reduced = reduce_picture(Picture(values, None, "r", "c", ""), 8, 8)
    assert np.isnan(reduced.values[0, 1])
    assert reduced.values[5, 5] == np.inf
    assert np.isfinite(np.delete(reduced.values.ravel(), [1, 45])).all()


def test_reduce_leaves_gaps_out_of_the_means(rng):
    weight = np.ones((40, 40, 3, 3), dtype=np.float32)
    picture = layout_frame(weight, "weight")
    reduced = reduce_picture(picture, 50, 50)
    shown = reduced.values[~reduced.gaps] if reduced.gaps is not None else reduced.values
    np.testing.assert_allclose(shown, 1.0)


def test_colourize_gives_non_finite_values_their_own_colours():
    picture = np.array([[-1.0, 0.0, 1.0], [np.nan, np.inf, -np.inf]], dtype=np.float32)
    rgb = colourize(picture, -1.0, 1.0, DIVERGING)
    table = DIVERGING.table
    assert tuple(rgb[0, 0]) == tuple(table[0])
    assert tuple(rgb[0, 2]) == tuple(table[-1])
    assert tuple(rgb[1, 0]) == NAN_COLOUR
    assert tuple(rgb[1, 1]) == POS_INF_COLOUR
    assert tuple(rgb[1, 2]) == NEG_INF_COLOUR
    gaps = np.zeros_like(picture, dtype=bool)
    gaps[0, 1] = True
    assert tuple(colourize(picture, -1, 1, DIVERGING, gaps=gaps)[0, 1]) == GAP_COLOUR
    # neither colour map contains the special colours, so they cannot be mistaken for data
    for table in (DIVERGING.table, SEQUENTIAL.table):
        for special in (NAN_COLOUR, POS_INF_COLOUR, NEG_INF_COLOUR, GAP_COLOUR):
            assert not (table == np.array(special)).all(axis=1).any()


def test_colour_ranges():
    values = np.array([-0.5, 0.2, 2.0, np.nan], dtype=np.float32)
    assert colour_range(values, signed=True) == (-2.0, 2.0)
    assert colour_range(values, signed=False) == (-0.5, 2.0)
    spiky = np.concatenate([np.linspace(0, 1, 1000), [1000.0]]).astype(np.float32)
    low, high = colour_range(spiky, signed=False, robust=True)
    assert high < 2.0
    assert low >= 0.0


def test_png_round_trip(rng):
    rgb = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    data = encode_png(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(decode_png(data), rgb)
    indices = rng.integers(0, 256, size=(9, 11), dtype=np.uint8)
    indexed = encode_png(indices, palette=SEQUENTIAL.palette)
    np.testing.assert_array_equal(decode_png(indexed), SEQUENTIAL.palette[indices])


def test_describe_nonfinite_counts_and_places():
    frame = np.zeros((3, 4), dtype=np.float32)
    frame[1, 2] = np.nan
    frame[2, 3] = -np.inf
    text = describe_nonfinite(frame)
    assert "1 NaN at (1, 2)" in text
    assert "1 -Inf at (2, 3)" in text
    assert "12 values" in text
    assert describe_nonfinite(np.ones(3)) == ""


def test_heatmap_sends_a_png_not_a_list(rng):
    view = HeatmapView(max_cells=(32, 32))
    values = rng.normal(size=(100, 80)).astype(np.float32)
    view.show(Picture(values, None, "rows", "columns", ""), -3, 3, DIVERGING, title="t")
    state = view.png.get_state()
    assert isinstance(state["value"], bytes | memoryview)
    shown = decode_png(bytes(state["value"]))
    assert shown.shape == (25, 27, 3)  # 100x80 in blocks of 4x3
    np.testing.assert_array_equal(
        shown, colourize(reduce_picture(view.picture, 32, 32).values, -3, 3, DIVERGING)
    )
    np.testing.assert_array_equal(view.image.x, [-0.5, 79.5])
    assert view.x_axis.label == "columns"
    assert view.y_axis.label == "rows"


def test_each_new_picture_reaches_the_mark_through_a_new_image_widget(rng):
    # bqplot's Image view redraws on `change:image` only: a new value in the same widget would
    # leave the old picture on screen, so the mark must point at another widget each time
    view = HeatmapView(max_cells=(32, 32))
    marks_images, values_sent = [], []
    for _ in range(3):
        values = rng.normal(size=(8, 8)).astype(np.float32)
        view.show(Picture(values, None, "rows", "columns", ""), -3, 3, DIVERGING, title="t")
        marks_images.append(view.image.image)
        values_sent.append(bytes(view.image.image.value))
        np.testing.assert_array_equal(
            decode_png(values_sent[-1]), colourize(values, -3, 3, DIVERGING)
        )
    assert marks_images[0] is not marks_images[1]
    assert marks_images[1] is not marks_images[2]
    assert view.png is view.image.image


def _hover(mark, index):
    mark._handle_custom_msgs(None, {"event": "hover", "data": {"index": index}})


def test_hover_and_click_messages_report_cells(rng):
    seen = []
    view = HeatmapView(on_hover=lambda *cell: seen.append(cell))
    view.show(
        Picture(np.zeros((10, 130), np.float32), None, "", "", ""), -1, 1, DIVERGING, title=""
    )
    # 130 columns make square blocks of 9 cells a side: 2 x 15 coarse markers
    assert HOVER_CELLS == 16
    assert len(view.hover.x) == 2 * 15 and len(view.hover_fine.x) == 0
    _hover(view.hover, 15 + 2)  # second row of blocks, third column of blocks
    assert seen[-1] == (9, 18, 10, 27)  # the last block row holds only row 9
    # that block got single-cell markers above it: one more move reads one value
    assert len(view.hover_fine.x) == 1 * 9
    np.testing.assert_array_equal(view.hover_fine.x, np.arange(18, 27))
    np.testing.assert_array_equal(view.hover_fine.y, np.full(9, 9.0))
    _hover(view.hover_fine, 4)
    assert seen[-1] == (9, 22, 10, 23)
    view.image._handle_custom_msgs(
        None, {"event": "element_click", "data": {"click_x": 7.2, "click_y": 3.9}}
    )
    assert seen[-1] == (4, 7, 5, 8)


def test_a_wide_matrix_gets_taller_cells_and_markers_to_match():
    from nnviz_widgets.views.geometry import MATRIX_STRETCH, PLOT_HEIGHT, PLOT_WIDTH

    view = HeatmapView()
    view.show(Picture(np.zeros((10, 84), np.float32), None, "", "", ""), -1, 1, DIVERGING,
              title="")  # fmt: skip
    width = PLOT_WIDTH / 84  # the columns fill the width
    height = PLOT_HEIGHT / (view.y_scale.max - view.y_scale.min)
    assert height == pytest.approx(MATRIX_STRETCH * width)  # not a 49-pixel strip
    # the pointer's markers cover their blocks: rectangles as tall as the cells
    side = 6  # 84 columns in blocks of 6 cells a side
    assert 10**view.hover.default_skew == pytest.approx(MATRIX_STRETCH, rel=0.05)
    assert view.hover.default_size == math.ceil(side * width) * math.ceil(side * height)
    # a mosaic's tiles keep their look: its cells stretch at most 1.5x
    tiles = Picture(np.zeros((11, 100), np.float32), None, "", "", "", tile=(5, 5))
    view.show(tiles, -1, 1, DIVERGING, title="")
    height = PLOT_HEIGHT / (view.y_scale.max - view.y_scale.min)
    assert height == pytest.approx(1.5 * PLOT_WIDTH / 100)
    # a picture of the plot area's shape keeps square cells
    view.show(Picture(np.zeros((30, 30), np.float32), None, "", "", ""), -1, 1, DIVERGING,
              title="")  # fmt: skip
    assert view.hover.default_skew == 0.0


def test_hover_reaches_every_cell_of_a_large_picture_with_few_markers():
    """A 300 x 300 picture: at most 2 * 16**2 markers, and three moves read any one cell."""
    seen = []
    view = HeatmapView(on_hover=lambda *cell: seen.append(cell))
    size = 300
    view.show(Picture(np.zeros((size, size), np.float32), None, "", "", ""), -1, 1, DIVERGING,
              title="")  # fmt: skip
    target = (277, 123)

    def marker_over(mark, row, column):
        # the marker whose square holds the cell's centre, as the browser's hit test finds it
        # (squares are rounded up to whole pixels, so neighbours may overlap by a fraction)
        half = math.sqrt(mark.default_size) / 2 / view.hover_grid.cell_pixels()
        distance = np.maximum(np.abs(mark.x - column), np.abs(mark.y - row))
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= half else None

    for _ in range(4):
        fine = marker_over(view.hover_fine, *target) if len(view.hover_fine.x) else None
        if fine is not None:
            _hover(view.hover_fine, fine)  # the fine grid lies above the coarse one
        else:
            _hover(view.hover, marker_over(view.hover, *target))
        assert len(view.hover.x) + len(view.hover_fine.x) <= 2 * HOVER_CELLS**2
        row, column, row_end, column_end = seen[-1]
        assert row <= target[0] < row_end and column <= target[1] < column_end
        if row_end - row == 1 and column_end - column == 1:
            break
    assert seen[-1] == (277, 123, 278, 124)
    assert len(seen) == 3  # blocks of 19 cells a side, then 2, then the cell


def test_gradient_norm_log_axes_have_limits_and_decade_ticks_from_the_start():
    """bqplot 0.13 fails to render a log axis with num_ticks over an empty domain (seen in
    JupyterLab: the figure then never showed its axes or later titles): so the log scales
    carry explicit limits and decade ticks, before any data and after."""
    view = GradientNormView()
    for scale in (view.norm_scale, view.history_scale):
        assert scale.min is not None and scale.max is not None and 0 < scale.min < scale.max
    for axis in view.norm_axes:
        assert axis.num_ticks is None
        np.testing.assert_allclose(axis.tick_values, [1e-3, 1e-2, 1e-1, 1.0])
    # norms from 3e-7 to 20: decades 1e-7 .. 1e2, labelled every other decade (at most 6)
    norms = {"conv": np.array([3e-7, 1e-6]), "fc": np.array([5.0, 20.0])}
    view.show(np.array([0.0, 1.0]), norms, 1)
    assert view.norm_scale.min < 3e-7 and view.norm_scale.max > 20
    assert (view.norm_scale.min, view.norm_scale.max) == (
        view.history_scale.min,
        view.history_scale.max,
    )
    np.testing.assert_allclose(view.norm_axes[0].tick_values, [1e-7, 1e-5, 1e-3, 1e-1, 10.0])
    # scrubbing keeps the range: the same history, another snapshot
    before = (view.norm_scale.min, view.norm_scale.max)
    view.show(np.array([0.0, 1.0]), norms, 0)
    assert (view.norm_scale.min, view.norm_scale.max) == before
    np.testing.assert_allclose(view.across.y, [3e-7, 5.0])
    # nothing recorded any more (another recording): back to the empty limits, no error
    view.show(np.array([0.0]), {}, 0)
    np.testing.assert_allclose(view.norm_axes[1].tick_values, [1e-3, 1e-2, 1e-1, 1.0])


def test_layer_ticks_are_names_when_they_fit_else_places():
    assert layer_ticks(["conv", "fc", "out"]) == (["conv", "fc", "out"], None)
    assert layer_ticks([]) == ([], None)
    names = [f"layer{k // 10}.{k % 10}.conv" for k in range(60)]
    places, ticks = layer_ticks(names)
    assert places == [str(k) for k in range(1, 61)] and ticks == MOST_TICKS
    assert layer_ticks(names[:8]) == ([str(k) for k in range(1, 9)], None)  # few: every place


def test_gradient_norms_of_sixty_layers_have_no_legend_and_highlight_one():
    chosen = []
    view = GradientNormView(on_select=chosen.append)
    layers = [f"block{k}.conv" for k in range(60)]
    norms = {layer: np.array([10.0 ** -(k % 6), 2.0]) for k, layer in enumerate(layers)}
    view.show(np.array([0.0, 1.0]), norms, 0, selected="block7.conv")
    assert not view.history.display_legend and view.history.colors == ["#8c8c8c"]
    assert len(view.history.opacities) == 60 and max(view.history.opacities) <= 0.25
    assert view.history.labels == layers  # named on hover (the tooltip's "name")
    assert list(view.across_points.names) == layers and view.layer_axis.num_ticks == MOST_TICKS
    assert list(view.across_selected.x) == ["8"]
    np.testing.assert_allclose(view.across_selected.y, [0.1])
    np.testing.assert_allclose(view.history_selected.y, [0.1, 2.0])
    assert view.history_selected.labels == ["block7.conv"]
    assert view.history_figure.title == "gradient norm history: block7.conv"
    # another layer selected, the same data: only the highlight moves
    history = view.history.y
    view.show(np.array([0.0, 1.0]), norms, 1, selected="block9.conv")
    assert view.history.y is history
    assert list(view.across_selected.x) == ["10"]
    # clicks report the layer: a point (across), a line (history); nonsense is ignored
    view.across_points._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 3}})
    view.history._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 59}})
    view.history._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 60}})
    view.history._handle_custom_msgs(None, {"event": "element_click", "data": {}})
    assert chosen == ["block3.conv", "block59.conv"]
    # a layer without norms (the input, a ReLU): nothing highlighted
    view.show(np.array([0.0, 1.0]), norms, 1, selected="relu")
    assert len(view.across_selected.x) == 0 and len(view.history_selected.y) == 0
    assert view.layer_axis.label == "60 layers with gradients, input to output"
    # three layers: their names on the axis; then nothing at all
    view.show(np.array([0.0]), {k: np.array([1.0]) for k in ("a", "b", "c")}, 0, selected="b")
    assert list(view.across.x) == ["a", "b", "c"] and view.layer_axis.num_ticks is None
    view.show(np.array([0.0]), {}, 0, selected="b")
    assert view.across_figure.title == "no gradient norms recorded"
    assert len(view.across_selected.x) == 0 and view.layers == ()


def test_metrics_click_selects_a_snapshot():
    chosen = []
    view = MetricsView(on_select=chosen.append)
    view.show(np.arange(4.0), {"loss": np.array([4.0, 3, 2, 1])}, 1)
    np.testing.assert_array_equal(view._current["loss"].x, [1.0])
    view._points["loss"]._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 3}})
    assert chosen == [3]


def test_export_layout_contains_picture_and_colour_bar(rng):
    rgb = rng.integers(0, 256, size=(10, 20, 3), dtype=np.uint8)
    image = compose_export(rgb, title="fc1 weight", low=-1, high=1, colour_map=DIVERGING)
    assert image.dtype == np.uint8
    assert image.shape[2] == 3
    factor = 520 // 20
    top = 16 + 20 + 6
    np.testing.assert_array_equal(
        image[top : top + factor, 16 : 16 + factor], np.broadcast_to(rgb[0, 0], (factor, factor, 3))
    )
    assert render_text("ab", scale=1).shape == (7, 12)
    assert render_text("A", scale=1).any()


def test_histogram_counts_match_numpy(rng):
    values = rng.normal(size=5000).astype(np.float32)
    values[:3] = [np.nan, 50.0, -50.0]
    centres, counts, title = HistogramView.count(values, -2.0, 2.0)
    expected, edges = np.histogram(
        np.clip(values[3:], -2, 2), bins=HistogramView.BINS, range=(-2, 2)
    )
    # bins may differ by rounding at their edges only
    assert np.abs(counts - expected).sum() <= 4
    assert counts.sum() == 4999
    np.testing.assert_allclose(centres, (edges[:-1] + edges[1:]) / 2)
    assert "outside the colour range" in title


def test_histogram_titles_say_what_is_counted_without_calling_it_a_sample():
    _, counts, title = HistogramView.count(np.zeros(784, np.float32), -1.0, 1.0, "sample 3")
    assert title == "histogram of sample 3: 784 values" and counts.sum() == 784
    big = np.zeros(8 * HistogramView.MOST_VALUES, np.float32)
    _, counts, title = HistogramView.count(big, -1.0, 1.0)
    assert counts.sum() == HistogramView.MOST_VALUES
    assert title == f"histogram of {HistogramView.MOST_VALUES:,} values (every 8th of {big.size:,})"
    assert "sample" not in title  # "sample" means a probe sample only
    _, _, title = HistogramView.rebin(np.array([2.0, 3.0]), 0.0, 1.0, -1.0, 1.0)
    assert title == "histogram of 5 values"


# ---------------------------------------------------------------------------- sequence models
def _distinct(rng, *shape) -> np.ndarray:
    """A frame whose values are all different, so a value names the element it came from."""
    return rng.permutation(math.prod(shape)).reshape(shape).astype(np.float32)


def _located(picture: Picture, frame: np.ndarray) -> set:
    """Check every cell against the element its ``locate`` names (None exactly on gaps, no
    element twice); returns the elements shown."""
    shown = []
    rows, columns = picture.values.shape
    for r in range(rows):
        for c in range(columns):
            where = picture.locate(r, c)
            if picture.gaps is not None and picture.gaps[r, c]:
                assert where is None, (r, c)
                continue
            assert where is not None, (r, c)
            assert picture.values[r, c] == frame[where], (r, c, where)
            shown.append(tuple(int(i) for i in where))
    assert len(shown) == len(set(shown))
    return set(shown)


def _everything(frame: np.ndarray) -> set:
    return set(np.ndindex(frame.shape))


@pytest.mark.parametrize(
    "quantity", ["in_proj_weight", "in_proj_weight_grad", "in_proj_weight_update"]
)
def test_in_proj_weight_splits_q_k_v_with_a_row_of_tiles_per_head(rng, quantity):
    weight = _distinct(rng, 3 * 8, 8)  # embed 8, 2 heads of 4
    info = {"type": "MultiheadAttention", "heads": 2}
    picture = layout_frame(weight, quantity, layer_info=info)
    assert _located(picture, weight) == _everything(weight)
    assert picture.values.shape == (2 * 5 - 1, 3 * 9 - 1)
    assert picture.tile == (4, 8)
    assert "head" in picture.row_label and "Q | K | V" in picture.column_label
    assert picture.layout.startswith(quantity)
    assert picture.locate(5, 0) == (4, 0)  # head 1's first query row
    assert picture.locate(0, 9) == (8, 0)  # head 0's first key row
    assert picture.locate(5, 18) == (20, 0)  # head 1's first value row


def test_in_proj_bias_is_a_grid_of_heads_not_a_strip(rng):
    bias = _distinct(rng, 3 * 12)  # 3 heads of 4
    picture = layout_frame(bias, "in_proj_bias_update", layer_info={"heads": 3})
    assert _located(picture, bias) == _everything(bias)
    assert picture.values.shape == (5, 14)
    assert picture.locate(2, 5) == (12 + 4,)  # head 1 of K
    # heads that do not divide the rows: the plain row of values
    plain = layout_frame(bias, "in_proj_bias", layer_info={"heads": 5})
    assert plain.values.shape == (1, 36)


def test_attention_projections_mark_their_heads(rng):
    query = _distinct(rng, 8, 6)  # separate Q projection (kdim != embed_dim), 2 heads
    picture = layout_frame(query, "q_proj_weight", layer_info={"heads": 2})
    assert _located(picture, query) == _everything(query)
    assert picture.values.shape == (9, 6) and "head" in picture.row_label
    out = _distinct(rng, 8, 8)  # the output projection reads the heads' outputs side by side
    info = {"type": "NonDynamicallyQuantizableLinear", "input_heads": 4}
    picture = layout_frame(out, "weight_grad", layer_info=info)
    assert _located(picture, out) == _everything(out)
    assert picture.values.shape == (8, 11) and "head" in picture.column_label


def test_recurrent_weights_and_biases_split_by_gate(rng):
    lstm = {"type": "LSTM", "gates": ["input", "forget", "cell", "output"]}
    weight = _distinct(rng, 4 * 3, 5)
    picture = layout_frame(weight, "weight_ih_l0", layer_info=lstm)
    assert _located(picture, weight) == _everything(weight)
    assert picture.values.shape == (3, 4 * 6 - 1)
    assert "forget" in picture.column_label and picture.row_label == "hidden unit"
    bias = _distinct(rng, 12)
    picture = layout_frame(bias, "bias_hh_l1_reverse_grad", layer_info=lstm)
    assert _located(picture, bias) == _everything(bias)
    assert picture.values.shape == (7, 3) and "forget" in picture.row_label
    gru = {"type": "GRU", "gates": ["reset", "update", "new"]}
    hidden = _distinct(rng, 9, 3)
    picture = layout_frame(hidden, "weight_hh_l0_update", layer_info=gru)
    assert _located(picture, hidden) == _everything(hidden)
    assert "reset | update | new (3 hidden units each)" in picture.column_label
    plain = layout_frame(hidden, "weight_hh_l0", layer_info={"type": "RNN", "gates": []})
    np.testing.assert_array_equal(plain.values, hidden)


def test_embedding_shows_the_rows_the_probe_reads(rng):
    table = _distinct(rng, 20, 4)
    info = {"type": "Embedding", "parameters": {"weight": [20, 4]}, "probe_rows": [2, 3, 11]}
    for quantity in ("weight", "weight_grad", "update"):
        picture = layout_frame(table, quantity, layer_info=info)
        assert _located(picture, table) == {(t, f) for t in (2, 3, 11) for f in range(4)}
        assert "probe reads" in picture.row_label and picture.column_label == "embedding feature"
    whole = layout_frame(table, "weight", layer_info={**info, "probe_rows": []})
    assert _located(whole, table) == _everything(table) and whole.row_label == "token"
    # reduced to fit: a row is no longer a token, and the labels say so
    reduced = layout_frame(table[:10], "weight", layer_info=info)
    assert reduced.values.shape == (10, 4) and "block means" in reduced.row_label


def test_row_norms_are_a_grid_of_token_ids(rng):
    norms = _distinct(rng, 37)
    picture = layout_frame(norms, "row_norm", layer_type="Embedding")
    assert _located(picture, norms) == _everything(norms)
    assert picture.values.shape == (8, 5)  # 5 tokens per row, 3 gap cells at the end
    assert picture.gaps.sum() == 3 and picture.locate(7, 1) == (36,)
    assert layout_frame(_distinct(rng, 8192), "row_norm").values.shape == (82, 100)


@pytest.mark.parametrize(
    "layer_type", ["Linear", "LayerNorm", "Embedding", "GELU", "MultiheadAttention"]
)
def test_tokens_by_features_for_modules_that_keep_features_last(rng, layer_type):
    frame = _distinct(rng, 3, 5, 7)
    info = {"type": layer_type, "channel_first": False}
    picture = layout_frame(frame, "output_grad", layer_info=info, sample=1)
    assert (picture.row_label, picture.column_label) == ("token", "feature")
    assert "5 tokens x 7 features" in picture.layout
    assert _located(picture, frame) == {i for i in _everything(frame) if i[0] == 1}
    every = layout_frame(frame, "activation", layer_info=info, sample=-1)
    assert _located(every, frame) == _everything(frame)
    # without a layer info the type alone decides
    assert layout_frame(frame, "activation", layer_type=layer_type).row_label == "token"


def test_channel_first_outputs_keep_channels_by_positions(rng):
    frame = _distinct(rng, 3, 4, 9)
    for info in (
        {"type": "Conv1d", "channel_first": True},
        {"type": "ReLU", "channel_first": True},
    ):
        picture = layout_frame(frame, "activation", layer_info=info, sample=2)
        assert (picture.row_label, picture.column_label) == ("channel", "position")
    assert layout_frame(frame, "activation", layer_type="BatchNorm1d").row_label == "channel"
    assert layout_frame(frame, "activation").row_label == "channel"  # nothing known: as before


def test_recurrent_outputs_are_time_steps_by_hidden_units(rng):
    frame = _distinct(rng, 2, 6, 8)
    gru = layout_frame(frame, "activation", layer_info={"type": "GRU", "gates": ["r"]}, sample=0)
    assert (gru.row_label, gru.column_label) == ("time step", "hidden unit")
    info = {"type": "LSTM", "gates": ["i", "f", "g", "o"], "bidirectional": True}
    both = layout_frame(frame, "activation", layer_info=info, sample=1)
    assert _located(both, frame) == {i for i in _everything(frame) if i[0] == 1}
    assert both.values.shape == (6, 9) and "forward | backward" in both.column_label
    assert both.locate(0, 5) == (1, 0, 4)  # the backward direction's first unit


def test_attention_maps_per_head_sample_and_both(rng):
    frame = _distinct(rng, 2, 3, 4, 5)  # samples, heads, target, source
    heads = layout_frame(frame, "attention", sample=1)
    assert _located(heads, frame) == {i for i in _everything(frame) if i[0] == 1}
    assert heads.tile == (4, 5) and "3 heads" in heads.layout
    one = layout_frame(frame, "attention[1]", sample=1, channel=2)
    assert _located(one, frame) == {i for i in _everything(frame) if i[:2] == (1, 2)}
    assert (one.row_label, one.column_label) == ("target position (query)", "source position (key)")
    grid = layout_frame(frame, "attention", sample=-1)
    assert _located(grid, frame) == _everything(frame)
    assert (grid.row_label, grid.column_label) == ("probe sample", "head")
    across = layout_frame(frame, "attention", sample=-1, channel=0)
    assert _located(across, frame) == {i for i in _everything(frame) if i[1] == 0}
    assert quantity_kind("attention") == quantity_kind("attention[2]") == "attention"


def test_an_integer_probe_shows_its_token_ids():
    tokens = np.arange(64).reshape(4, 16)  # 16 = 4x4 but not an image: integers are tokens
    picture = layout_frame(tokens, "probe", probe_shape=tokens.shape, sample=0)
    assert picture.values.shape == (4, 16) and picture.column_label == "token position"
    assert _located(picture, tokens) == _everything(tokens)


def test_the_histogram_draws_no_base_line_before_it_counts():
    view = HistogramView(bqplot.ColorScale())
    assert not view.bars.visible  # bqplot draws a bare base line for empty bars
    view.show(np.array([0.5, 1.5], np.float32), 0.0, 2.0)
    assert view.bars.visible
    view.show_counts(np.zeros(0), np.zeros(0), "histogram")
    assert not view.bars.visible


def test_the_charts_take_the_width_they_are_given():
    from nnviz_widgets.recording import Recording
    from nnviz_widgets.widgets.explorer import TrainingExplorer

    explorer = TrainingExplorer(Recording())
    assert explorer.histogram.figure.layout.width == "100%"
    assert explorer.gradients.across_figure.layout.flex == "1 1 445px"
    explorer.close(widget=True)
