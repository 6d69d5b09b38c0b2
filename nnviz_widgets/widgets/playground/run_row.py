"""The Playground's second row of controls: the input-feature toggles, the run list, presets.

The feature toggles are together one view of the ``features`` trait (a :class:`Link` each). The
run list is not linked: its options change with every run, and it sets the Playground's ``run``
only when the user picks one. A preset picked calls the Playground's ``apply_preset``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import ipywidgets as widgets
import traitlets

from nnviz_widgets.threads.controls import Link
from nnviz_widgets.widgets.playground.features import FEATURES
from nnviz_widgets.widgets.playground.presets import PRESETS

__all__ = ["RunRow"]


class RunRow:
    """The input-feature toggles, the run list and the preset menu, in one row.

    Parameters
    ----------
    owner : Playground
    lock : threading.RLock
        The settings' links' lock (:class:`~.controls.PlaygroundControls`'s).
    tell : callable
        ``tell(message)`` shows a sentence in the status line.

    Attributes
    ----------
    features : dict
        Feature name -> ``ipywidgets.ToggleButton``, on where the network is fed it.
    runs : ipywidgets.Dropdown
        The kept runs, newest first; picking one sets ``owner.run``.
    presets : ipywidgets.Dropdown
        Named settings; picking one calls ``owner.apply_preset``.
    box : ipywidgets.HBox
    """

    def __init__(
        self, owner: traitlets.HasTraits, lock: threading.RLock, tell: Callable[[str], None]
    ) -> None:
        self.features = {
            name: widgets.ToggleButton(
                value=name in owner.features,
                description=name,
                tooltip=f"Feed the network {name}",
                layout=widgets.Layout(width="70px", flex="0 0 auto"),
            )
            for name in FEATURES
        }
        # one toggle, the whole list: the trait keeps the order of FEATURES
        self._links = [
            Link(
                (owner, "features"),
                (button, "value"),
                lock,
                transform=(
                    lambda features, name=name: name in features,
                    lambda _: [n for n, b in self.features.items() if b.value],
                ),
                # the last toggle switched off: the trait refuses an empty list, say so
                on_error=lambda error: tell(f"{error}"),
            )
            for name, button in self.features.items()
        ]
        self.runs = widgets.Dropdown(
            options=[("run 1", 1)], value=1, description="run", layout=widgets.Layout(width="360px")
        )
        # set while the options are replaced: a new option list selects its first entry, which
        # is not the user's pick
        self._showing_runs = False
        self.runs.observe(lambda change: self._pick_run(owner, change), names="value")
        self.presets = widgets.Dropdown(
            options=[("pick a preset", ""), *((name, name) for name in PRESETS)],
            value="",
            description="preset",
            layout=widgets.Layout(width="300px"),
        )
        self.presets.observe(
            lambda change: change["new"] and owner.apply_preset(change["new"]), names="value"
        )
        label = widgets.Label("inputs", layout=widgets.Layout(flex="0 0 auto", width="48px"))
        toggles = widgets.HBox(
            [label, *self.features.values()], layout=widgets.Layout(flex="0 0 auto")
        )
        self.box = widgets.HBox(
            [toggles, self.runs, self.presets], layout=widgets.Layout(flex_flow="row wrap")
        )

    def show_runs(self, options: list[tuple[str, int]], current: int) -> None:
        """Show the kept runs (``(label, number)``, newest first) with run ``current`` picked."""
        self._showing_runs = True
        try:
            with self.runs.hold_sync():
                self.runs.options = options
                self.runs.value = current
        finally:
            self._showing_runs = False

    def close(self) -> None:
        """Unbind the toggles and close the row's widgets; calling it again does nothing."""
        links, self._links = self._links, []
        for link in links:
            link.unlink()
        for widget in (*self.features.values(), self.runs, self.presets):
            widget.close()

    def _pick_run(self, owner: traitlets.HasTraits, change: dict) -> None:
        if not self._showing_runs and change["new"] is not None:
            owner.run = change["new"]
