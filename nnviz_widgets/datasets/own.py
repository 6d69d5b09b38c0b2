"""The user's own 2-D points as a Playground data set: checked, scaled into the plane, split.

``own_data`` takes ``(X, y)`` or a DataFrame; ``y`` holds 2 to 5 classes, or numbers to predict
(a regression), told apart as :func:`looks_like_targets` says or as ``task=`` does.
"""

from __future__ import annotations

import numpy as np

from nnviz_widgets.datasets.toy import CLASS_RANGE, STREAMS, ToyData, split_classes, split_targets

__all__ = ["looks_like_targets", "own_data"]


def own_data(
    data: object,
    *,
    noise: float = 0.0,
    test_fraction: float = 0.5,
    seed: int = 0,
    task: str = "auto",
) -> ToyData:
    """A 2-D set from the user's own points, as the toy sets are made.

    Parameters
    ----------
    data : (X, y) or DataFrame
        ``X`` of shape ``(n, 2)`` (two features per point) and ``y`` of ``n`` labels of 2 to 5
        classes (any values: sorted, the smallest is class 0) or of ``n`` numbers to predict;
        or a pandas DataFrame with two feature columns and a label column (named ``"label"``
        or ``"y"``, else the last column).
    noise, test_fraction, seed
        As for :func:`circles`: jitter added to every point, the share of each class held out
        for testing, and the seed of both.
    task : {"auto", "classes", "regression"}
        What ``y`` holds. ``"auto"``: numbers to predict (a regression) when ``y`` is of float
        type with more than 5 distinct values; classes otherwise (so two float labels, such as
        0.0 and 1.0 or 0.5 and 1.5, stay two classes, as they always were).

    Returns
    -------
    ToyData
        Named ``"own"``; each feature scaled linearly into [-1, 1] (its smallest value to -1,
        its largest to 1), where the Playground's plane shows it; a regression's targets
        scaled into [-1, 1] the same way.

    Raises
    ------
    ValueError
        A shape, a missing or non-finite value, or a number of classes that will not do,
        named with what would.
    """
    if task not in ("auto", "classes", "regression"):
        raise ValueError(f'task must be "auto", "classes" or "regression", got {task!r}')
    x, y = _own_arrays(data)
    _check_draw(noise, test_fraction)
    x = _to_unit(x)
    rng = np.random.default_rng([int(seed), STREAMS["own"]])
    if task == "regression" or (task == "auto" and looks_like_targets(y)):
        targets = _own_targets(y)
        return split_targets("own", x, targets, rng, float(noise), float(test_fraction), int(seed))
    values = _own_classes(y)
    classes = [x[y == value] for value in values]
    return split_classes("own", classes, rng, float(noise), float(test_fraction), int(seed))


def _check_draw(noise: float, test_fraction: float) -> None:
    if not 0.0 <= float(noise) <= 1.0:
        raise ValueError(f"noise must be from 0 to 1 (a standard deviation), got {noise!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}")


def looks_like_targets(y: np.ndarray) -> bool:
    """Whether ``y`` reads as numbers to predict: floats of more than 5 distinct values (more
    than the Playground's classes can be)."""
    return y.dtype.kind == "f" and len(np.unique(y[np.isfinite(y)])) > CLASS_RANGE[1]


def _to_unit(values: np.ndarray) -> np.ndarray:
    """Each column (or a vector) scaled linearly into [-1, 1]; a constant one to -1."""
    low, high = values.min(axis=0), values.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return 2.0 * (values - low) / span - 1.0


def _own_targets(y: np.ndarray) -> np.ndarray:
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("regression targets y must be numbers") from None
    if not y.max() > y.min():
        raise ValueError(f"regression targets y are all equal ({y[0]:g}): nothing to learn")
    return _to_unit(y)


def _own_classes(y: np.ndarray) -> np.ndarray:
    """The distinct labels of ``y``, checked: 2 to 5 classes of at least 2 points each."""
    low, high = CLASS_RANGE
    values, counts = np.unique(y, return_counts=True)
    if not low <= len(values) <= high:
        raise ValueError(
            f"y must hold {low} to {high} classes (the Playground trains a model of 2 to 5 "
            f"classes); got {len(values)}: {values[:6].tolist()}"
            f"{'...' if len(values) > 6 else ''}"
        )
    if counts.min() < 2:
        raise ValueError(
            f"each class needs at least 2 points (one to train, one to test); got {counts.tolist()}"
        )
    return values


def _own_arrays(data: object) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` as float64 ``(n, 2)`` and ``(n,)`` arrays, checked."""
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        columns = list(data.columns)
        label = next((c for c in ("label", "y") if c in columns), columns[-1] if columns else None)
        features = [c for c in columns if c != label]
        if len(features) != 2:
            raise ValueError(
                f"a DataFrame needs two feature columns and a label column "
                f"('label', 'y' or the last); got columns {columns}"
            )
        x, y = data[features].to_numpy(), data[label].to_numpy()
    elif isinstance(data, tuple | list) and len(data) == 2:
        x, y = data
    else:
        raise TypeError(
            "data must be (X, y) with X of shape (n, 2) and y of n labels, or a pandas "
            f"DataFrame with two feature columns and a label column; got {type(data).__name__}"
        )
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("X must hold numbers (two features per point)") from None
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), two features per point; got {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"y must hold one label per point, shape ({len(x)},); got {y.shape}")
    bad = ~np.isfinite(x).all(axis=1)
    if y.dtype.kind == "f":
        bad |= ~np.isfinite(y)
    if bad.any():
        rows = ", ".join(map(str, np.flatnonzero(bad)[:3]))
        raise ValueError(
            f"{int(bad.sum())} point(s) have a NaN or infinite value (rows {rows}...); "
            "drop or fill them first"
        )
    return x, y
