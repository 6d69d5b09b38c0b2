"""The whole Recording in and out: one snapshot's or every step's content as the store writes
them, export to ``.npz``/CSV, saving to and opening from a directory (``docs/format.md``), and
the diagnosis of the whole run.

:meth:`save` and :meth:`open` import :mod:`nnviz_widgets.store` when called, so a Recording kept
in memory never loads it; the store reads and fills a Recording through public methods only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Self

import numpy as np

from nnviz_widgets.recording.export import write_csv, write_npz
from nnviz_widgets.recording.frames import entry_values
from nnviz_widgets.recording.state import RecordingState
from nnviz_widgets.recording.types import FrameMissingError, LazyFrame, SnapshotData

__all__ = ["RecordingTransfer"]


class RecordingTransfer(RecordingState):
    """A Recording as a whole, to and from files; see ``Recording``."""

    def to_npz(self, path: str | os.PathLike, *, frames: Iterable[tuple[str, str]] = ()) -> None:
        """Write every number to one ``.npz`` file: per snapshot ``snapshots/epoch``,
        ``snapshots/step``, ``snapshots/metric/<name>``, ``snapshots/statistic/<layer>/<name>``;
        per step ``steps/step`` and ``steps/step/<layer>/<name>``; and for each ``(layer,
        quantity)`` in ``frames``, ``frames/<layer>/<quantity>``, its frames with a row per
        snapshot (NaN where missing). Read it with ``numpy.load(path)``; nothing in it needs
        pickle. See :mod:`nnviz_widgets.recording.export`."""
        write_npz(self, path, frames)

    def to_csv(self, path: str | os.PathLike, *, per: str = "snapshot") -> None:
        """Write one table as CSV: a row per snapshot (``per="snapshot"``: epoch, step, every
        metric and statistic) or per step with statistics (``per="step"``: every per-step
        series); columns named as in :meth:`to_npz`, e.g. ``metric/loss``,
        ``statistic/conv1/grad_norm``. ``pandas.read_csv(path)`` reads it."""
        write_csv(self, path, per=per)

    def snapshot_data(self, index: int = -1) -> SnapshotData:
        """One snapshot's whole content, as :meth:`append_snapshot` takes it; what
        ``Recording.save`` writes.

        Returns
        -------
        SnapshotData
            ``frames`` has every quantity of the recording (:data:`INPUT`'s ``"probe"`` aside:
            see :attr:`probe`), in order: a read-only float32 array (a frame kept on disk is
            read), or None where the frame is missing. ``missing`` has the reasons as they were
            given, not the sentences of :meth:`missing_reason`: a frame dropped for memory gives
            ``"dropped to stay within the memory budget"``, one on disk that cannot be read its
            error. ``thinned`` says whether the memory budget took this snapshot's frames;
            ``notes`` has every quantity's note, as notes are per quantity.
        """
        with self._lock:
            i = self._check_index(index)
            frames, missing = self._frames.snapshot(i)
            reduced, full, histograms = self._frames.extras(i)
            data = SnapshotData(
                epoch=self._epochs[i],
                step=self._snapshot_steps[i],
                frames=frames,
                missing=missing,
                statistics=self._statistics.row(i),
                metrics=self._metrics.row(i),
                notes=dict(self._notes),
                thinned=self._frames.is_thinned(i),
                reduced=reduced,
                full=full,
                histograms=histograms,
            )
        # read outside the lock: disk may be slow
        for key, entry in frames.items():
            if entry is None:
                continue
            try:
                frames[key] = entry_values(entry)
            except FrameMissingError as error:
                frames[key] = None
                missing[key] = str(error)
        for table in (full, histograms):
            for key, entry in list(table.items()):
                try:
                    table[key] = entry.load() if isinstance(entry, LazyFrame) else entry
                except FrameMissingError:
                    del table[key]  # the preview still stands for the tensor
        return data

    def step_data(self) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]:
        """Every per-step series, as :meth:`append_steps` takes them: ``(steps, {(layer, name):
        values})``, float64 with NaN where a series has no value."""
        with self._lock:
            series = {key: self._step_series.column(key) for key in self._step_series}
            return self._step_series.labels(), series

    def diagnose(self) -> list:
        """What is wrong with this training: :func:`nnviz_widgets.diagnose` of this recording
        (a list of ``Finding``, errors first; empty for a healthy training)."""
        from nnviz_widgets.diagnosis import diagnose  # recording does not need it to load

        return diagnose(self)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the whole recording to a new directory (format in ``docs/format.md``).

        Parameters
        ----------
        path : str or os.PathLike
            A directory that does not exist yet or is empty.
        overwrite : bool
            Replace a recording already in ``path`` (nothing else is ever removed).

        Raises
        ------
        OSError
            ``path`` is not empty or not writable, or a write failed; the message names the path.
        """
        from nnviz_widgets.store import save_recording

        save_recording(self, path, overwrite=overwrite)

    @classmethod
    def open(
        cls, path: str | os.PathLike, follow: bool = False, *, poll_interval: float = 0.5
    ) -> Self:
        """Open a recording directory; frames stay on disk until ``frame()`` reads them.

        Opening costs about the same whatever the number of snapshots (``docs/format.md``,
        "Reading and following"): epochs, steps and the names of statistics, metrics and
        quantities are known at once; a statistic's or metric's values are read when first
        asked for, and a snapshot's frame list and missing reasons when the snapshot is first
        asked about (a damaged snapshot file is reported then, by a warning).

        Parameters
        ----------
        path : str or os.PathLike
            A directory written by ``Recording.save`` or by a Recorder recording to disk.
        follow : bool
            Keep picking up snapshots another process is still writing: a daemon thread calls
            :meth:`refresh` every ``poll_interval`` seconds (listeners run in that thread) until
            :meth:`close`. Without it, call :meth:`refresh` yourself when you want news.
        poll_interval : float
            Seconds between two looks at the directory when following.

        Raises
        ------
        FileNotFoundError
            No recording at ``path``.
        ValueError
            The recording is of an unsupported format version, malformed, or names a path
            outside its directory (``nnviz_widgets.store.RecordingFormatError``).
        """
        from nnviz_widgets.store import open_recording

        return open_recording(path, cls=cls, follow=follow, poll_interval=poll_interval)

    def refresh(self) -> int:
        """Append the snapshots written to disk since the last look; return how many.

        Listeners are called for each new snapshot. Does nothing for a recording in memory.
        """
        return 0 if self._source is None else self._source.refresh()

    def close(self) -> None:
        """Stop following the directory (see :meth:`open`); calling it again does nothing."""
        if self._source is not None:
            self._source.close()
