"""What a reader takes from a recording's index: its rows, and the snapshots and steps they name.

:class:`IndexedParts` reads the index (``index.bin``) past what was read before, says which rows
can be taken (:func:`~nnviz_widgets.store.index.usable_rows`), and turns rows into what a
Recording appends without reading them: :class:`~nnviz_widgets.recording.types.StoredSnapshots`
(scalars in ``scalars.bin``, details in the log, read when first asked for) and
:class:`~nnviz_widgets.recording.types.StoredSteps` (series in ``steps.bin``). The reader
(:mod:`~nnviz_widgets.store.reader`) decides which records come from here and which from the
log.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np

from nnviz_widgets.recording.types import StoredSnapshots, StoredSteps
from nnviz_widgets.store.catalog import Catalog
from nnviz_widgets.store.format import RecordingStoreWarning, open_regular
from nnviz_widgets.store.index import ROW, SNAPSHOT, THINNED, check_rows, plan, usable_rows
from nnviz_widgets.store.records import SnapshotFiles, SnapshotRecords
from nnviz_widgets.store.stored_columns import ScalarFile, StepFile

__all__ = ["IndexedParts", "catalog_of"]


class Filled(Protocol):
    """What :meth:`IndexedParts.append` needs of a Recording."""

    def append_stored(self, stored: StoredSnapshots) -> int: ...
    def append_stored_steps(self, stored: StoredSteps) -> None: ...


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def catalog_of(manifest: dict, layers: set[str]) -> Catalog:
    """The catalog of a manifest's ``"index"`` entry; ValueError naming what is malformed."""
    entry = manifest["index"]
    catalog = Catalog.from_json(entry)
    if not (isinstance(entry.get("file"), str) and isinstance(entry.get("scalars"), str)):
        raise ValueError("'file' and 'scalars' must name files")
    unknown = {layer for layer, _ in catalog.keys} - layers
    if unknown:
        raise ValueError(f"it names layers the manifest does not: {sorted(unknown)}")
    return catalog


