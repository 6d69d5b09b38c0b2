"""What the framework callbacks share: the options, the Recording, the Recorder and when to
take a snapshot.

A callback is made before training starts, often before a view is shown; the model and the
optimizer are only known once the framework starts training. So a :class:`RecorderSession`
holds an empty :class:`~nnviz_widgets.Recording` from the start (a view can show it at once:
``nv.TrainingExplorer(callback)``) and makes its :class:`~nnviz_widgets.Recorder`, filling that
Recording, when the framework says training began. The callbacks translate the framework's
events (``start``, ``step_done``, ``epoch_done``, ``close``) and read its metrics; this class
decides the rest, the same way for both.
"""

from __future__ import annotations

import inspect
import numbers
import os
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from nnviz_widgets.record import Recorder
from nnviz_widgets.recording import DEFAULT_MAX_BYTES, Recording

__all__ = ["RecorderSession", "SessionCallback", "innermost_optimizer", "scalar_metrics"]

#: Recorder arguments a callback sets itself.
_SET_BY_CALLBACK = ("model", "probe", "optimizer", "recording")
#: Names a metric cannot have: ``Recorder.snapshot``'s own arguments.
_RESERVED = ("epoch", "self")


def _recorder_options() -> tuple[str, ...]:
    names = inspect.signature(Recorder.__init__).parameters
    return tuple(n for n in names if n not in ("self", *_SET_BY_CALLBACK))


def _check_every(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return value


class RecorderSession:
    """One callback's Recording, and its Recorder while a training runs.

    Parameters
    ----------
    probe : tensor, tuple or dict, optional
        The probe batch, as :class:`~nnviz_widgets.Recorder` takes it.
    every_n_epochs, every_n_steps : int, optional
        Take a snapshot at the end of every n-th epoch, or after every n-th optimizer step.
        By default, every epoch. Both may be given.
    at_start : bool
        Take a snapshot of the untrained model when training starts (snapshot 0), so that the
        first epoch's changes can be seen.
    options : dict
        Any other :class:`~nnviz_widgets.Recorder` argument (``layers=``, ``path=``,
        ``loss_fn=``, ``max_bytes=``, ...).
    """

    def __init__(
        self,
        probe: object,
        every_n_epochs: int | None,
        every_n_steps: int | None,
        at_start: bool,
        options: Mapping[str, object],
    ) -> None:
        known = _recorder_options()
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(
                f"unknown Recorder option(s) {unknown}; a callback takes {list(known)} "
                f"(it sets {list(_SET_BY_CALLBACK)} itself)"
            )
        self.every_n_epochs = _check_every("every_n_epochs", every_n_epochs)
        self.every_n_steps = _check_every("every_n_steps", every_n_steps)
        if self.every_n_epochs is None and self.every_n_steps is None:
            self.every_n_epochs = 1
        if not isinstance(at_start, bool):
            raise TypeError(f"at_start must be True or False, got {at_start!r}")
        self.at_start = at_start
        self.probe = probe
        self.options = dict(options)
        max_bytes = self.options.pop("max_bytes", DEFAULT_MAX_BYTES)
        self.recording = Recording(max_bytes=max_bytes)
        self.recorder: Recorder | None = None
        self._snapshot_step: int | None = None  # the optimizer step of the newest snapshot
        self._made_in = os.getpid()  # a training in another process cannot fill .recording

    def start(self, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> None:
        """Make the Recorder (training begins); a snapshot of the untrained model if asked."""
        if self.recorder is not None or len(self.recording):
            raise RuntimeError(
                "this callback has recorded a training already (its recording stays readable "
                "as .recording); make a new callback to record another"
            )
        if os.getpid() != self._made_in and "path" not in self.options:
            warnings.warn(
                "this training runs in a process the framework started (e.g. Lightning's "
                "ddp_spawn or ddp_notebook), so what it records cannot reach the callback you "
                "made: its .recording stays empty where you made it. Pass path= to the callback "
                "and open the directory there: nv.Recording.open(path, follow=True)",
                UserWarning,
                stacklevel=3,
            )
        self.recorder = Recorder(
            model, self.probe, optimizer, recording=self.recording, **self.options
        )
        if self.at_start:
            self._take(0.0, 0, {})

    def step_done(self, step: int, epoch: float, metrics: Mapping[str, float]) -> None:
        """Optimizer step ``step`` (counted from 1) is done: a snapshot if it is due."""
        due = self.every_n_steps is not None and step > 0 and step % self.every_n_steps == 0
        if due and self.recorder is not None and step != self._snapshot_step:
            self._take(epoch, step, metrics)

    def epoch_done(self, epochs: int, step: int, metrics: Mapping[str, float]) -> None:
        """``epochs`` epochs are done (counted from 1), at optimizer step ``step``."""
        due = self.every_n_epochs is not None and epochs % self.every_n_epochs == 0
        if due and self.recorder is not None and step != self._snapshot_step:
            self._take(float(epochs), step, metrics)

    def _take(self, epoch: float, step: int, metrics: Mapping[str, float]) -> None:
        self._snapshot_step = step
        self.recorder.snapshot(epoch=epoch, **metrics)

    def close(self) -> None:
        """Close the Recorder (its hooks are removed; the Recording stays). Idempotent."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.close()


class SessionCallback:
    """What both framework callbacks show of their session: ``recording`` and ``recorder``.

    A subclass sets ``self._session`` (a :class:`RecorderSession`) in its ``__init__``.
    """

    _session: RecorderSession

    @property
    def recording(self) -> Recording:
        """What the callback records, there from the start (empty until training starts)."""
        return self._session.recording

    @property
    def recorder(self) -> Recorder | None:
        """The Recorder while training runs; None before and after."""
        return self._session.recorder


def scalar_metrics(values: Mapping[str, object]) -> dict[str, float]:
    """The scalar entries of a framework's metrics, as floats: numbers, numpy scalars and
    one-element tensors. Others (strings, lists, larger tensors) and the names a snapshot
    reserves (``epoch``) are left out."""
    found = {}
    for name, value in values.items():
        if not isinstance(name, str) or name in _RESERVED:
            continue
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            value = value.detach().float().cpu().item()
        elif isinstance(value, np.ndarray | np.generic):
            if value.size != 1:
                continue
            value = float(np.asarray(value).reshape(()))
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        found[name] = float(value)  # NaN and Inf kept: a diverging loss is worth seeing
    return found


def innermost_optimizer(optimizer: object) -> torch.optim.Optimizer | None:
    """The torch optimizer inside a framework's wrappers (Accelerate's ``AcceleratedOptimizer``
    and Lightning's ``LightningOptimizer`` keep it as ``.optimizer``): its step hooks are the
    ones that run."""
    seen = set()
    while optimizer is not None and id(optimizer) not in seen:
        seen.add(id(optimizer))
        inner = getattr(optimizer, "optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer):
            break
        optimizer = inner
    return optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
