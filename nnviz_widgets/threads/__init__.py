"""The one toolkit for threads and locks; every other module takes its threads from here.

- :mod:`~nnviz_widgets.threads.listeners`: callbacks called from whatever thread reports
  (:class:`Listeners`), and warnings that can never reach a training loop (:func:`warn_quietly`).
- :mod:`~nnviz_widgets.threads.background`: daemon threads: one that runs queued jobs in order
  (:class:`Worker`), one that repeats a job (:class:`Repeater`), and :func:`start_daemon`.
- :mod:`~nnviz_widgets.threads.throttle`: :class:`Throttle`, "at most once per interval, and the
  last call is never lost", for redraws that training would otherwise ask for every step.
- :mod:`~nnviz_widgets.threads.throttled_worker`: :class:`ThrottledWorker`, a throttle whose
  action runs in a thread of its own, so that the thread asking (training) only marks a run due.
- :mod:`~nnviz_widgets.threads.controls` (imports ipywidgets): controls whose browser updates
  apply under their owner's lock, and a two-way link that is safe across threads.

Which thread touches what, and under which lock, is in ``docs/architecture.md`` ("Threads").
Nothing here imports torch or a widget library, except ``controls``.
"""

from nnviz_widgets.threads.background import Repeater, Worker, start_daemon
from nnviz_widgets.threads.listeners import Listeners, warn_quietly
from nnviz_widgets.threads.throttle import Throttle
from nnviz_widgets.threads.throttled_worker import ThrottledWorker

__all__ = [
    "Listeners",
    "Repeater",
    "Throttle",
    "ThrottledWorker",
    "Worker",
    "start_daemon",
    "warn_quietly",
]
