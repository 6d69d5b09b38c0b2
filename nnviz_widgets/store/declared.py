"""What a writer's manifest declares: layers, the probe's arrays, the names its index knows.

:class:`Declarations` keeps them and rewrites the manifest whole whenever they change
(:class:`~nnviz_widgets.store.manifest.OwnManifest`); a change whose manifest could not be
written is taken back, so that nothing the manifest does not name is ever used in a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from nnviz_widgets.store.catalog import Catalog
from nnviz_widgets.store.format import MANIFEST, RecordingWriteError, jsonable, write_error
from nnviz_widgets.store.manifest import OwnManifest

__all__ = ["Declarations"]


class Declarations:
    """A writer's layers, probe and catalog of names, and its run's manifest.

    Parameters
    ----------
    path : pathlib.Path
        The recording directory.
    sync : bool
        Flush each rewrite of the manifest to disk.
    max_bytes : int or None
        The memory budget of the Recording written, kept in the manifest.
    """

    def __init__(self, path: Path, *, sync: bool, max_bytes: int | None) -> None:
        self.path = path
        self.catalog = Catalog()  # the names the index knows, in the manifest
        self._layers: dict[str, dict] = {}
        self._probe: list[str] = []
        self._max_bytes = max_bytes
        self._manifest = OwnManifest(path, sync=sync)

    @property
    def run(self) -> str:
        """The run id written in the manifest."""
        return self._manifest.run

    def check(self, target: Path) -> None:
        """Before writing ``target``: RecordingWriteError if the directory is no longer this
        run's."""
        self._manifest.check(target)

    def check_layer(self, layer: str) -> None:
        """ValueError if ``layer`` was not declared."""
        if layer not in self._layers:
            raise ValueError(
                f"layer {layer!r} was not declared with write_layers(); declared: "
                f"{', '.join(map(repr, self._layers)) or 'none'}"
            )

    def add_layers(self, infos: Mapping[str, Mapping]) -> None:
        """Declare layers (info values as JSON) and write the manifest."""
        previous = dict(self._layers)
        for layer, info in infos.items():
            self._layers[str(layer)] = jsonable(dict(info))
        try:
            self.write()
        except RecordingWriteError:
            # a layer the manifest does not name must not be usable in a snapshot
            self._layers = previous
            raise

    def set_probe(self, names: list[str]) -> None:
        """Name the arrays of ``probe.npz`` and write the manifest."""
        self._probe = names
        self.write()

    def take_names(self, catalog: Catalog, named: bool) -> None:
        """Take the catalog with a record's names, just before the record is committed; if any
        is new (``named``), write the manifest first: a reader never meets an index row that
        needs a name its manifest lacks."""
        previous, self.catalog = self.catalog, catalog
        if named:
            try:
                self.write()
            except RecordingWriteError:
                self.catalog = previous
                raise

    def write(self, *, closed: bool = False) -> None:
        """Rewrite the manifest (RecordingWriteError naming it if it cannot be)."""
        fields = {"layers": self._layers, "probe": self._probe, "max_bytes": self._max_bytes}
        try:
            self._manifest.write(**fields, closed=closed, index=self.catalog.to_json())
        except OSError as error:
            raise write_error(error, self.path / MANIFEST, "write") from error
