"""The comparison's pictures: each run's picture in one shared colour range, or differences.

Each run's selection is prepared by that run's own
:class:`~nnviz_widgets.widgets.explorer.frame_cache.FrameCache` (layout, reduction, colour
range, PNG, ahead of time in the background). Here the runs' ranges are joined into one
(:func:`shared_limits`), so that the same colour means the same number in every picture, and
the prepared frames are coloured in it (:meth:`PreparedFrame.coloured`). In difference mode
the laid-out pictures are subtracted cell by cell (:func:`difference`) and coloured on a
diverging map centred on zero. Numpy only; no widget, no lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nnviz_widgets.render.colour import DIVERGING, ColourMap, colour_indices, widen_range
from nnviz_widgets.render.picture import Picture
from nnviz_widgets.render.png import encode_png
from nnviz_widgets.render.reduce import reduce_picture
from nnviz_widgets.widgets.explorer.frame_cache import PreparedFrame

__all__ = [
    "Panel",
    "difference",
    "difference_problem",
    "shared_limits",
    "shared_panels",
    "side_by_side",
]

Limits = tuple[float, float, bool]


@dataclass(frozen=True)
class Panel:
    """One picture of the comparison, ready to show: a run's, or a difference of two.

    ``frame`` is the prepared run frame (None for a difference), which the pointer readout
    reads exact values from.
    """

    name: str
    epoch: float
    picture: Picture
    reduced: Picture
    limits: Limits
    indices: np.ndarray
    png: bytes
    frame: PreparedFrame | None = None

    @property
    def colour_map(self) -> ColourMap:
        """Diverging for signed data (and every difference), else the frame's own."""
        return DIVERGING if self.limits[2] or self.frame is None else self.frame.colour_map


def shared_limits(limits: list[Limits]) -> Limits:
    """One colour range that holds each run's: from the lowest low to the highest high,
    symmetric about zero where any run is signed (so the diverging map stays centred)."""
    signed = any(one[2] for one in limits)
    low = min(one[0] for one in limits)
    high = max(one[1] for one in limits)
    low, high = widen_range(low, high, signed=signed)
    return low, high, signed


def shared_panels(frames: dict[str, tuple[float, PreparedFrame]]) -> tuple[list[Panel], Limits]:
    """Each run's prepared frame (name -> (epoch shown, frame)) coloured in one shared range."""
    limits = shared_limits([frame.limits for _, frame in frames.values()])
    panels = []
    for name, (epoch, frame) in frames.items():
        coloured = frame.coloured(limits) if frame.limits != limits else frame
        panels.append(
            Panel(
                name,
                epoch,
                coloured.picture,
                coloured.reduced,
                limits,
                coloured.indices,
                coloured.png,
                coloured,
            )
        )
    return panels, limits


def difference_problem(shapes: dict[str, tuple[int, ...] | None]) -> str | None:
    """Why the runs' frames cannot be subtracted (None when they can): a run without the
    frame, or frames of different shapes, in words."""
    absent = [name for name, shape in shapes.items() if shape is None]
    if absent:
        return f"{', '.join(map(repr, absent))} {'has' if len(absent) == 1 else 'have'} no frame"
    if len(set(shapes.values())) > 1:
        listed = ", ".join(
            f"{name!r} {'x'.join(map(str, shape))}" for name, shape in shapes.items()
        )
        return f"the shapes differ ({listed})"
    return None


def difference(
    first: tuple[str, float, PreparedFrame],
    others: list[tuple[str, float, PreparedFrame]],
    max_cells: tuple[int, int],
) -> tuple[list[Panel], Limits]:
    """The first run's picture minus each other run's, cell by cell, in one diverging range
    centred on zero (over every difference shown).

    Each element is ``(run name, epoch shown, prepared frame)``; the pictures must have the
    same shape (see :func:`difference_problem`). A NaN or Inf on either side stays NaN/Inf.
    """
    name, _, reference = first
    pictures = []
    for other_name, other_epoch, frame in others:
        with np.errstate(invalid="ignore", over="ignore"):
            values = reference.picture.values - frame.picture.values
        picture = replace(
            reference.picture,
            values=values.astype(np.float32, copy=False),
            layout=f"{reference.picture.layout}, {name} - {other_name}",
        )
        pictures.append((f"{name} - {other_name}", other_epoch, picture))
    reduced = [reduce_picture(picture, *max_cells) for _, _, picture in pictures]
    bound = 0.0
    for shown in reduced:
        values = shown.values if shown.gaps is None else shown.values[~shown.gaps]
        finite = np.abs(values[np.isfinite(values)])
        bound = max(bound, float(finite.max()) if finite.size else 0.0)
    low, high = widen_range(-bound, bound, signed=True)
    limits = (low, high, True)
    panels = []
    for (label, other_epoch, picture), shown in zip(pictures, reduced, strict=True):
        indices = colour_indices(shown.values, low, high, gaps=shown.gaps)
        png = encode_png(indices, palette=DIVERGING.palette)
        panels.append(Panel(label, other_epoch, picture, shown, limits, indices, png))
    return panels, limits


def side_by_side(images: list[np.ndarray]) -> np.ndarray:
    """RGB images in a row, top-aligned on white (``save_png``'s file)."""
    height = max(image.shape[0] for image in images)
    padded = [
        np.pad(image, ((0, height - image.shape[0]), (0, 0), (0, 0)), constant_values=255)
        for image in images
    ]
    return np.concatenate(padded, axis=1)
