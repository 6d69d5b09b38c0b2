"""``save_gif``: one view across snapshots as an animated GIF, for slides.

Each frame is what ``save_png`` writes for that snapshot (``render.export``: the picture as the
explorer colours it, the title with the epoch, the colour bar with its range) and a line with
the epoch, the snapshot's place and the step. Pillow encodes the GIF; it is an optional
dependency (``pip install "nnviz_widgets[export]"``), imported only here.
"""

from __future__ import annotations

import io
import os
from typing import Any

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
    recording_selection,
    rendered,
    snapshot_line,
)
from nnviz_widgets.widgets.share.progress import Progress, SavedFile, megabytes, replace_file

__all__ = [
    "DEFAULT_GIF_BYTES",
    "MAX_SIDE",
    "check_gif",
    "frame_canvas",
    "pillow",
    "save_gif",
    "write_animation",
    "write_gif",
]

#: Largest GIF ``save_gif`` writes unless told otherwise.
DEFAULT_GIF_BYTES = 20_000_000
#: Largest ``size`` (the picture's longer side, in pixels).
MAX_SIDE = 2000
#: The background of a snapshot without a picture (the frame still says why), and its "bar".
_MISSING_GREY = 230
#: White space under the last line of text.
_BOTTOM = 8
_MISSING_MAP = ColourMap("missing", ("#e6e6e6", "#e6e6e6"))


def pillow() -> Any:
    """pillow's Image module, or ImportError naming the pip command."""
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
    colour_range: str = "fixed",
    **options: Any,
) -> SavedFile:
    """Write one view of a recording across snapshots as an animated GIF.

    ``TrainingExplorer.save_gif`` does the same for the view an explorer shows; options as
    there (``layer=``, ``quantity=``, ``snapshots=``, ``duration=``, ``size=``, ``loop=``,
    ``max_bytes=``, ``progress=``; ``layer=None`` takes the layer the explorer would open on).
    """
    selection = recording_selection(recording, "save_gif", colour_range)
    return write_gif(recording, path, selection, (400, 450), **options)


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
    image = pillow()  # before any work: a missing pillow says so at once
    check_gif(duration, size, loop, max_bytes)
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
                canvases.append(frame_canvas(item, size, snapshot_line(recording, index)))
                bar.advance(done, f"{done} of {len(indices)} frames")
    finally:
        frames.close()
    written = write_animation(path, image, canvases, duration, loop, max_bytes)
    return SavedFile(os.fspath(path), written, (views[0].name,), tuple(indices))


def write_animation(
    path: str | os.PathLike,
    image: Any,
    canvases: list[np.ndarray],
    duration: float,
    loop: int,
    max_bytes: int,
) -> int:
    """The frames (RGB arrays) as one animated GIF at ``path``, or, past ``max_bytes``,
    nothing written and an error saying what to leave out (``image``: pillow's Image module).
    Returns the bytes written."""
    data = _encode(image, canvases, duration, loop)
    if len(data) > max_bytes:
        raise ValueError(
            f"the GIF would pass max_bytes={max_bytes:,} ({megabytes(max_bytes)}): "
            f"{megabytes(len(data))} for {len(canvases)} frames. Use "
            "fewer snapshots (snapshots=slice(None, None, 2) keeps every other one), a smaller "
            "size=, or pass a larger max_bytes"
        )
    return replace_file(path, data)


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


def check_gif(duration: object, size: object, loop: object, max_bytes: object) -> None:
    """Refuse a bad ``duration=``, ``size=``, ``loop=`` or ``max_bytes=``, saying what fits."""
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


def frame_canvas(item: Rendered, size: int, line: str) -> np.ndarray:
    """One frame: the picture (its longer side ``size`` pixels), its title and colour bar, and
    ``line`` (the snapshot's) under it."""
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
