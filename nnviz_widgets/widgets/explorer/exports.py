"""What a TrainingExplorer writes to files: the main view as a figure (``save_png``), the run as
one offline HTML page (``save_html``) and the view across snapshots as a GIF (``save_gif``).

A mixin of :class:`~nnviz_widgets.widgets.explorer.explorer.TrainingExplorer`: it reads the
explorer's picture, selection and frame cache under the explorer's lock and hands them to
``render/figure.py``, ``render/export.py`` or ``widgets/share/`` (``docs/explorer.md``,
"Export" and "Sharing a run").
"""

from __future__ import annotations

import os
from typing import Any

from nnviz_widgets.render.export import compose_export, write_png
from nnviz_widgets.render.figure import have_matplotlib, main_figure, save_figure
from nnviz_widgets.widgets.explorer.text import strip_tags

__all__ = ["ExplorerExports"]


class ExplorerExports:
    """``save_png``, ``save_html`` and ``save_gif`` of the TrainingExplorer (its ``_lock``,
    ``heatmap``, ``nonfinite``, ``quantity``, ``recording``, ``_frames`` and ``_selection()``)."""

    def save_png(self, path: str | os.PathLike, *, dpi: float | None = None) -> str:
        """Write the main view as a figure (axes, colour bar with its label, title, NaN line) to
        ``path``; returns the path. PNG, SVG or PDF by the suffix; ``dpi`` for a PNG (150).

        Drawn in the kernel from the same coloured pixels the browser shows, with matplotlib
        (``pip install "nnviz_widgets[export]"``); without it a plain ``save_png("x.png")``
        writes the picture, title and colour bar in a bitmap font (``docs/explorer.md``).
        """
        with self._lock:
            if self.heatmap.rgb is None:
                raise RuntimeError(f"nothing to export: {self.heatmap.figure.title}")
            low, high = self.heatmap.colour_limits
            parts = {
                "title": self.heatmap.figure.title,
                "low": low,
                "high": high,
                "colour_map": self.heatmap.colour_map,
                "footer": strip_tags(self.nonfinite.value),
            }
            rgb, picture, quantity = self.heatmap.rgb, self.heatmap.picture, self.quantity
        if not have_matplotlib() and dpi is None and str(path).lower().endswith(".png"):
            write_png(path, compose_export(rgb, **parts))  # the fallback without matplotlib
            return str(path)
        figure = main_figure(picture, rgb, colour_label=quantity, **parts)
        save_figure(figure, path, 150 if dpi is None else dpi)
        return str(path)

    def save_html(self, path: str, **options: Any) -> Any:
        """Write the run as one HTML file that opens offline in any browser, with no kernel:
        the pictures at every snapshot, a slider, the metrics, values under the pointer.

        Options (``docs/explorer.md``, "Sharing a run"): ``layers=`` (names, or "all"; this
        layer by default), ``quantities=`` (this one by default), ``snapshots=`` (positions, a
        slice; all by default), ``max_bytes=`` (20 MB: past it, an error says what to leave
        out), ``max_values=`` (pictures up to this many cells carry their values), ``title=``,
        ``progress=``. Returns a :class:`~nnviz_widgets.widgets.share.SavedFile` (path, size).
        """
        from nnviz_widgets.widgets.share import write_html

        with self._lock:
            selection, max_cells = self._selection(), self._frames.max_cells
        return write_html(self.recording, path, selection, max_cells, **options)

    def save_gif(self, path: str, **options: Any) -> Any:
        """Write the view on screen across snapshots as an animated GIF (needs pillow).

        Options (``docs/explorer.md``, "Sharing a run"): ``snapshots=``, ``duration=`` (seconds
        a frame, 0.5), ``size=`` (the picture's longer side, 480 pixels), ``loop=`` (0:
        forever), ``max_bytes=`` (20 MB), ``layer=``/``quantity=`` (this view by default),
        ``progress=``. Returns a :class:`~nnviz_widgets.widgets.share.SavedFile`.
        """
        from nnviz_widgets.widgets.share import write_gif

        with self._lock:
            selection, max_cells = self._selection(), self._frames.max_cells
        return write_gif(self.recording, path, selection, max_cells, **options)
