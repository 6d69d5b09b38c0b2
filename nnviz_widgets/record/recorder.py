"""The Recorder: watches a PyTorch model train and fills a Recording, without changing training.

How it stays invisible and cheap:

- During training it places **no hook on the model**. On the optimizer steps that
  ``stats_every`` picks it reads the gradients and weights from the optimizer's step hooks (or
  from :meth:`Recorder.step` when there is no optimizer), reduces them on their device to a few
  numbers per layer (the update's norm estimated from a fixed sample of the weights, so no copy
  of the parameters is kept), and copies those to the host only every ``flush_every`` such
  steps (:mod:`~nnviz_widgets.record.steps`); other steps are only counted.
- At :meth:`Recorder.snapshot` it copies the chosen layers' weights and gradients
  (:mod:`~nnviz_widgets.record.parameters`), then runs the fixed probe batch through the model
  once, with forward hooks that exist only during that pass (:mod:`~nnviz_widgets.record.probe`).
  The probe pass runs in eval mode inside a forked RNG, restores every module's mode and every
  buffer afterwards, and takes its gradients with ``torch.autograd.grad``, which never touches
  ``param.grad``.
- Hooks are registered inside ``try`` and removed in ``finally``; the Recorder is a context
  manager and :meth:`Recorder.close` is idempotent.
- The step hooks never raise into training: gradients in any layout are reduced
  (:mod:`~nnviz_widgets.record.layouts`), and anything else that fails costs that step its
  statistics (one warning per kind of failure). The model may change between snapshots: the
  next snapshot plans the layers again (:mod:`~nnviz_widgets.record.plan`).
- Snapshots are taken one at a time, and one asked for from another thread while a training
  thread trains waits for that thread to end an optimizer step
  (:mod:`~nnviz_widgets.record.turns`).

This module is the facade: the public methods, and in which order the parts run. The parts are
built from the arguments, checked first, by :mod:`~nnviz_widgets.record.parts`; the optimizer's
step hooks, the per-step path and closing are :mod:`~nnviz_widgets.record.step_hooks`'s; a
snapshot's steps are :mod:`~nnviz_widgets.record.snapshots`'s.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import torch
from torch import nn

from nnviz_widgets.record.arguments import as_float
from nnviz_widgets.record.layers import LayerSpec, unwrap_model
from nnviz_widgets.record.parts import RecorderParts
from nnviz_widgets.record.snapshots import SnapshotTaker
from nnviz_widgets.record.step_hooks import StepHooks
from nnviz_widgets.record.turns import ModelTurns
from nnviz_widgets.recording import DEFAULT_MAX_BYTES, Recording

__all__ = ["Recorder"]


class Recorder:
    """Record a model's weights, gradients and activations while it trains.

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained. A ``torch.compile``d model, ``DistributedDataParallel`` or
        ``DataParallel`` wrapper is unwrapped: layers are named as in the inner module's
        ``named_modules()`` and the probe runs through the inner (eager) module.
    probe : torch.Tensor or (torch.Tensor, torch.Tensor), optional
        A fixed batch, ``x`` or ``(x, y)``, on which activations, output gradients and saliency
        are computed at every snapshot, so that frames compare across snapshots. Without it only
        weights, gradients, updates and their statistics are recorded. It is checked against the
        model at construction.
    optimizer : torch.optim.Optimizer, optional
        When given, per-step statistics are taken from its step hooks. Without it, call
        :meth:`step` after each ``optimizer.step()`` (or after each manual weight update).
    layers : str, type, or iterable of them, optional
        What to record: module names (``"features.0"``), glob patterns (``"encoder.*"``) or
        module classes (``nn.Conv2d``). By default, every module that does work: each module
        with parameters of its own, and each leaf module (no children) except pass-through ones
        (``Identity``, ``Flatten``, ``Unflatten``, dropout). The root module counts only when it
        is a leaf or has parameters of its own; it is then named ``""``.
    loss_fn : callable, optional
        ``loss_fn(output, target)`` (or ``loss_fn(output)`` when the probe has no target)
        returning a scalar: the probe loss whose gradients give ``output_grad`` and
        ``saliency``. By default: the summed cross-entropy for integer targets, the summed squared
        error for float targets, and without targets the sum over samples of each sample's
        largest output (the predicted class's score). Summing keeps each sample's gradient
        independent of the probe size. Tensors in a tuple/dict output are found depth-first; the
        first floating-point one is the output.
    probe_mode : {"eval", "train"}
        The mode the model is put in for the probe pass (then restored). "eval" (default) makes
        the probe deterministic: dropout off, BatchNorm on its running statistics.
    max_bytes : int
        Memory budget of the Recording's frames (see :class:`~nnviz_widgets.Recording`).
    memory_per_snapshot : int
        Bytes of memory one snapshot's frames may take (8 MiB by default, so that about a
        hundred snapshots fit the default ``max_bytes``). Frames small enough are kept exactly;
        larger ones share what is left, each kept as a block-mean preview of the same number of
        values (float16): what the explorer draws, ready when recorded. The exact statistics
        (NaN/Inf count, finite extremes, a histogram of the values) are taken from the whole
        tensor whatever is kept. With ``path=`` the whole tensors go to disk too, and
        ``Recording.frame`` reads them from there.
    max_frame_values : int
        Tensors larger than this many values are block-averaged on the device before they are
        copied, even for disk (activations keep every sample); the Recording notes the
        reduction.
    flush_every : int
        Per-step statistics wait on the device and are copied to the host in one go every this
        many steps with statistics (and at each snapshot).
    stats_every : int or "auto"
        Which optimizer steps get per-step statistics (gradient norm, weight norm, update ratio):
        every this many steps (``k, 2k, ...``), or with "auto" (default) as many as keep the step
        hooks' host time near 1% of the time between steps (measured on the host, without
        waiting for the device; at least one step in 100, the first steps and the first step
        after each snapshot). Steps without statistics cost a counter. ``recording.steps`` lists
        the steps that have them.
    mean_gradient : bool
        Record as ``weight_grad`` (``bias_grad``, ...) the mean gradient over the optimizer steps
        since the previous snapshot. It costs a float32 copy of the recorded parameters on their
        device and one more pass over the gradients every step. By default (False) a snapshot
        records the gradient ``param.grad`` holds when it is taken (the last step's, when the
        loop zeroes gradients before ``backward()``).
    path : str or os.PathLike, optional
        Also write the recording to this directory as it records (format in
        ``docs/format.md``; open it elsewhere with ``Recording.open(path, follow=True)``).
        Writing happens in a background thread; a failed write (full disk, ...) is reported
        as a warning and never stops training. Frames on disk may leave memory when the memory
        budget is reached, and stay readable. Under ``torch.distributed`` only rank 0 writes.
        An unusable path fails here, at construction.
    overwrite : bool
        Replace a recording already in ``path``.
    recording : Recording, optional
        An empty :class:`~nnviz_widgets.Recording` to fill instead of a new one: one a view
        already shows before training starts (the framework callbacks of
        :mod:`nnviz_widgets.integrations` make their Recorder at the start of training). Its
        own ``max_bytes`` applies.

    Notes
    -----
    Under ``torch.distributed`` (DDP) every rank keeps its step hooks and counts steps, and
    rank 0 alone takes snapshots; snapshots take turns with each other and with a training
    thread (:meth:`begin_training`); the model may change between snapshots, and the next one
    records it as it is then. How, in ``docs/recorder.md``: "torch.compile, DDP, GPUs",
    "Threads", "When the model changes".

    Examples
    --------
    >>> rec = Recorder(model, probe=(x, y), optimizer=opt)  # doctest: +SKIP
    >>> with rec:
    ...     for epoch in range(3):
    ...         train_one_epoch()
    ...         rec.snapshot(epoch=epoch, loss=0.41)
    >>> rec.recording.frame("fc1", "weight", -1)
    """

    def __init__(
        self,
        model: nn.Module,
        probe: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        layers: LayerSpec | None = None,
        loss_fn: Callable[..., torch.Tensor] | None = None,
        probe_mode: str = "eval",
        max_bytes: int = DEFAULT_MAX_BYTES,
        memory_per_snapshot: int = 8 << 20,
        max_frame_values: int = 1 << 24,
        flush_every: int = 50,
        stats_every: int | str = "auto",
        mean_gradient: bool = False,
        path: str | os.PathLike | None = None,
        overwrite: bool = False,
        recording: Recording | None = None,
    ) -> None:
        self._hooks: StepHooks | None = None  # until construction succeeds: closed
        self._model = unwrap_model(model)
        self._optimizer = optimizer
        self._parts = RecorderParts(
            self._model,
            probe,
            optimizer,
            layers=layers,
            loss_fn=loss_fn,
            probe_mode=probe_mode,
            max_bytes=max_bytes,
            memory_per_snapshot=memory_per_snapshot,
            max_frame_values=max_frame_values,
            flush_every=flush_every,
            stats_every=stats_every,
            mean_gradient=mean_gradient,
            path=path,
            overwrite=overwrite,
            recording=recording,
        )
        self.recording = self._parts.recording
        """The :class:`~nnviz_widgets.Recording` this Recorder fills."""
        self._turns = ModelTurns()
        self._snapshots = SnapshotTaker(self._parts)
        self._hooks = StepHooks(self._parts, self._turns)
        if optimizer is not None:
            try:
                self._hooks.install(optimizer)
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # a backstop only: close() or `with` is the way
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"Recorder({type(self._model).__name__}, {len(self._parts.layers.modules)} layers, "
            f"{self.step_count} steps, {len(self.recording)} snapshots, {state})"
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        hooks = self._hooks
        return hooks is None or hooks.closed

    @property
    def model(self) -> nn.Module:
        """The module recorded (inside a compile or DDP wrapper, the module it wraps)."""
        return self._model

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer whose steps are recorded, if one was given."""
        return self._optimizer

    @property
    def layers(self) -> tuple[str, ...]:
        """Names of the recorded layers (as of the last snapshot: the model may change)."""
        return self._parts.layers.names

    @property
    def step_count(self) -> int:
        """Training steps seen so far (``recording.steps`` is the array of step numbers)."""
        return self._parts.steps.step_count

    @property
    def steps(self) -> int:
        """Training steps seen so far: the same number as :attr:`step_count`, its clearer name.

        Unlike ``Recording.steps`` (an array of step numbers), this is an int.
        """
        return self.step_count

    @property
    def stats_every(self) -> int:
        """Steps from one step with per-step statistics to the next, as now chosen (with
        ``stats_every="auto"`` it follows the measured cost)."""
        return self._parts.steps.schedule.stride

    def memory(self) -> dict:
        """What the Recorder holds besides its Recording's frames, in bytes.

        Returns
        -------
        dict
            ``device_bytes``: held on the model's device(s), in all; ``parameter_bytes``: the
            recorded parameters' own bytes (each once), to compare with; ``host_bytes``: held on
            the host, in all; ``device`` and ``host``: the same bytes by what they are for
            (``"update sample"``: the weights' fixed sample, two flat buffers; ``"gradient
            sum"``: ``mean_gradient=True``'s float32 sum; ``"norms waiting for the host"``;
            ``"probe"``: the probe batch; ``"weights at the last snapshot"``: host float32
            copies, for the next snapshot's ``update``). ``recording.nbytes`` counts the frames.
        """
        return self._parts.memory()

    def close(self) -> None:
        """Remove every hook, copy pending statistics into the Recording, free buffers.

        Safe to call more than once; the Recording stays readable. A snapshot in progress in
        another thread ends first; one waiting for the model then raises.
        """
        if self._hooks is not None:  # None when construction failed before the hooks
            self._hooks.close(self._parts.free)

    # ------------------------------------------------------------------ threads
    def begin_training(self) -> None:
        """Say that the calling thread trains the model from now on.

        Until :meth:`end_training` (or the thread ends), a :meth:`snapshot` called from another
        thread waits for this thread to end an optimizer step (or call :meth:`step`), and is
        taken there, this thread waiting meanwhile: the probe pass never runs beside a forward
        or backward pass, and the snapshot's gradients are that step's. Waits for a snapshot
        in progress in another thread. Only needed when snapshots come from another thread
        than the one that trains; the explorer's Train button does it for its training loop.
        """
        self._turns.begin_training()

    def end_training(self) -> None:
        """Say that the calling thread no longer touches the model (training paused, between
        epochs, done): snapshots from other threads run at once again. Does nothing in a
        thread that did not call :meth:`begin_training`."""
        self._turns.end_training()

    # ------------------------------------------------------------------ per step
    def step(self) -> None:
        """Record one training step; only for a Recorder made without an optimizer.

        Call it after ``optimizer.step()`` (gradients are still in ``param.grad`` until the next
        ``zero_grad()``): it reads the gradients and the weights' change since the previous call.
        """
        self._check_open()
        if self._optimizer is not None:
            raise RuntimeError(
                "this Recorder counts steps from its optimizer's hooks; calling step() as well "
                "would count every step twice. Build it without optimizer= to call step()."
            )
        hooks = self._hooks
        try:
            hooks.steps.before_step()
        except Exception as error:
            hooks.failed(error)
        hooks.after_optimizer_step()

    def flush(self) -> None:
        """Copy the per-step statistics waiting on the device into the Recording."""
        self._hooks.flush()

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, epoch: float | None = None, **metrics: float) -> int:
        """Record one frame of every chosen layer; returns the snapshot's index.

        Parameters
        ----------
        epoch : float, optional
            The snapshot's label; by default the number of snapshots taken so far.
        **metrics : float
            Scalars to keep with the snapshot (``loss=0.41, accuracy=0.93``); a 0-d tensor or a
            numpy scalar is accepted.

        Notes
        -----
        Safe to call from any thread: snapshots are taken one at a time, and one called while
        another thread trains (see :meth:`begin_training`) is taken between two of its steps.
        """
        self._check_open()
        label = None if epoch is None else as_float("epoch", epoch)
        values = {name: as_float(f"metric {name!r}", value) for name, value in metrics.items()}
        with self._turns.snapshot():
            self._check_open()  # closed while this snapshot waited for its turn
            self.flush()
            index = self._snapshots.take(label, values)
        # the training thread's own snapshot is between two steps too: snapshots waiting
        # from other threads run now
        self._turns.between_steps()
        return index

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(
                "this Recorder is closed; its recording is still readable as .recording. "
                "Make a new Recorder to record more."
            )
