"""The manifest (``manifest.json``): what a recording directory is, made and checked.

The writer rewrites it whole (atomically) whenever layers, the probe or the names its index
knows (:mod:`~nnviz_widgets.store.catalog`) change, and when it closes; the reader reads it when
it opens a directory and again when it changes. Reading refuses anything this version cannot
read safely: another format, an unknown version, a malformed field, or a path that leads outside
the directory (``docs/format.md``, "manifest.json").
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

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
    inside_directory,
)

__all__ = ["Stamp", "make_manifest", "manifest_stamp", "read_manifest"]

#: What tells a manifest's versions apart without reading it: (modification time in ns, size).
Stamp = tuple[int, int]


def make_manifest(
    *,
    created: str,
    layers: dict[str, dict],
    probe: list[str],
    max_bytes: int | None,
    closed: bool,
    index: dict | None = None,
) -> bytes:
    """The manifest's text (UTF-8) for a recording with these layers and probe arrays, and the
    ``index`` entry (the catalog's) if it has an index; one line per field."""
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
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
        raise FileNotFoundError(errno.ENOENT, f"no recording directory at {path}", str(path))
    try:
        status = target.stat()
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            f"{path} holds no {MANIFEST}: it is not a recording directory, or writing "
            "it has not started yet",
            str(target),
        ) from None
    try:
        manifest = json.loads(text)
    except ValueError as error:
        raise RecordingFormatError(f"{target} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise RecordingFormatError(
            f"{target} does not describe an nnviz_widgets recording: its format is "
            f"{found!r}, expected {FORMAT_NAME!r}"
        )
    version = manifest.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise RecordingFormatError(
            f"{target} is format version {version!r}; this nnviz_widgets reads version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}. A newer nnviz_widgets may read it"
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
        if not isinstance(probe, dict) or not isinstance(probe.get("arrays"), list):
            raise RecordingFormatError(
                f"{target}: 'probe' must be null or {{'file': ..., 'arrays': [...]}}, got {probe!r}"
            )
        inside_directory(path, probe.get("file"), f"the probe file of {MANIFEST}")
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("info", {}), dict)
        for entry in layers
    ):
        raise RecordingFormatError(
            f"{target}: 'layers' must be a list of {{'name': text, 'info': {{...}}}}, "
            f"got {str(layers)[:200]}"
        )
