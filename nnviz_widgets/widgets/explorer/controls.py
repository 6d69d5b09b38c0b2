"""The explorer's controls, each bound to the explorer trait it shows through one table.

Every control that a person moves is a ``Locked*`` control (its browser updates apply under
the explorer's lock) joined to its trait by a :class:`~nnviz_widgets.threads.controls.Link`
(copies both ways under that same lock). So a key press that arrives while a live update moves
the controls waits for it and then counts, and the explorer never ignores a control's change:
there is no "the explorer itself is moving it" flag to get wrong.

A Dropdown selects its first option whenever its options change; that transient value must not
reach the explorer. :meth:`ExplorerControls.offering` drops the link of a dropdown while its
options change and the explorer sets its traits to match, and links it anew after; the layer
picker's filter changes the layer dropdown's options the same way.

The layer dropdown comes with a :class:`~.layer_picker.LayerPicker` (a filter and a type
dropdown on large models, and a line saying where the selected layer sits). The layer ``""`` is
a real layer (the model's own parameters): the dropdown's value is None only when it offers
nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets
import traitlets

from nnviz_widgets.threads.controls import Link, LockedCheckbox, LockedDropdown, LockedIntSlider
from nnviz_widgets.widgets.explorer.frame_cache import COLOUR_MODES
from nnviz_widgets.widgets.explorer.layer_picker import LayerPicker
from nnviz_widgets.widgets.explorer.selection import Choices

__all__ = ["ExplorerControls"]

#: How the colour dropdown names each colour-range mode.
COLOUR_LABELS = {
    "fixed": "fixed over snapshots",
    "snapshot": "per snapshot",
    "robust": "robust (1-99%)",
}


def _or_none(name: str) -> str | None:
    return name or None  # an empty Dropdown's value (no quantity is called "")


def _or_empty(name: str | None) -> str:
    return name or ""


class ExplorerControls:
    """The time controls (Play, slider, follow latest), the selection dropdowns, the layer picker.

    Parameters
    ----------
    owner : traitlets.HasTraits
        The explorer: its traits ``index``, ``follow_latest``, ``layer``, ``quantity``,
        ``sample``, ``channel`` and ``colour_range`` are bound to the controls; the picker
        reads its ``recording`` (the layers' types and shapes).
    lock : threading.RLock
        The owner's lock: browser updates and every copy between a control and a trait
        happen holding it.
    on_error : callable
        ``on_error(error)`` when the owner refuses a control's value; the control then shows
        the trait's value again.
    """

    def __init__(
        self,
        owner: traitlets.HasTraits,
        lock: threading.RLock,
        on_error: Callable[[Exception], None],
    ) -> None:
        self._owner, self._lock, self._on_error = owner, lock, on_error
        self._narrow = ipywidgets.Layout(width="auto", margin="2px 10px 2px 0")  # the dropdowns'
        self.play = ipywidgets.Play(
            value=0, min=0, max=0, step=1, interval=400, description="play",
            layout=ipywidgets.Layout(width="auto"),
        )  # fmt: skip
        self.slider = LockedIntSlider(
            lock, value=0, min=0, max=0, description="snapshot", readout=False,
            continuous_update=True, layout=ipywidgets.Layout(width="360px"),
        )  # fmt: skip
        # the Play control drives the slider in the browser: animation needs no kernel round trip
        self.play_link = ipywidgets.jslink((self.play, "value"), (self.slider, "value"))
        self.follow_box = LockedCheckbox(
            lock, value=True, description="follow latest", indent=False,
            layout=ipywidgets.Layout(width="auto"),
        )  # fmt: skip
        # no wider than 340 px: a long label ("...out_proj · NonDynamicallyQuantizableLinear")
        # is cut in the closed dropdown and whole in its list
        self.layer_box = self._dropdown(
            "layer",
            (),
            layout=ipywidgets.Layout(width="auto", max_width="340px", margin="2px 10px 2px 0"),
        )
        self.layer_box.add_class("nnviz-layer")
        self.picker = LayerPicker(self.layer_box, on_filter=self._filter_changed)
        self.quantity_box = self._dropdown("quantity", ())
        self.sample_box = self._dropdown("sample", (("all", -1),))
        self.channel_box = self._dropdown("channel", (("all", -1),))
        modes = tuple((COLOUR_LABELS[mode], mode) for mode in COLOUR_MODES)
        self.colour_box = self._dropdown("colours", modes, value="fixed")
        self._links = {name: self._link(name) for name in self._bindings()}

    def _bindings(self) -> dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]]:
        """The one table: each control, the trait it shows, and the conversions there and back."""
        owner = self._owner
        return {
            "slider": ("index", int, int),
            # Play's value follows the index (a page built from widget state, as in Voila,
            # runs the jslink, which copies Play's value onto the slider); the browser's Play
            # moves the slider, which moves the index: Play's own value is not read back
            "play": ("index", int, lambda _value: owner.index),
            "follow_box": ("follow_latest", bool, bool),
            # "" is a layer too (the model's own parameters): None only when nothing is offered
            "layer_box": ("layer", self._offered_layer, _or_empty),
            "quantity_box": ("quantity", _or_none, _or_empty),
            # a sample the quantity has no choice of (weights, dense activations) shows "all"
            "sample_box": ("sample", self._offered_sample, int),
            "channel_box": ("channel", int, int),
            "colour_box": ("colour_range", str, str),
        }

    def rows(self, epoch_label: ipywidgets.Widget) -> list[ipywidgets.Widget]:
        """The time row (with ``epoch_label`` beside the slider), the selection row and the
        line saying where the selected layer sits.

        The selection row starts with the picker's filter and type (shown on large models
        only: they narrow the layer dropdown that follows them); it wraps where the page is
        too narrow, sample, channel and colours together.
        """
        picker = self.picker
        details = ipywidgets.HBox([self.sample_box, self.channel_box, self.colour_box])
        return [
            ipywidgets.HBox([self.play, self.slider, epoch_label, self.follow_box]),
            ipywidgets.HBox(
                [picker.search, picker.type_box, self.layer_box, self.quantity_box, details],
                layout=ipywidgets.Layout(flex_flow="row wrap"),
            ),
            picker.where,
        ]

    def show_range(self, count: int) -> None:
        """Let the slider and Play reach the newest of ``count`` snapshots."""
        newest = max(count - 1, 0)
        with self._lock:
            if self.slider.max == newest:
                return
            with self.slider.hold_sync(), self.play.hold_sync():
                self.slider.max = newest
                self.play.max = newest
            # an index set from code before the range grew was clipped to the old range there
            for name in ("slider", "play"):
                self._relink(name)

    @contextlib.contextmanager
    def offering(self, choices: Choices, layer: str) -> Iterator[None]:
        """Give the dropdowns ``choices`` while the owner sets its traits to a selection they
        offer, with ``layer`` selected (inside the ``with``); each dropdown whose options
        change shows its trait after."""
        with self._lock:
            self.picker.set_layers(choices.layers, self._owner.recording)
            self.picker.describe(layer)
            options = {
                "layer_box": self.picker.options(layer),
                "quantity_box": choices.quantities,
                "sample_box": choices.samples,
                "channel_box": choices.channels,
            }
            # only "all" to choose: nothing to choose
            self.sample_box.disabled = len(choices.samples) == 1
            self.channel_box.disabled = len(choices.channels) == 1
            with self._offered(options):
                yield

    @contextlib.contextmanager
    def _offered(self, options: dict[str, tuple]) -> Iterator[None]:
        """Set the controls' ``options``, each changed one unlinked until the ``with`` ends."""
        changed = [
            name for name, new in options.items() if list(getattr(self, name).options) != list(new)
        ]
        for name in changed:
            # unlinked first: the first option the Dropdown selects now must not reach the trait
            self._links.pop(name).unlink()
            getattr(self, name).options = options[name]
        try:
            yield
        finally:
            for name in changed:
                self._links[name] = self._link(name)

    def _filter_changed(self, text: bool) -> None:
        """The picker's filter (``text``) or type changed, in the thread that applies browser
        updates: select the layer the text names, if any, and offer what the filter keeps
        (the selected layer too)."""
        with self._lock:
            named = self.picker.named() if text else None
            if named is not None:
                try:
                    self._owner.layer = named
                except Exception as error:  # shown, never raised into the comm thread
                    self._on_error(error)
            layer = self._owner.layer
            self.picker.describe(layer)
            with self._offered({"layer_box": self.picker.options(layer)}):
                pass

    def _relink(self, name: str) -> None:
        """Link the control anew: it shows its trait's value again."""
        self._links.pop(name).unlink()
        self._links[name] = self._link(name)

    def _link(self, name: str) -> Link:
        trait, there, back = self._bindings()[name]
        return Link(
            (self._owner, trait),
            (getattr(self, name), "value"),
            self._lock,
            transform=(there, back),
            on_error=self._on_error,
        )

    def _offered_layer(self, layer: str) -> str | None:
        offered = [value for _, value in self.layer_box.options]
        return layer if layer in offered else None

    def _offered_sample(self, sample: int) -> int:
        offered = [value for _, value in self.sample_box.options]
        return sample if sample in offered else -1

    def _dropdown(self, description: str, options: tuple, **kwargs: Any) -> LockedDropdown:
        kwargs.setdefault("layout", self._narrow)
        return LockedDropdown(
            self._lock,
            description=description,
            options=options,
            style={"description_width": "initial"},
            **kwargs,
        )
