"""``save_gif``: one view across snapshots as an animated GIF, for slides.

Each frame is what ``save_png`` writes for that snapshot (``render.export``: the picture as the
explorer colours it, the title with the epoch, the colour bar with its range) and a line with
the epoch, the snapshot's place and the step. Pillow encodes the GIF; it is an optional
dependency (``pip install "nnviz_widgets[export]"``), imported only here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable

import numpy as np

from nnviz_widgets.recording import Recording
from nnviz_widgets.render.colour import ColourMap
from nnviz_widgets.render.export import compose_export
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache
from nnviz_widgets.widgets.explorer.selection import Selection
from nnviz_widgets.widgets.explorer.text import strip_tags
from nnviz_widgets.widgets.share.content import (
    Rendered,
    choose_snapshots,
    choose_views,
    rendered,
    snapshot_line,
)
from nnviz_widgets.widgets.share.progress import Progress, SavedFile, megabytes, replace_file

__all__ = ["DEFAULT_GIF_BYTES", "MAX_SIDE", "save_gif", "write_gif"]

#: Largest GIF ``save_gif`` writes unless told otherwise.
DEFAULT_GIF_BYTES = 20_000_000
#: Largest ``size`` (the picture's longer side, in pixels).
MAX_SIDE = 2000
#: The background of a snapshot without a picture (the frame still says why), and its "bar".
_MISSING_GREY = 230
#: White space under the last line of text.
_BOTTOM = 8
_MISSING_MAP = ColourMap("missing", ("#e6e6e6", "#e6e6e6"))


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            'save_gif needs pillow: pip install "nnviz_widgets[export]" (or pip install pillow)'
        ) from None
    return Image


def save_gif(
    recording: Recording,
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    quantity: str | None = None,
    snapshots: int | Iterable[int] | slice | None = None,
    colour_range: str = "fixed",
    duration: float = 0.5,
    size: int = 480,
    loop: int = 0,
    max_bytes: int = DEFAULT_GIF_BYTES,
    progress: bool = True,
) -> SavedFile:
    """Write one view of a recording across snapshots as an animated GIF.

    ``TrainingExplorer.save_gif`` does the same for the view an explorer shows; parameters as
    there (``layer=None`` takes the layer the explorer would open on).
    """
    if not isinstance(recording, Recording):
        raise TypeError(
            f"save_gif takes a Recording, not {type(recording).__name__} (for the view an "
            "explorer shows, call explorer.save_gif(path))"
        )
    return write_gif(
        recording,
        path,
        Selection(colour_range=colour_range),
        (400, 450),
        layer=layer,
        quantity=quantity,
        snapshots=snapshots,
        duration=duration,
        size=size,
        loop=loop,
        max_bytes=max_bytes,
        progress=progress,
    )


def write_gif(
    recording: Recording,
    path: str | os.PathLike,
    current: Selection,
    max_cells: tuple[int, int],
    *,
    layer: str | None = None,
    quantity: str | None = None,
    snapshots=None,
    duration: float = 0.5,
    size: int = 480,
    loop: int = 0,
    max_bytes: int = DEFAULT_GIF_BYTES,
    progress: bool = True,
) -> SavedFile:
    """:func:`save_gif` from a selection (the explorer's) and the explorer's largest picture."""
    image = _pillow()  # before any work: a missing pillow says so at once
    _check(duration, size, loop, max_bytes)
    frames = FrameCache(recording, max_cells)
    frames.prefetching = False
    try:
        views = choose_views(recording, current, frames, layer, quantity)
        if len(views) != 1:
            raise ValueError(f"save_gif shows one view; these are {len(views)}")
        indices = choose_snapshots(recording, snapshots)
        canvases = []
        with Progress(len(indices), "saving", show=progress) as bar:
            for done, index in enumerate(indices, start=1):
                item = rendered(recording, frames, views[0], index)
                canvases.append(_canvas(recording, item, size))
                bar.advance(done, f"{done} of {len(indices)} frames")
    finally:
        frames.close()
    data = _encode(image, canvases, duration, loop)
    if len(data) > max_bytes:
        raise ValueError(
            f"the GIF would pass max_bytes={max_bytes:,} ({megabytes(max_bytes)}): "
            f"{megabytes(len(data))} for {len(indices)} frames. Use "
            "fewer snapshots (snapshots=slice(None, None, 2) keeps every other one), a smaller "
            "size=, or pass a larger max_bytes"
        )
    written = replace_file(path, data)
    return SavedFile(os.fspath(path), written, (views[0].name,), tuple(indices))


def _encode(image, canvases: list[np.ndarray], duration: float, loop: int) -> bytes:
    """The frames as one animated GIF (``image``: pillow's Image module)."""
    height = max(c.shape[0] for c in canvases) + _BOTTOM
    width = max(c.shape[1] for c in canvases)
    pictures = []
    for canvas in canvases:  # one size for every frame: the title may wrap differently
        padded = np.full((height, width, 3), 255, dtype=np.uint8)
        padded[: canvas.shape[0], : canvas.shape[1]] = canvas
        pictures.append(
            image.fromarray(padded).quantize(
                colors=256, method=image.Quantize.MEDIANCUT, dither=image.Dither.NONE
            )
        )
    buffer = io.BytesIO()
    # every frame differs from the one before (its epoch line), so pillow merges none
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=round(duration * 1000),
        loop=loop,
    )
    return buffer.getvalue()


def _check(duration: object, size: object, loop: object, max_bytes: object) -> None:
    if not isinstance(duration, int | float) or not 0.02 <= duration <= 60:
        raise ValueError(f"duration= takes seconds per frame, 0.02 to 60, got {duration!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 32 <= size <= MAX_SIDE:
        raise ValueError(
            f"size= takes the picture's longer side in pixels, 32 to {MAX_SIDE}, got {size!r}"
        )
    if not isinstance(loop, int) or isinstance(loop, bool) or loop < 0:
        raise ValueError(f"loop= takes how many times to repeat (0: forever), got {loop!r}")
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        raise ValueError(f"max_bytes= takes a whole number > 0, got {max_bytes!r}")


def _canvas(recording: Recording, item: Rendered, size: int) -> np.ndarray:
    """One frame: the picture, its title and colour bar, and the snapshot's line under it."""
    line = snapshot_line(recording, item.index)
    if item.prepared is None:
        blank = np.full((8, 8, 3), _MISSING_GREY, dtype=np.uint8)
        return compose_export(
            blank,
            title=item.title,
            low=0.0,
            high=0.0,
            colour_map=_MISSING_MAP,
            footer=f"{line}; no picture: {item.missing}",
            target=size,
        )
    low, high, _ = item.prepared.limits
    footer = "; ".join(part for part in (line, strip_tags(item.prepared.nonfinite)) if part)
    return compose_export(
        item.rgb,
        title=item.title,
        low=low,
        high=high,
        colour_map=item.prepared.colour_map,
        footer=footer,
        target=size,
    )
