"""The manifest (``manifest.json``): what a recording directory is, made and checked.

The writer rewrites it whole (atomically) whenever layers, the probe or the names its index
knows (:mod:`~nnviz_widgets.store.catalog`) change, and when it closes; the reader reads it when
it opens a directory and again when it changes. Reading refuses anything this version cannot
read safely, naming the file: text that is not UTF-8 or not JSON, another format, an unknown
version, a field of the wrong type, or a path that leads outside the directory or to something
other than a regular file (``docs/format.md``, "manifest.json").

The manifest also carries the run id, a random name a writer gives its run when it starts
(:class:`OwnManifest`): a writer and a reader compare it with the one they started with
(:func:`manifest_run`) to learn that another run replaced the directory.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
import uuid
from pathlib import Path

from nnviz_widgets.store.files import replace_atomically
from nnviz_widgets.store.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LOG,
    MANIFEST,
    PROBE,
    SNAPSHOT_DIR,
    STEPS,
    SUPPORTED_VERSIONS,
    RecordingFormatError,
    RecordingWriteError,
    check_depth,
    inside_directory,
    loads,
    open_inside,
)

__all__ = [
    "MAX_MANIFEST_BYTES",
    "OwnManifest",
    "Replaced",
    "RunCheck",
    "Stamp",
    "make_manifest",
    "manifest_run",
    "manifest_stamp",
    "read_manifest",
]

#: The largest manifest read (64 MiB): the names of a model's every statistic take far less.
MAX_MANIFEST_BYTES = 64 << 20
# the run id as the writer puts it, on the third line: read without the rest; a manifest of
# this layout with "created" there was written before run ids existed, and has none
_RUN_LINE = re.compile(
    rb'^\{\n "format": "[^"\n]*",\n "version": \d+,\n "run": "([0-9a-f]{32})",\n'
)
_NO_RUN = re.compile(rb'^\{\n "format": "[^"\n]*",\n "version": \d+,\n "created": ')
_HEAD = 256

#: What tells a manifest's versions apart without reading it: (modification time in ns, size).
Stamp = tuple[int, int]


def make_manifest(
    *,
    run: str,
    created: str,
    layers: dict[str, dict],
    probe: list[str],
    max_bytes: int | None,
    closed: bool,
    index: dict | None = None,
) -> bytes:
    """The manifest's text (UTF-8) for run ``run`` of a recording with these layers and probe
    arrays, and the ``index`` entry (the catalog's) if it has an index; one line per field."""
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "run": run,  # third line: read without reading the rest (manifest_run)
        "created": created,
        "writer": "nnviz_widgets",
        "log": LOG,
        "steps": STEPS,
        "snapshots": SNAPSHOT_DIR,
        "probe": {"file": PROBE, "arrays": probe} if probe else None,
        "layers": [{"name": name, "info": info} for name, info in layers.items()],
        "max_bytes": max_bytes,
        "closed": closed,
    }
    if index is not None:
        manifest["index"] = index
    # one line per field, each compact: the index's lists of names parse fast that way
    fields = [
        f" {json.dumps(key)}: {json.dumps(value, allow_nan=False, ensure_ascii=False)}"
        for key, value in manifest.items()
    ]
    return ("{\n" + ",\n".join(fields) + "\n}\n").encode("utf-8")


def manifest_run(path: Path) -> str | None:
    """The run id in the manifest of the recording directory ``path`` (None: it names none, as
    manifests written before run ids existed do). Its first bytes are enough for a manifest this
    package wrote; others are read whole.

    Raises
    ------
    FileNotFoundError
        No manifest.
    RecordingFormatError, OSError
        It cannot be read, or is malformed.
    """
    with open_inside(path, MANIFEST, "the manifest") as file:
        head = file.read(_HEAD)
    found = _RUN_LINE.match(head)
    if found:
        return found.group(1).decode("ascii")
    if _NO_RUN.match(head):
        return None
    return read_manifest(path)[0].get("run")


