"""Progress of a long export, and what an export reports back.

In a notebook, an export of many pictures shows a progress bar in the output of the cell that
called it (the export runs in that cell: the kernel sends the bar's updates as it goes); from a
script it shows nothing. The result, :class:`SavedFile`, says what was written and how big it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["MIN_PICTURES", "Progress", "SavedFile", "megabytes", "replace_file"]

#: Exports of fewer pictures than this show no progress bar (they take well under a second).
MIN_PICTURES = 24


def megabytes(size: int) -> str:
    """``size`` bytes in words: ``"3.2 MB"``, ``"512 kB"``."""
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


@dataclass(frozen=True)
class SavedFile:
    """A file an export wrote, and what is in it. Usable as a path (``os.fspath``).

    Attributes
    ----------
    path : str
        Where it was written.
    size : int
        Its size in bytes.
    views : tuple of str
        The views in it (``layer · quantity``).
    snapshots : tuple of int
        The snapshot positions in it.
    notes : tuple of str
        What was left out or changed (values not embedded, ...).
    """

    path: str
    size: int
    views: tuple[str, ...]
    snapshots: tuple[int, ...]
    notes: tuple[str, ...] = ()

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        views = f"{len(self.views)} view{'s' if len(self.views) != 1 else ''}"
        count = len(self.snapshots)
        text = f"{self.path}: {megabytes(self.size)}, {views} x {count} snapshot" + "s" * (
            count != 1
        )
        return text + "".join(f"; {note}" for note in self.notes)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # what a notebook cell shows
        printer.text(f"SavedFile({self})")


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where a displayed widget reaches a page)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Progress:
    """A progress bar in the calling cell's output for ``total`` steps, or nothing.

    Shown when ``show`` is true, the export has at least :data:`MIN_PICTURES` steps and this
    runs in a kernel; removed when done (also after an error).
    """

    def __init__(self, total: int, what: str, *, show: bool = True) -> None:
        self._bar = None
        if not (show and total >= MIN_PICTURES and _in_kernel()):
            return
        import ipywidgets
        from IPython.display import display

        self._bar = ipywidgets.IntProgress(value=0, min=0, max=total, description=what)
        self._label = ipywidgets.Label(f"0 of {total}")
        self._box = ipywidgets.HBox([self._bar, self._label])
        display(self._box)

    def advance(self, done: int, text: str) -> None:
        """``done`` steps are done; ``text`` says where the export is."""
        if self._bar is not None:
            self._bar.value = done
            self._label.value = text

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._box.close()
            self._bar.close()
            self._label.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def replace_file(path: str | os.PathLike, data: bytes) -> int:
    """Write ``data`` to ``path`` whole or not at all (a temporary file renamed); its size."""
    path = os.fspath(path)
    temporary = f"{path}.part"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    return len(data)
