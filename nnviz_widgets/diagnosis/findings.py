"""What a diagnosis says: the :class:`Finding` type, its kinds and its severities.

A finding names what is wrong (``kind``), how bad it is (``severity``), where (``layers``, in the
recording's names), when (``snapshots`` and ``steps``), what to look at (``quantity``), the
numbers behind it, a sentence in plain words and what to try. It is an immutable value: two
diagnoses of the same recording, in memory or saved and reopened, give equal findings, and a
view can keep one as the key of what it shows.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["KINDS", "SEVERITIES", "Finding", "name_layers"]

#: The kinds of finding, in the order a list of findings of equal severity and time shows them,
#: each with what it means (``docs/diagnosis.md`` has the thresholds and what to try).
KINDS: dict[str, str] = {
    "nonfinite": "NaN or Inf appeared in the model: where and when first",
    "loss_diverging": "a loss metric rose far above where it started, or stopped being finite",
    "exploding_gradients": "gradients grew by orders of magnitude, over time or towards the input",
    "vanishing_gradients": "the first layers get orders of magnitude less gradient than the last",
    "dead_units": "ReLU units that output zero for every probe sample, snapshot after snapshot",
    "saturation": "sigmoid or tanh units stuck at their bounds on the probe",
    "not_learning": "a layer whose gradient is missing or zero, or whose weights do not change, "
    "while other layers learn",
    "update_ratio_high": "steps change the weights by a large fraction of their size",
    "update_ratio_low": "steps change the weights by a tiny fraction of their size",
}

#: Severities, from the least to the most severe. "error": training cannot work as it is;
#: "warning": something is probably wrong; "info": worth knowing, maybe on purpose.
SEVERITIES: tuple[str, ...] = ("info", "warning", "error")


def _frozen_value(value: Any) -> Any:
    """A number, text, tuple or mapping made immutable and comparable: numpy scalars become
    Python ones, a NaN becomes None (NaN equals nothing, not even itself), sequences become
    tuples and mappings read-only mappings."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return None if math.isnan(value) else value
    if isinstance(value, Mapping):
        return types.MappingProxyType({str(k): _frozen_value(v) for k, v in value.items()})
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_frozen_value(v) for v in value)
    raise TypeError(f"a finding's numbers hold numbers, text, tuples and mappings, not {value!r}")


@dataclass(frozen=True)
class Finding:
    """One thing a diagnosis found wrong (or worth knowing) in a recording.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    severity : str
        One of :data:`SEVERITIES`: ``"info"``, ``"warning"`` or ``"error"``.
    message : str
        One sentence in plain words: what is wrong, where.
    suggestion : str
        What to try.
    layers : tuple of str
        The layers it concerns, as in ``recording.layers``, in the model's order (for
        ``nonfinite``, the origin first, then the layers it reached); empty when it concerns
        the whole training (a loss metric).
    snapshots : tuple of int
        Indices of the snapshots where it holds, ascending.
    steps : tuple of int
        The training steps where it was seen, ascending: the steps of ``snapshots``, or for
        per-step evidence the step where it was seen first.
    quantity : str or None
        The quantity that shows it (``"activation"``, ``"weight_grad"``, ``"update"``,
        ``"weight"``, ...), for a view to select with :attr:`layer` and :attr:`snapshot`;
        None where no frame shows it (a loss metric).
    numbers : mapping
        The numbers behind it (read-only; numbers, text and tuples; None where a value is not
        finite). Each kind's keys are listed in ``docs/diagnosis.md``.

    Notes
    -----
    Findings are immutable, hashable and ordered: severity first (errors first), then the step
    where they start, then kind (in the order of :data:`KINDS`), then layers by name.
    :func:`~nnviz_widgets.diagnose` orders layers of equal everything else in forward order.
    """

    kind: str
    severity: str
    message: str
    suggestion: str
    layers: tuple[str, ...] = ()
    snapshots: tuple[int, ...] = ()
    steps: tuple[int, ...] = ()
    quantity: str | None = None
    numbers: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        set_field = object.__setattr__  # the frozen dataclass's own way to set in __init__
        set_field(self, "layers", tuple(str(layer) for layer in self.layers))
        set_field(self, "snapshots", tuple(sorted(int(i) for i in self.snapshots)))
        set_field(self, "steps", tuple(sorted(int(s) for s in self.steps)))
        set_field(self, "numbers", _frozen_value(dict(self.numbers)))

    # ------------------------------------------------------------------ what a view selects
    @property
    def layer(self) -> str | None:
        """The layer a view should select: the first of :attr:`layers` (the origin, or the
        most affected), or None."""
        return self.layers[0] if self.layers else None

    @property
    def snapshot(self) -> int | None:
        """The snapshot a view should select: the first where it holds, or None when no
        snapshot shows it yet."""
        return self.snapshots[0] if self.snapshots else None

    @property
    def step(self) -> int | None:
        """The training step where it was first seen, or None."""
        return self.steps[0] if self.steps else None

    # ------------------------------------------------------------------ order and text
    def sort_key(self) -> tuple:
        """Severity (errors first), first step (unknown last), kind, layers."""
        step = self.steps[0] if self.steps else math.inf
        return (-SEVERITIES.index(self.severity), step, list(KINDS).index(self.kind), self.layers)

    def __lt__(self, other: Finding) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __repr__(self) -> str:
        where = []
        if self.layers:
            more = f" (+{len(self.layers) - 1} more)" if len(self.layers) > 1 else ""
            where.append(f"layer {self.layers[0]!r}{more}")
        if self.snapshots:
            where.append(f"snapshot {self.snapshots[0]}")
        if self.steps:
            where.append(f"step {self.steps[0]}")
        at = f" at {', '.join(where)}" if where else ""
        return f"<Finding {self.severity} {self.kind}{at}: {self.message}>"


def name_layers(layers: list[str], most: int = 3) -> str:
    """Layers in words, for messages: ``layers '0', '2' and '4'``, or the first few and how
    many more."""
    if not layers:
        return "no layer"
    quoted = [repr(layer) for layer in layers[:most]]
    if len(layers) > most:
        return f"layers {', '.join(quoted)} and {len(layers) - most} more"
    if len(quoted) == 1:
        return f"layer {quoted[0]}"
    return f"layers {', '.join(quoted[:-1])} and {quoted[-1]}"
