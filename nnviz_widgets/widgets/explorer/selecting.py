"""How a widget's selection traits move together: one mixin for the explorer and the comparison.

:class:`SelectionTraits` holds what the
:class:`~nnviz_widgets.widgets.explorer.explorer.TrainingExplorer` and the
:class:`~nnviz_widgets.widgets.compare.RunComparison` do alike when a selection trait changes
(``index``, ``layer``, ``quantity``, ``sample``, ``channel``, ``colour_range``,
``follow_latest``): scrubbing back stops following the newest snapshot, a sample chosen where
there are samples is remembered for the next quantity that has them, a new layer or quantity
makes the selection whole again with the dropdowns offering its choices, and every change
draws once. What differs (which recording decides the choices, what "newest" is) each widget
says through the hooks below. Traits and the lock stay the widget's own (``docs/explorer.md``,
"From code" and "Comparing runs"; locks: ``docs/architecture.md``, "Threads").
"""

from __future__ import annotations

from dataclasses import replace

import traitlets

from nnviz_widgets.widgets.explorer.selection import Selection

__all__ = ["SelectionTraits"]


class SelectionTraits(traitlets.HasTraits):
    """The selection traits' observers and the fitting of a selection, for a widget with those
    traits, a ``_lock`` (re-entrant), ``_controls`` (``ExplorerControls``) and
    ``_chosen_sample``. The widget defines:

    - ``_selection()``: its traits as a :class:`Selection`;
    - ``_fitted(wanted)``: ``(whole selection, choices to offer)`` for ``wanted``, whose index
      is the widget's own (a snapshot, or an epoch's position); the index returned is the
      trait's value;
    - ``_newest_index()``: the index that "follow latest" moves to;
    - ``_sample_count()``: how many samples the selected quantity has (0: none to choose);
    - ``_catch_up()`` and ``_draw()``.
    """

    @traitlets.observe("layer", "quantity", "index", "sample", "channel", "colour_range")
    def _on_selection_change(self, change: traitlets.Bunch) -> None:
        with self._lock:
            # the widget itself moves only to the newest index it synced to: an older one is
            # the user scrubbing back
            if change["name"] == "index" and change["new"] < self._newest_index():
                self.follow_latest = False
            if change["name"] == "sample" and self._sample_count():
                self._chosen_sample = change["new"]  # a choice among samples, not "nothing"
            if change["name"] in ("layer", "quantity"):  # what can be chosen changes
                self._fit_selection()
            self._draw()

    @traitlets.observe("follow_latest")
    def _on_follow_latest_change(self, change: traitlets.Bunch) -> None:
        if change["new"]:
            self._catch_up()

    def _fit_selection(self, index: int | None = None) -> None:
        """Make the selection whole, at index ``index`` if given, and let the dropdowns offer
        its choices."""
        with self._lock:
            wanted: Selection = self._selection() if index is None else self._selection().at(index)
            fitted, offered = self._fitted(replace(wanted, sample=self._chosen_sample))
            # one change: validators and observers run once the traits agree, and the observers
            # draw that once. Kept short: while it lasts, a trait set by another thread is held
            # with these (traitlets holds notifications per object, not per thread)
            with self._controls.offering(offered, fitted.layer), self.hold_trait_notifications():
                for name in ("layer", "quantity", "sample", "channel", "index"):
                    setattr(self, name, getattr(fitted, name))
