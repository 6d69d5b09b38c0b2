"""Colouring numbers in the kernel: colour maps, colour ranges, and how NaN and Inf show.

The views colour a frame here, through a lookup table, and send the browser one compact PNG
instead of one value per cell (bqplot's ``HeatMap`` draws cell by cell and costs N^2 in the
browser: ``docs/architecture.md``, "Where time goes"). Each colour map is a short list of anchor
colours interpolated linearly in RGB; bqplot's ``ColorScale(colors=...)`` interpolates the same
anchors the same way, so a colour bar drawn by bqplot matches the pixels coloured here.

NaN, +Inf and -Inf get colours of their own that no colour map uses, so a non-finite value
never borrows a neighbour's colour. Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLASSES",
    "DIVERGING",
    "GAP_COLOUR",
    "LEVELS",
    "NAN_COLOUR",
    "NEG_INF_COLOUR",
    "POS_INF_COLOUR",
    "SEQUENTIAL",
    "ColourMap",
    "colour_indices",
    "colour_range",
    "colourize",
    "describe_nonfinite",
    "finite_extremes",
    "widen_range",
]

#: The colour of a NaN cell: magenta, which neither colour map contains.
NAN_COLOUR = (255, 0, 255)
#: The colour of a +Inf cell.
POS_INF_COLOUR = (0, 0, 0)
#: The colour of a -Inf cell.
NEG_INF_COLOUR = (128, 128, 128)
#: The colour of the thin gaps between the tiles of a mosaic (no data there).
GAP_COLOUR = (204, 204, 204)


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))


@dataclass(frozen=True)
class ColourMap:
    """A colour map given by evenly spaced anchor colours.

    Attributes
    ----------
    name : str
        A short name ("diverging", "sequential").
    anchors : tuple of str
        ``#rrggbb`` colours from the low end to the high end.
    """

    name: str
    anchors: tuple[str, ...]

    @property
    def table(self) -> np.ndarray:
        """The :data:`LEVELS` x 3 uint8 lookup table, linear in RGB between the anchors."""
        cached = _TABLES.get(self.anchors)
        if cached is None:
            rgb = np.array([_hex_to_rgb(a) for a in self.anchors], dtype=np.float64)
            where = np.linspace(0.0, len(self.anchors) - 1.0, LEVELS)
            channels = [np.interp(where, np.arange(len(self.anchors)), rgb[:, k]) for k in range(3)]
            cached = np.clip(np.rint(np.stack(channels, axis=1)), 0, 255).astype(np.uint8)
            cached.flags.writeable = False
            _TABLES[self.anchors] = cached
        return cached

    @property
    def palette(self) -> np.ndarray:
        """The 256 x 3 PNG palette: the table, then NaN, +Inf, -Inf and gap colours."""
        cached = _PALETTES.get(self.anchors)
        if cached is None:
            specials = np.array([NAN_COLOUR, POS_INF_COLOUR, NEG_INF_COLOUR, GAP_COLOUR], np.uint8)
            cached = np.concatenate([self.table, specials])
            cached.flags.writeable = False
            _PALETTES[self.anchors] = cached
        return cached


#: Colour levels of a map. With the four special colours they fill one byte, so a picture is
#: sent as an indexed PNG: one byte per cell instead of three (less to compress and to send).
LEVELS = 252
NAN_INDEX, POS_INF_INDEX, NEG_INF_INDEX, GAP_INDEX = LEVELS, LEVELS + 1, LEVELS + 2, LEVELS + 3
_TABLES: dict[tuple[str, ...], np.ndarray] = {}
_PALETTES: dict[tuple[str, ...], np.ndarray] = {}

#: Signed data: blue for negative, near-white at zero, red for positive (ColorBrewer RdBu, 9
#: classes, reversed so that "more" reads as warmer).
DIVERGING = ColourMap(
    "diverging",
    (
        "#2166ac",
        "#4393c3",
        "#92c5de",
        "#d1e5f0",
        "#f7f7f7",
        "#fddbc7",
        "#f4a582",
        "#d6604d",
        "#b2182b",
    ),
)

#: Non-negative data: viridis, sampled at nine evenly spaced points.
SEQUENTIAL = ColourMap(
    "sequential",
    (
        "#440154",
        "#472d7b",
        "#3b528b",
        "#2c728e",
        "#21918c",
        "#28ae80",
        "#5ec962",
        "#addc30",
        "#fde725",
    ),
)


#: Two classes on a plane (the Playground): orange for class 0, near-white between, blue for
#: class 1 - the colours TensorFlow Playground taught a generation of students to read.
CLASSES = ColourMap("classes", ("#e67814", "#f6f6f4", "#146ec8"))


def colour_range(values: np.ndarray, *, signed: bool, robust: bool = False) -> tuple[float, float]:
    """The colour range for ``values``, ignoring NaN and Inf.

    Parameters
    ----------
    values : ndarray
        The numbers to be coloured.
    signed : bool
        True gives a range symmetric about 0 (for a diverging map); False gives ``[min, max]``.
    robust : bool
        Use the 1st and 99th percentiles instead of the extremes, so that a few outliers do not
        wash out everything else.

    Returns
    -------
    (low, high) : tuple of float
        Always ``low < high``, even for constant or empty data.
    """
    values = np.asarray(values)
    low, high = finite_extremes(values)
    if robust and np.isfinite(low):
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        low, high = (float(v) for v in np.percentile(finite, [1.0, 99.0]))
    return widen_range(low, high, signed=signed)


def widen_range(low: float, high: float, *, signed: bool) -> tuple[float, float]:
    """Make ``(low, high)`` usable as a colour range: symmetric if signed, never empty."""
    if not (np.isfinite(low) and np.isfinite(high)):
        low, high = 0.0, 0.0
    if signed:
        bound = max(abs(low), abs(high))
        bound = bound if bound > 0 else 1.0
        return -bound, bound
    if high <= low:
        # a constant picture: centre it in a unit-wide range so it gets a mid colour
        span = abs(low) if low != 0 else 1.0
        return low - 0.5 * span, low + 0.5 * span
    return float(low), float(high)


def finite_extremes(values: np.ndarray) -> tuple[float, float]:
    """The smallest and largest finite values (NaN, NaN when there are none)."""
    if values.size == 0:
        return np.nan, np.nan
    # min/max in one pass each are far cheaper than nanmin/nanmax; fall back only when needed
    low, high = float(values.min()), float(values.max())
    if np.isfinite(low) and np.isfinite(high):
        return low, high
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.nan, np.nan
    return float(finite.min()), float(finite.max())


def colour_indices(
    picture: np.ndarray, low: float, high: float, *, gaps: np.ndarray | None = None
) -> np.ndarray:
    """Palette indices of a 2-D picture coloured between ``low`` and ``high``.

    Values map linearly onto ``0 .. LEVELS - 1`` (outside the range: the end levels); NaN,
    +Inf, -Inf and gap cells get :data:`NAN_INDEX`, :data:`POS_INF_INDEX`,
    :data:`NEG_INF_INDEX` and :data:`GAP_INDEX`. Index a :attr:`ColourMap.palette` with it.
    """
    picture = np.asarray(picture, dtype=np.float32)
    scale = (LEVELS - 1) / (high - low) if high > low else 0.0
    with np.errstate(invalid="ignore"):
        position = (picture - np.float32(low)) * np.float32(scale)
        np.clip(position, 0, LEVELS - 1, out=position)
        np.rint(position, out=position)
    finite = np.isfinite(picture)
    all_finite = bool(finite.all())
    if not all_finite:
        position[~finite] = 0
    indices = position.astype(np.uint8)
    if not all_finite:
        indices[np.isnan(picture)] = NAN_INDEX
        indices[picture == np.inf] = POS_INF_INDEX
        indices[picture == -np.inf] = NEG_INF_INDEX
    if gaps is not None:
        indices[gaps] = GAP_INDEX
    return indices


def colourize(
    picture: np.ndarray,
    low: float,
    high: float,
    colour_map: ColourMap,
    *,
    gaps: np.ndarray | None = None,
) -> np.ndarray:
    """Colour a 2-D picture through ``colour_map`` between ``low`` and ``high``.

    Values outside the range take the end colours; NaN, +Inf and -Inf take
    :data:`NAN_COLOUR`, :data:`POS_INF_COLOUR` and :data:`NEG_INF_COLOUR`; cells where ``gaps``
    is True take :data:`GAP_COLOUR`.

    Returns
    -------
    ndarray
        ``(rows, columns, 3)`` uint8 RGB.
    """
    return colour_map.palette[colour_indices(picture, low, high, gaps=gaps)]


def describe_nonfinite(full: np.ndarray, *, limit: int = 3) -> str:
    """One line saying how many NaN and Inf values a frame has, and where the first ones are.

    Positions are the frame's own indices (what a user finds in their tensor).

    Parameters
    ----------
    full : ndarray
        The recorded frame.
    limit : int
        How many positions to name per kind.
    """
    finite = np.isfinite(full)
    if finite.all():
        return ""
    parts = []
    for label, mask in (
        ("NaN", np.isnan(full)),
        ("+Inf", full == np.inf),
        ("-Inf", full == -np.inf),
    ):
        count = int(mask.sum())
        if count:
            where = np.argwhere(mask)[:limit]
            places = ", ".join(str(tuple(int(i) for i in w)) for w in where)
            more = " ..." if count > limit else ""
            parts.append(f"{count} {label} at {places}{more}")
    return "; ".join(parts) + f" (of {full.size} values)"
