"""What a comparison lets you select: the explorer's rules, on the reference run, among the
layers every run has, with the index counting epochs.

Pure functions, as the explorer's ``selection`` module: :func:`check_choice` validates one
trait (in words that say what the runs hold instead), :func:`fit_choice` makes a selection
whole and says what the dropdowns offer. No widget, no lock.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nnviz_widgets.recording import Recording
from nnviz_widgets.widgets.compare.runs import LayerAgreement
from nnviz_widgets.widgets.explorer.selection import (
    Choices,
    Selection,
    ShapeOf,
    checked,
    choices,
    default_layer,
    default_quantity,
    fit_selection,
    has_layer,
    layer_quantities,
)

__all__ = ["check_choice", "fit_choice"]

#: Most layers an error message lists.
LISTED = 12


def check_choice(
    reference: Recording,
    agreement: LayerAgreement,
    epochs: int,
    selection: Selection,
    name: str,
    value: Any,
    shape_of: ShapeOf,
) -> Any:
    """``value`` made the ``name`` of ``selection`` (at the reference run's snapshot), or
    ValueError saying what the runs offer instead. ``index`` counts the ``epochs``."""
    if name == "index":
        if not (0 <= value < epochs or value == epochs == 0):
            span = f" (0 to {epochs - 1})" if epochs else ""
            raise ValueError(
                f"index {value} is out of range: the runs have {epochs} epoch(s){span}"
            )
        return value
    lacking = [run for run, layers in agreement.missing.items() if value in layers]
    if name == "layer" and lacking:
        raise ValueError(
            f"layer {value!r} is not in every run ({', '.join(map(repr, lacking))} "
            f"lack{'s' if len(lacking) == 1 else ''} it); layers every run has: "
            + ", ".join(map(repr, agreement.shared[:LISTED]))
        )
    return checked(reference, selection, name, value, shape_of)


def fit_choice(
    reference: Recording, agreement: LayerAgreement, wanted: Selection, shape_of: ShapeOf
) -> tuple[Selection, Choices]:
    """``wanted`` (at the reference run's snapshot) made whole among the layers every run has
    (see the explorer's ``fit_selection``), and what the dropdowns offer for it."""
    shared = list(agreement.shared)
    if shared and (not has_layer(wanted) or wanted.layer not in shared):
        layer = default_layer(reference, shared)
        quantity = default_quantity(layer_quantities(reference, layer), wanted.quantity)
        wanted = replace(wanted, layer=layer, quantity=quantity)
    fitted = fit_selection(reference, wanted, shape_of)
    offered = choices(reference, fitted, shape_of)
    return fitted, replace(offered, layers=tuple(o for o in offered.layers if o[1] in shared))
