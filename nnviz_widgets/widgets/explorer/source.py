"""Where the explorer's snapshots come from, and training started from its buttons.

:func:`open_source` turns what the user passed (a torch model, a Recorder, a Recording, the path
of a recording directory, or nothing) into a :class:`Source`; torch is imported only for a
model. :func:`start_training` runs ``train_epoch`` in a background
:class:`~nnviz_widgets.TrainingLoop` that snapshots after each epoch. One explorer at a time
trains a given model: running a cell again stops the previous explorer's training before the
new one touches the model (a probe pass beside a training step would read torn weights).
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnviz_widgets.recording import Recording
from nnviz_widgets.training import TrainingLoop
from nnviz_widgets.widgets.training_controls import TrainingControls

__all__ = ["Source", "open_source", "start_training"]

#: The explorer training each model from its buttons, by id(model).
_TRAINING: dict[int, weakref.ReferenceType] = {}
#: Names ``Recorder.snapshot`` takes for itself: a metric of that name is recorded renamed.
RESERVED_METRICS = ("epoch", "self")


@dataclass(frozen=True)
class Source:
    """What an explorer reads, and whether it opened it (and so must close it)."""

    recording: Recording
    recorder: Any = None  # a Recorder, when there is a model to snapshot
    owned: bool = False


def open_source(
    source: Any,
    probe: Any,
    optimizer: Any,
    options: dict,
    *,
    train_epoch: Callable[[int], Any] | None,
    epochs: int | None,
) -> Source:
    """Check the explorer's arguments and open its source (see ``TrainingExplorer``).

    With ``train_epoch``, the explorer that trains the same model already is closed first.
    """
    if train_epoch is not None and not callable(train_epoch):
        raise TypeError(
            "train_epoch must be a function train_epoch(epoch) -> metrics, got "
            f"{type(train_epoch).__name__}"
        )
    if epochs is not None and train_epoch is None:
        raise TypeError("epochs= applies only with train_epoch=")
    if train_epoch is not None:
        _stop_previous_training(source)
    opened = _resolve(source, probe, optimizer, options)
    if train_epoch is not None and opened.recorder is None:
        raise TypeError(
            "train_epoch= needs a model (or a Recorder) to record into; a Recording only "
            "replays what was recorded"
        )
    return opened


def _resolve(source: Any, probe: Any, optimizer: Any, options: dict) -> Source:
    if source is None:
        source = Recording()
    model_only = probe is not None or optimizer is not None or options
    if isinstance(source, str | os.PathLike | Recording) or isinstance(
        getattr(source, "recording", None), Recording
    ):
        if model_only:
            raise TypeError("probe, optimizer and recorder options apply only to a model")
        if isinstance(source, str | os.PathLike):
            # a directory another process may still be writing: follow it
            return Source(Recording.open(source, follow=True), owned=True)
        if isinstance(source, Recording):
            return Source(source)
        if callable(getattr(source, "snapshot", None)):  # a Recorder
            return Source(source.recording, recorder=source)
        # a framework callback (nnviz_widgets.integrations): its recording, filled while the
        # framework trains; the explorer neither snapshots nor closes it
        return Source(source.recording)
    try:  # a model: only now is torch needed
        import torch
    except ImportError as error:  # pragma: no cover - torch is a dependency
        raise TypeError(
            "TrainingExplorer takes a torch model, a Recorder or a Recording"
        ) from error
    if not isinstance(source, torch.nn.Module):
        raise TypeError(
            "TrainingExplorer takes a torch model, a Recorder or a Recording, "
            f"got {type(source).__name__}"
        )
    from nnviz_widgets.record import Recorder

    recorder = Recorder(source, probe=probe, optimizer=optimizer, **options)
    return Source(recorder.recording, recorder=recorder, owned=True)


def _stop_previous_training(source: Any) -> None:
    """Close the explorer that trains the same model from its buttons, if there is one."""
    from nnviz_widgets.record import unwrap_model

    model = getattr(source, "model", source)  # a Recorder, or the model itself
    try:
        key = id(unwrap_model(model))
    except TypeError:
        return  # not a model: the constructor says so in words
    previous = _TRAINING.pop(key, None)
    previous = previous() if previous is not None else None
    if previous is not None:
        previous.close()  # returns within a second, even from an epoch that does not end
        if previous.loop is not None and previous.loop.alive:
            # the new explorer is about to touch the same model: wait (30 s at most, with a
            # warning) for the old epoch to end at its next step
            previous.loop.stop()


def start_training(
    owner: Any, source: Source, train_epoch: Callable[[int], Any], epochs: int | None
) -> tuple[TrainingLoop, TrainingControls]:
    """Train from ``owner``'s buttons: a TrainingLoop in the background and its controls.

    It snapshots the untrained network (epoch 0) if the recording is empty. Epochs are numbered
    from the last snapshot's epoch + 1: ``train_epoch(n)`` trains epoch ``n`` and the snapshot
    after it is labelled ``n`` (the status line says "training epoch n" meanwhile). A failed
    or cut epoch leaves no snapshot. When the loop stops, fails or its thread ends, a Recorder
    the explorer opened is closed (its hooks released); the recording stays.
    """
    recorder = source.recorder
    _TRAINING[id(recorder.model)] = weakref.ref(owner)
    if len(source.recording) == 0:
        recorder.snapshot(epoch=0)  # the untrained network: where learning starts from
    done = int(source.recording.snapshots[-1])

    def train(epoch: int) -> Any:
        # the model is the training thread's while it trains: explorer.snapshot() from a cell
        # then waits for the end of an optimizer step (docs/recorder.md, "Threads")
        recorder.begin_training()
        return train_epoch(epoch)

    def on_epoch(epoch: int, metrics: dict) -> None:
        recorder.snapshot(epoch=epoch, **_unreserved(metrics))

    loop = TrainingLoop(
        train, optimizer=recorder.optimizer, on_epoch=on_epoch, first_epoch=done + 1
    )

    def turns(loop: TrainingLoop, event: str) -> None:
        # in the training thread (from another, end_training() does nothing)
        if event == "step":  # after a pause mid-epoch, before the next forward pass
            recorder.begin_training()
        elif event == "ended" or (event == "state" and loop.state != "running"):
            recorder.end_training()  # paused, stopped, failed, or the thread ends

    loop.add_listener(turns)
    if source.owned:

        def release(loop: TrainingLoop, event: str) -> None:
            # a stopped or failed loop cannot restart: release the hooks now (a kernel
            # interrupt included), or once the thread of a loop closed mid-epoch ends (never
            # beside its training step); the recording stays for scrubbing
            if event == "ended" or (event == "state" and loop.state in ("stopped", "failed")):
                recorder.close()

        loop.add_listener(release)
    return loop, TrainingControls(loop, epochs=epochs)


def _unreserved(metrics: dict) -> dict:
    """``metrics`` with the names ``Recorder.snapshot`` keeps for itself renamed (a warning
    says so): ``epoch`` becomes ``epoch_metric``."""
    renamed = dict(metrics)
    for name in RESERVED_METRICS:
        if name in renamed:
            new = f"{name}_metric"
            while new in renamed:
                new += "_"
            renamed[new] = renamed.pop(name)
            warnings.warn(
                f"train_epoch returned a metric named {name!r}, a name the snapshot keeps for "
                f"itself (its label is the epoch number): recorded as {new!r}",
                RuntimeWarning,
                stacklevel=2,
            )
    return renamed