class Replaced(Exception):
    """The recording directory no longer holds the run that was opened (see :class:`RunCheck`);
    ``gone``: its manifest is not there at all."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class RunCheck:
    """Checks that a recording directory still holds the run a reader opened: called, it
    raises :class:`Replaced` saying why not (its manifest gone or another run's). Thread-safe:
    it reads the manifest's first bytes and keeps nothing.

    Parameters
    ----------
    path : pathlib.Path
        The recording directory.
    run : str or None
        The run id of the manifest opened (None: written before run ids existed).
    """

    def __init__(self, path: Path, run: str | None) -> None:
        self.path, self.run = path, run

    def __call__(self) -> None:
        try:
            found = manifest_run(self.path)
        except FileNotFoundError:
            message = f"its {MANIFEST} is gone (the directory was removed or replaced)"
            raise Replaced(message, gone=True) from None
        except (OSError, ValueError) as error:
            raise Replaced(f"its {MANIFEST} can no longer be read ({error})") from None
        self.compare(found)

    def compare(self, found: str | None) -> None:
        """Raise :class:`Replaced` if ``found``, a manifest's run id, is not the run opened."""
        if found != self.run:
            raise Replaced(
                f"it now holds another run (run {found!r}; the one opened was {self.run!r}): "
                "another writer replaced it, with overwrite=True say"
            )


class OwnManifest:
    """The manifest of a writer's run: made with a new run id, rewritten whole, and checked to
    be still the run's before the writer writes anything else.

    Parameters
    ----------
    path : pathlib.Path
        The recording directory.
    sync : bool
        Flush each rewrite to disk.
    """

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path = path
        self.run = uuid.uuid4().hex
        self._sync = sync
        self._lost: tuple[int, str] | None = None  # why the directory is no longer this run's
        self._created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def write(self, **fields: object) -> None:
        """Rewrite the manifest with these fields (:func:`make_manifest`'s); OSError if it
        cannot be."""
        text = make_manifest(run=self.run, created=self._created, **fields)
        replace_atomically(self.path / MANIFEST, lambda file: file.write(text), sync=self._sync)

    def check(self, target: Path) -> None:
        """Before writing ``target``: RecordingWriteError if the directory is no longer this
        run's (its manifest gone or another run's); once it is not, it never is again."""
        # a write after another run replaced the directory would mix the two runs' files
        self._lost = self._lost or self._why_lost()
        if self._lost is not None:
            raise RecordingWriteError(
                self._lost[0],
                f"could not write {target}: the recording directory {self.path} is no longer "
                f"this writer's, as {self._lost[1]}. This writer stops: nothing more is written "
                "there",
                str(target),
            )

    def _why_lost(self) -> tuple[int, str] | None:
        try:
            RunCheck(self.path, self.run)()
        except Replaced as error:
            return (errno.ENOENT if error.gone else errno.EBUSY), str(error)
        return None


def manifest_stamp(path: Path) -> Stamp | None:
    """The stamp of the manifest in the recording directory ``path``; None if unreadable."""
    try:
        status = (path / MANIFEST).stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def read_manifest(path: Path) -> tuple[dict, Stamp]:
    """Read and check the manifest of the recording directory ``path``; return it and its stamp.

    Raises
    ------
    FileNotFoundError
        No directory, or no manifest in it.
    RecordingFormatError
        The manifest is not valid JSON, not of this format, of an unsupported version,
        malformed, or names a path outside ``path``.
    """
    target = path / MANIFEST
    if not path.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"no recording directory at {path}", str(target))
    try:
        with open_inside(path, MANIFEST, "the manifest") as file:
            status = os.fstat(file.fileno())
            if status.st_size > MAX_MANIFEST_BYTES:
                raise RecordingFormatError(
                    f"{target} holds {status.st_size} bytes; a manifest holds at most "
                    f"{MAX_MANIFEST_BYTES}: refusing to read it"
                )
            data = file.read(status.st_size + 1)  # read() would allocate all it is asked for
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            f"{path} holds no {MANIFEST}: it is not a recording directory, or writing "
            "it has not started yet",
            str(target),
        ) from None
    try:
        manifest = loads(data)
    except ValueError as error:  # bad UTF-8 too
        raise RecordingFormatError(f"{target} is not valid UTF-8 JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise RecordingFormatError(
            f"{target} does not describe an nnviz_widgets recording: its format is "
            f"{str(found)[:100]!r}, expected {FORMAT_NAME!r}"
        )
    version = manifest.get("version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise RecordingFormatError(
            f"{target} is format version {str(version)[:100]}; this nnviz_widgets reads "
            f"version(s) {', '.join(map(str, SUPPORTED_VERSIONS))}. A newer nnviz_widgets may "
            "read it"
        )
    _check_fields(path, manifest)
    return manifest, (status.st_mtime_ns, status.st_size)


def _check_fields(path: Path, manifest: dict) -> None:
    target = path / MANIFEST
    for key in ("log", "steps", "snapshots"):
        inside_directory(path, manifest.get(key), f"{key!r} of {MANIFEST}")
    index = manifest.get("index")
    if isinstance(index, dict):  # a malformed index is ignored where it is read (reader.py)
        for key in ("file", "scalars"):
            if isinstance(index.get(key), str):
                inside_directory(path, index[key], f"the index's {key!r} in {MANIFEST}")
    probe = manifest.get("probe")
    if probe is not None:
        arrays = probe.get("arrays") if isinstance(probe, dict) else None
        if not isinstance(arrays, list) or not all(isinstance(a, str) for a in arrays):
            raise RecordingFormatError(
                f"{target}: 'probe' must be null or {{'file': ..., 'arrays': [names]}}, got "
                f"{str(probe)[:200]}"
            )
        inside_directory(path, probe.get("file"), f"the probe file of {MANIFEST}")
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("info", {}), dict | None)
        for entry in layers
    ):
        raise RecordingFormatError(
            f"{target}: 'layers' must be a list of {{'name': text, 'info': {{...}}}}, "
            f"got {str(layers)[:200]}"
        )
    _check_values(target, manifest)


def _check_values(target: Path, manifest: dict) -> None:
    """The manifest's values a reader uses, by type and range; RecordingFormatError naming the
    file and the field otherwise."""
    try:
        for entry in manifest["layers"]:
            check_depth(entry.get("info"), f"the info of layer {entry['name']!r}")
    except ValueError as error:
        raise RecordingFormatError(f"{target}: {error}") from None
    max_bytes = manifest.get("max_bytes")
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or not 0 < max_bytes < 2**62
    ):
        raise RecordingFormatError(
            f"{target}: 'max_bytes' must be null or a positive number of bytes, got "
            f"{str(max_bytes)[:100]}"
        )
    for key, kind, words in (("closed", bool, "true or false"), ("run", str, "text")):
        value = manifest.get(key)
        if value is not None and not isinstance(value, kind):
            raise RecordingFormatError(f"{target}: {key!r} must be {words}, got {str(value)[:100]}")
