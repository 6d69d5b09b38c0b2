"""What a RunComparison writes to files: the pictures on screen as one figure (``save_png``),
the runs as one offline HTML page (``save_html``) and one view of the runs across epochs as a
GIF (``save_gif``; both through ``compare/sharing.py``).

A mixin of :class:`~nnviz_widgets.widgets.compare.comparison.RunComparison`: it reads the
comparison's heatmaps and panels under its lock and hands them to ``render/figure.py`` (one
panel per run, titled with the run and the epoch it shows, one colour bar), or without
matplotlib to the bitmap-font picture of ``render/export.py``, as the explorer does
(``docs/explorer.md``, "Comparing runs").
"""

from __future__ import annotations

import os
from typing import Any

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
    """``save_png``, ``save_html`` and ``save_gif`` of the RunComparison (its ``_lock``,
    ``heatmaps``, ``panels``, ``shown``, ``layer``, ``quantity``, ``recording``, ``runs`` and
    selection)."""

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

    def save_html(self, path: str | os.PathLike, **options: Any) -> Any:
        """Write the runs as one HTML file that opens offline in any browser, with no kernel:
        a row of runs per view (each at its latest snapshot at or before the epoch, as on
        screen, in one colour range), one slider over the epochs, the runs' metrics, values
        under the pointer.

        Options as ``TrainingExplorer.save_html``'s (``layers=``, ``quantities=``,
        ``snapshots=`` counting the comparison's epochs, ``max_bytes=``, ``max_values=``,
        ``title=``, ``progress=``). Returns a :class:`~nnviz_widgets.widgets.share.SavedFile`.
        """
        from nnviz_widgets.widgets.compare.sharing import comparison_html

        compared = self._compared()
        try:
            return comparison_html(compared, path, **options)
        finally:
            compared.close()

    def save_gif(self, path: str | os.PathLike, **options: Any) -> Any:
        """Write the view on screen for every run, side by side, across the epochs as an
        animated GIF (needs pillow). Options as ``TrainingExplorer.save_gif``'s (``snapshots=``
        counting the comparison's epochs). Returns a
        :class:`~nnviz_widgets.widgets.share.SavedFile`."""
        from nnviz_widgets.widgets.compare.sharing import comparison_gif

        compared = self._compared()
        try:
            return comparison_gif(compared, path, **options)
        finally:
            compared.close()

    def _compared(self) -> Any:
        """The runs, epochs and selection now, for a file (its frame caches to close)."""
        from nnviz_widgets.widgets.compare.sharing import ComparedRuns

        with self._lock:
            return ComparedRuns(
                dict(self.runs),
                self._epochs,
                self._at_reference(self._selection()),
                self.index,
                self._display.max_cells,
            )
