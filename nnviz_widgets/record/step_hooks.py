"""The Recorder's per-step path: the optimizer's two step hooks, what they call, and flushing.

The hooks run in the training thread on every optimizer step, so they do as little as they can:
count the step (:mod:`~nnviz_widgets.record.steps` decides whether it gets statistics), copy
the statistics waiting on the device to the Recording every ``flush_every`` steps with
statistics, and let a snapshot asked for from another thread run between two steps
(:mod:`~nnviz_widgets.record.turns`). They never raise into training: a failure costs that step
its statistics and is reported once per kind.

The optimizer holds the hooks through a weak reference to :class:`StepHooks`, which only its
Recorder holds: an optimizer kept alive does not keep the Recorder alive.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch

from nnviz_widgets.record.parts import RecorderParts
from nnviz_widgets.record.turns import ModelTurns
from nnviz_widgets.threads import warn_quietly

__all__ = ["StepHooks"]


class StepHooks:
    """The step hooks of one Recorder and what they feed.

    Parameters
    ----------
    parts : RecorderParts
        The step statistics (count the steps, take their statistics), the Recording and the
        disk writer (None without a path) that receive them.
    turns : ModelTurns
        Where a snapshot from another thread waits for a step boundary.
    """

    def __init__(self, parts: RecorderParts, turns: ModelTurns) -> None:
        self.closed = False
        """Set by :meth:`close`: from then on the hooks do nothing."""
        self.steps = parts.steps
        self.recording = parts.recording
        self.disk = parts.disk
        self.turns = turns
        self.handles: list[Any] = []
        self.failures: set[str] = set()  # step-hook failures already warned of

    def install(self, optimizer: torch.optim.Optimizer) -> None:
        """Register the pre- and post-step hooks on ``optimizer`` (removed by :meth:`remove`)."""
        ref = weakref.ref(self)  # the optimizer must not keep the Recorder alive
        self.handles.append(
            optimizer.register_step_pre_hook(_weak_hook(ref, "before_optimizer_step"))
        )
        self.handles.append(
            optimizer.register_step_post_hook(_weak_hook(ref, "after_optimizer_step"))
        )

    def remove(self) -> None:
        """Remove the hooks registered so far; safe to call more than once."""
        handles, self.handles = self.handles, []
        for handle in handles:
            handle.remove()

    def close(self, free: Callable[[], None]) -> None:
        """The Recorder's close(): remove the hooks, then, once, after a snapshot in progress,
        flush, mark closed and call ``free``. Safe to call more than once."""
        self.remove()
        if self.closed:
            return
        with self.turns.closing():
            if self.closed:
                return
            try:
                self.flush()
            finally:
                self.closed = True
                free()

    def before_optimizer_step(self, *args: object) -> None:
        """The pre-step hook: gradients are final (after DDP's average), weights not yet updated."""
        if self.closed:
            return
        try:
            self.steps.before_step()
        except Exception as error:
            self.failed(error)

    def after_optimizer_step(self, *args: object) -> None:
        """The post-step hook: the step's statistics, a flush when due, a waiting snapshot."""
        if self.closed:
            return
        try:
            if self.steps.after_step():  # flush_every steps' norms wait on the device
                self.flush()
        except Exception as error:
            self.failed(error)
        self.turns.between_steps()  # a snapshot from another thread runs here, if one waits

    def failed(self, error: Exception) -> None:
        """A step hook failed: training must go on. The step keeps no statistics; each kind of
        failure is reported once."""
        if self.closed:  # closed from another thread mid-step: nothing to record
            return
        self.steps.abandon_step()
        kind = f"{type(error).__name__}: {error}"
        if kind not in self.failures:
            self.failures.add(kind)
            warn_quietly(
                f"the Recorder could not take a training step's statistics ({kind}); training "
                "goes on, and such steps have no statistics",
                stacklevel=4,
            )

    def flush(self) -> None:
        """Copy the per-step statistics waiting on the device into the Recording (and disk)."""
        flushed = self.steps.flush()
        if flushed is None:
            return
        steps, series = flushed
        self.recording.append_steps(steps, series)
        if self.disk is not None:
            self.disk.write_steps(steps, series)


def _weak_hook(ref: weakref.ReferenceType, method: str) -> Callable:
    def hook(*args: object) -> None:
        hooks = ref()
        if hooks is not None:
            getattr(hooks, method)(*args)
        return None  # a hook's return value would replace the optimizer's arguments

    return hook
