"""The histogram of a frame's values: ``HISTOGRAM_BINS`` equal bins over its finite values.

A Recorder takes the histogram of a large tensor on the device, when it keeps only a preview of
it (the preview's values would give another histogram). A tensor kept whole, in memory or on
disk, needs no recorded histogram: :meth:`Recording.histogram
<nnviz_widgets.recording.Recording.histogram>` counts its values when asked, with
:func:`histogram_counts`, so that a snapshot of a small model does not pay for histograms
nobody looks at (about a third of a LeNet-5 snapshot; ``docs/architecture.md``, "Where time
goes").
"""

from __future__ import annotations

import math

import numpy as np

from nnviz_widgets.recording.types import HISTOGRAM_BINS

__all__ = ["histogram_counts"]


def histogram_counts(array: np.ndarray) -> np.ndarray:
    """``HISTOGRAM_BINS`` counts (float64) of the finite values of ``array``, in equal bins from
    their smallest to their largest (all in the first bin when those are equal; all zero when
    there is no finite value). The bin of each value is computed in float32, as the Recorder
    computes it on the device."""
    values = np.asarray(array, dtype=np.float32).reshape(-1)
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.float64)
    if not values.size:
        return counts
    low, high = float(values.min()), float(values.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        values = values[np.isfinite(values)]
        if not values.size:
            return counts
        low, high = float(values.min()), float(values.max())
    scale = HISTOGRAM_BINS / (high - low) if high > low else 0.0
    bins = ((values - np.float32(low)) * np.float32(scale)).astype(np.intp)
    np.clip(bins, 0, HISTOGRAM_BINS - 1, out=bins)
    counts += np.bincount(bins, minlength=HISTOGRAM_BINS)
    return counts
