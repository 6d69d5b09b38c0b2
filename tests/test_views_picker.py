"""The layer picker's filter box shows its whole placeholder (docs/explorer.md, "Large
models")."""

import ipywidgets

from nnviz_widgets.widgets.explorer.layer_picker import LayerPicker

#: Pixels a character of JupyterLab's 13 px widget font takes, at most, and the box's padding.
CHARACTER_PIXELS, PADDING = 7.0, 16


def test_the_filter_placeholder_fits_its_box():
    picker = LayerPicker(ipywidgets.Dropdown(), on_filter=lambda _: None)
    width = float(picker.search.layout.width.rstrip("px"))
    assert len(picker.search.placeholder) * CHARACTER_PIXELS + PADDING <= width