class IndexedParts:
    """The index of a recording directory and the files it points into.

    Parameters
    ----------
    root : pathlib.Path
        The recording directory.
    manifest : dict
        Its manifest, checked (paths inside the directory), with an ``"index"`` entry.
    catalog : Catalog
        The names the manifest's index entry knows.
    files : SnapshotFiles
        Checks the snapshot files records name.
    layers : callable
        ``layers()``: the layers the reader knows now.
    check : callable
        ``check()`` raises ``Replaced`` if the directory no longer holds the run that was
        opened; called before a file is mapped (the scalars, the steps).

    Notes
    -----
    Used by the reader under its lock; the sources it makes are read by Recordings from any
    thread (they lock for themselves).
    """

    def __init__(
        self,
        root: Path,
        manifest: dict,
        catalog: Catalog,
        files: SnapshotFiles,
        layers: Callable[[], set[str]],
        check: Callable[[], None],
    ) -> None:
        entry = manifest["index"]
        self.catalog = catalog
        self._index = root / entry["file"]
        self._layers = layers
        self.scalars = ScalarFile(root / entry["scalars"], catalog, check)
        self.steps = StepFile(root / manifest["steps"], catalog, check)
        log = root / manifest["log"]
        self.records = SnapshotRecords(log, files, self._known, manifest.get("run"))

    def use(self, catalog: Catalog) -> None:
        """Take names from a newer catalog (the manifest was read again)."""
        self.catalog = catalog
        self.scalars.use(catalog)
        self.steps.use(catalog)

    def _known(self) -> tuple[set[str], list[tuple[str, str]]]:
        return self._layers(), list(self.catalog.keys)

    def plan(
        self, offset: int, consumed: int, log_size: int, newer_names: Callable[[], bool]
    ) -> tuple[list[tuple], int]:
        """Plan reading the log from byte ``consumed`` to ``log_size`` with the index's rows from
        byte ``offset`` (:func:`~nnviz_widgets.store.index.plan`); return the segments, with
        the rows themselves, and the bytes of the index read. ``newer_names()`` is called when
        rows need names the catalog lacks: whether it took a newer manifest's."""
        rows, sound = self.read(offset)
        usable = self.usable(rows, sound)
        if (sound & ~usable).any() and newer_names():
            usable = self.usable(rows, sound)
        planned = plan(rows, usable, consumed, log_size)
        segments = [
            ("rows", rows[segment[1]]) if segment[0] == "rows" else segment
            for segment in planned.segments
        ]
        return segments, planned.rows_read * ROW.itemsize

    def append(self, recording: Filled, rows: np.ndarray, *, each: bool) -> np.ndarray:
        """Append the snapshots and steps of index rows to ``recording`` without reading their
        records: in one batch, or a snapshot at a time (``each``); return the run's index of
        each snapshot."""
        is_snapshot = rows["kind"] == SNAPSHOT
        snapshots = np.compress(is_snapshot, rows)  # many times faster than rows[is_snapshot]
        for batch in self.snapshots(snapshots, each=each):
            recording.append_stored(batch)
        steps = self.step_blocks(np.compress(~is_snapshot, rows))
        if steps is not None:
            recording.append_stored_steps(steps)
        return snapshots["count"].astype(np.int64)

    def read(self, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """The whole rows of the index from byte ``offset``, and which are sound."""
        try:
            with open_regular(self._index, "the index") as file:
                file.seek(offset)
                data = file.read()
        except FileNotFoundError:
            data = b""  # no index (yet): the log is read instead
        except (OSError, ValueError) as error:  # not a regular file, say
            warnings.warn(
                f"{error}; the log is read instead of the index, which is slower",
                RecordingStoreWarning,
                stacklevel=5,
            )
            data = b""
        return check_rows(data[: len(data) - len(data) % ROW.itemsize])

    def usable(self, rows: np.ndarray, sound: np.ndarray) -> np.ndarray:
        """Which rows can be taken now (see :func:`~nnviz_widgets.store.index.usable_rows`)."""
        sizes = _size(self.scalars.path), _size(self.steps.path)
        return usable_rows(rows, sound, self.catalog, *sizes)

    def snapshots(self, rows: np.ndarray, *, each: bool) -> list[StoredSnapshots]:
        """The snapshots of snapshot rows, as one batch, or one batch each (``each``)."""
        if not len(rows):
            return []
        first = self.records.add(rows)
        self.scalars.add(rows)  # the same rows, numbered alike
        bounds = range(len(rows) + 1) if each else (0, len(rows))
        return [self._batch(rows, first, start, stop) for start, stop in pairwise(bounds)]

    def _batch(self, rows: np.ndarray, first: int, start: int, stop: int) -> StoredSnapshots:
        rows = rows[start:stop]
        catalog = self.catalog
        # each name as far as these snapshots need it (an index row says how many)
        keys = list(catalog.keys.items())[: int(rows["names"].max())]
        return StoredSnapshots(
            first=first + start,
            epochs=rows["epoch"].astype(np.float64),
            steps=rows["step"].astype(np.int64),
            thinned=(rows["flags"] & THINNED) != 0,
            keys=[key for key, _ in keys],
            notes={key: note for key, note in keys if note is not None},
            statistics=self.scalars.statistics,
            statistic_names=list(catalog.statistics)[: int(rows["statistics"].max())],
            metrics=self.scalars.metrics,
            metric_names=list(catalog.metrics)[: int(rows["metrics"].max())],
            details=self.records.details,
        )

    def step_blocks(self, rows: np.ndarray) -> StoredSteps | None:
        """The per-step series of steps rows."""
        if not len(rows):
            return None
        first = self.steps.add(rows)
        names = list(self.catalog.steps)[: int(rows["names"].max())]
        return StoredSteps(first, int(rows["count"].sum()), self.steps, names)
