"""What a RunComparison writes to files: the pictures on screen as one figure (``save_png``).

A mixin of :class:`~nnviz_widgets.widgets.compare.comparison.RunComparison`: it reads the
comparison's heatmaps and panels under its lock and hands them to ``render/figure.py`` (one
panel per run, titled with the run and the epoch it shows, one colour bar), or without
matplotlib to the bitmap-font picture of ``render/export.py``, as the explorer does
(``docs/explorer.md``, "Comparing runs").
"""

from __future__ import annotations

import os

from nnviz_widgets.render.export import compose_export, write_png
from nnviz_widgets.render.figure import (
    FigurePanel,
    comparison_figure,
    have_matplotlib,
    save_figure,
)
from nnviz_widgets.widgets.compare.pictures import side_by_side
from nnviz_widgets.widgets.explorer.selection import layer_label

__all__ = ["ComparisonExports"]


class ComparisonExports:
    """``save_png`` of the RunComparison (its ``_lock``, ``heatmaps``, ``panels``, ``shown``,
    ``layer``, ``quantity`` and ``recording``)."""

    def save_png(self, path: str | os.PathLike, *, dpi: float | None = None) -> str:
        """Write the pictures on screen side by side as one figure: each titled with its run
        and the epoch it shows, with axes and ticks, under one colour bar with its label (the
        pictures share one range). PNG, SVG or PDF by the suffix; ``dpi`` for a PNG (150).
        Returns the path.

        Drawn in the kernel with matplotlib (``pip install "nnviz_widgets[export]"``); without
        it a plain ``save_png("x.png")`` writes the pictures in a bitmap font, side by side.
        """
        with self._lock:
            shown = [
                (heatmap, panel)
                for heatmap, panel in zip(self.heatmaps, self.panels, strict=True)
                if panel is not None and heatmap.rgb is not None
            ]
            if not shown:
                raise RuntimeError("nothing to export: no picture is shown")
            first = shown[0][0]
            low, high = first.colour_limits
            colour_map = first.colour_map
            difference = self.shown.mode == "difference"
            label = layer_label(self.layer, set(self.recording.layers))
            quantity = self.quantity
            parts = [
                (heatmap.rgb, heatmap.picture, panel, heatmap.figure.title)
                for heatmap, panel in shown
            ]
        if not have_matplotlib() and dpi is None and str(path).lower().endswith(".png"):
            images = [
                compose_export(rgb, title=title, low=low, high=high, colour_map=colour_map)
                for rgb, _, _, title in parts
            ]
            write_png(path, side_by_side(images))  # the fallback without matplotlib
            return str(path)
        figure = comparison_figure(
            [
                FigurePanel(picture, rgb, f"{panel.name} \u00b7 epoch {panel.epoch:g}")
                for rgb, picture, panel, _ in parts
            ],
            title=f"{label} \u00b7 {quantity}" + (" \u00b7 difference" if difference else ""),
            low=low,
            high=high,
            colour_map=colour_map,
            colour_label=f"{quantity} difference" if difference else quantity,
        )
        save_figure(figure, path, 150 if dpi is None else dpi)
        return str(path)
