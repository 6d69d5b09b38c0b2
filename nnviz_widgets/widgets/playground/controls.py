"""The Playground's controls: buttons, settings, the epoch slider, the state and status lines.

Each setting's control is bound to the Playground's trait of the same meaning through one table
of :class:`~nnviz_widgets.threads.controls.Link` (two-way, safe across threads), so that a
setting changed from Python shows in its control and a control changed in the browser sets the
trait, which validates it and acts on it. The two boxes for the shape (hidden layers, neurons
each) are two views of the one ``hidden`` trait. The second row (the input features, the run
list, the presets) is :mod:`.run_row`'s.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import traitlets

from nnviz_widgets.datasets import CLASS_RANGE, MULTICLASS_DATASETS
from nnviz_widgets.threads.controls import Link, LockedIntSlider
from nnviz_widgets.widgets.playground.run_row import RunRow
from nnviz_widgets.widgets.playground.settings import (
    ACTIVATIONS,
    DATASETS,
    MAX_LAYERS,
    MAX_NEURONS,
    OPTIMIZERS,
    OWN,
    REGULARIZERS,
)

__all__ = [
    "BATCH_SIZES",
    "DROPOUTS",
    "LEARNING_RATES",
    "NOISES",
    "REGULARIZATIONS",
    "TEST_FRACTIONS",
    "PlaygroundControls",
]

#: The values offered in the dropdowns (the Playground's own value is added when it is not one).
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
REGULARIZATIONS = (0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCH_SIZES = (1, 5, 10, 20, 50, 100)
NOISES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.5)
TEST_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CLASS_CHOICES = tuple(range(CLASS_RANGE[0], CLASS_RANGE[1] + 1))

_LABELLED = {"style": {"description_width": "95px"}}
#: A column of settings keeps its width (squeezed, its dropdowns hid their arrows)
_COLUMN = widgets.Layout(flex="0 0 auto", min_width="212px")


class PlaygroundControls:
    """Every control of a Playground, bound to its traits.

    Parameters
    ----------
    owner : Playground
        The widget whose traits the controls show and set, and whose ``play``, ``pause``,
        ``step`` and ``reset`` the buttons call.
    state_lock : threading.RLock
        The owner's lock for the selected snapshot: the slider applies the browser's moves,
        and its link to ``owner.index`` copies, under it.

    Attributes
    ----------
    box : ipywidgets.HBox
        The buttons and settings, in one row.
    slider : LockedIntSlider
        The epoch shown, bound to ``owner.index``; its maximum is the newest epoch.
    status : ipywidgets.HTML
        A sentence about the last thing that happened (see :meth:`tell`).
    play_button, pause_button, step_button, reset_button : ipywidgets.Button
    state_label : ipywidgets.Label
        "training: <state>".
    layers, neurons : ipywidgets.BoundedIntText
        The shape: how many hidden layers, how many neurons each.
    show_test, discretize : ipywidgets.Checkbox
    features : dict
        Feature name -> ``ipywidgets.ToggleButton``, on where the network is fed it.
    runs : ipywidgets.Dropdown
        The kept runs, newest first; picking one sets ``owner.run``.
    presets : ipywidgets.Dropdown
        Named settings; picking one calls ``owner.apply_preset``.
    """

    def __init__(self, owner: traitlets.HasTraits, state_lock: threading.RLock) -> None:
        # the settings' links copy under it, one change at a time whichever thread makes it.
        # Not state_lock: a new setting starts a new run, which waits for the training thread
        # to end, and that thread takes state_lock after each epoch.
        self._lock = threading.RLock()
        buttons = self._make_buttons(owner)
        settings = self._make_settings(owner)
        # browser moves apply under state_lock, never between training's steps
        self.slider = LockedIntSlider(
            state_lock,
            value=0,
            min=0,
            max=0,
            description="epoch",
            continuous_update=True,
            layout=widgets.Layout(width="540px"),
        )
        self._links.append(
            Link((owner, "index"), (self.slider, "value"), state_lock, transform=(self._reach, int))
        )
        columns = [settings[k : k + 5] for k in range(0, len(settings), 5)]
        # the second row: the input features, the run list, the presets
        self.row = RunRow(owner, self._lock, self.tell)
        self.features, self.runs, self.presets = self.row.features, self.row.runs, self.row.presets
        self.box = widgets.VBox(
            [
                widgets.HBox(
                    [buttons, *(widgets.VBox(column, layout=_COLUMN) for column in columns)],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                self.row.box,
            ]
        )
        self._widgets = [
            *(self.play_button, self.pause_button, self.step_button, self.reset_button),
            *(self.state_label, self.status, *settings, self.slider),
        ]

    def _make_buttons(self, owner: traitlets.HasTraits) -> widgets.VBox:
        """Play, Pause, Step and Reset, calling ``owner``'s methods, and the state line."""
        self.play_button = _button("Play", "play", "Train until paused", owner.play)
        self.pause_button = _button("Pause", "pause", "Pause at the next step", owner.pause)
        self.step_button = _button("Step", "step-forward", "Train one epoch", owner.step)
        self.reset_button = _button(
            "Reset",
            "undo",
            "Start a new run from epoch 0; this one stays in the run list",
            owner.reset,
        )
        self.state_label = widgets.Label("training: idle")
        self.status = widgets.HTML()
        return widgets.VBox(
            [
                widgets.HBox([self.play_button, self.pause_button]),
                widgets.HBox([self.step_button, self.reset_button]),
                self.state_label,
            ]
        )

    def _make_settings(self, owner: traitlets.HasTraits) -> list[widgets.Widget]:
        """One control per setting, linked to its trait; in the order shown, three a column."""
        self._make_own_controls(owner)
        table = self._table(owner)
        self._links = [
            # a value the trait refuses (typed per-layer activations) is said, and undone
            Link(
                (owner, trait),
                (control, "value"),
                self._lock,
                transform=transform,
                on_error=lambda error: self.tell(f"{error}"),
            )
            for trait, control, transform in table
        ]
        return [control for _, control, _ in table]

    def _show_classes_use(self, owner: traitlets.HasTraits) -> None:
        """Keep the classes control usable only where the data set takes a number of classes."""

        def follow(change: dict | None = None) -> None:
            takes = owner.dataset in MULTICLASS_DATASETS
            self.classes.disabled = not takes
            self.classes.tooltip = (
                "" if takes else f"{owner.dataset!r} has its own classes (or is a regression)"
            )

        follow()
        owner.observe(follow, names="dataset")
        self._unobserve = lambda: owner.unobserve(follow, names="dataset")

    def _make_own_controls(self, owner: traitlets.HasTraits) -> None:
        """The controls that are more than a dropdown: the shape boxes, the per-layer text, the
        check boxes and the classes."""
        self.layers = widgets.BoundedIntText(
            value=len(owner.hidden),
            min=0,
            max=MAX_LAYERS,
            description="hidden layers",
            layout=widgets.Layout(width="160px"),
            **_LABELLED,
        )
        self.neurons = widgets.BoundedIntText(
            value=max(owner.hidden, default=4),
            min=1,
            max=MAX_NEURONS,
            description="neurons each",
            layout=widgets.Layout(width="160px"),
            **_LABELLED,
        )
        self.show_test = widgets.Checkbox(
            value=owner.show_test, description="show test points", indent=False
        )
        self.per_layer = widgets.Text(
            value=", ".join(owner.activations),
            placeholder="e.g. relu, tanh",
            description="per layer",
            continuous_update=False,
            layout=widgets.Layout(width="205px"),
            **_LABELLED,
        )
        self.discretize = widgets.Checkbox(
            value=owner.discretize, description="discretize output", indent=False
        )
        self.classes = _dropdown(owner, "classes", "classes", CLASS_CHOICES)
        self._show_classes_use(owner)

    def _table(self, owner: traitlets.HasTraits) -> tuple:
        """``(trait, control, transform)`` for every setting, in the order shown."""

        def menu(trait: str, words: str, options: Sequence) -> tuple:
            return (trait, _dropdown(owner, words, trait, options), None)

        def numbers(trait: str, words: str, offered: Sequence[float]) -> tuple:
            return menu(trait, words, _numbers(offered, getattr(owner, trait)))

        # Each setting's control and its trait, kept equal both ways. The shape boxes set every
        # layer alike; from the trait they show its depth and its widest layer, and the link
        # keeps them from writing that back as a uniform shape.
        return (
            menu("dataset", "data", DATASETS if owner.own_data is None else (*DATASETS, OWN)),
            menu("activation", "activation", ACTIVATIONS),
            ("activations", self.per_layer, (", ".join, _names)),
            menu("optimizer", "optimizer", OPTIMIZERS),
            numbers("learning_rate", "learning rate", LEARNING_RATES),
            menu("regularizer", "regularization", REGULARIZERS),
            numbers("regularization", "rate", REGULARIZATIONS),
            menu("batch_size", "batch size", sorted({*BATCH_SIZES, owner.batch_size})),
            ("hidden", self.layers, (len, self._shape_of_depth)),
            ("hidden", self.neurons, (self._widest, self._shape_of_width)),
            numbers("noise", "noise", NOISES),
            numbers("test_fraction", "test share", TEST_FRACTIONS),
            numbers("dropout", "dropout", DROPOUTS),
            ("classes", self.classes, None),
            ("show_test", self.show_test, None),
            ("discretize", self.discretize, None),
        )

    def show_runs(self, options: list[tuple[str, int]], current: int) -> None:
        """Show the kept runs (``(label, number)``, newest first) with run ``current`` picked."""
        self.row.show_runs(options, current)

    def show_state(self, state: str) -> None:
        """Enable the buttons that make sense when training is in ``state``, and say it."""
        running = state == "running"
        usable = state in ("idle", "paused", "running")
        self.play_button.disabled = running or not usable
        self.pause_button.disabled = not running
        self.step_button.disabled = running or not usable
        self.state_label.value = f"training: {state}"

    def tell(self, message: str) -> None:
        """Show ``message`` in the status line (empty: clear it)."""
        self.status.value = f"<i>{html.escape(message, quote=False)}</i>" if message else ""

    def close(self) -> None:
        """Unbind every control from its trait and close them; calling it again does nothing."""
        links, self._links = self._links, []
        for link in links:
            link.unlink()
        self._unobserve()
        self._unobserve = lambda: None
        self.row.close()
        for widget in self._widgets:
            widget.close()

    def _reach(self, index: int) -> int:
        # The range reaches the epoch shown: training records an epoch before it widens the
        # range (under the same lock), and index may move to that epoch in between.
        if index > self.slider.max:
            self.slider.max = index
        return index

    def _shape_of_depth(self, layers: int) -> list[int]:
        return [self.neurons.value] * layers

    def _shape_of_width(self, neurons: int) -> list[int]:
        return [neurons] * self.layers.value

    def _widest(self, hidden: Sequence[int]) -> int:
        # a linear model has no width: the box keeps its number for the next hidden layer
        return max(hidden, default=self.neurons.value)


def _button(
    description: str, icon: str, tooltip: str, action: Callable[[], None]
) -> widgets.Button:
    button = widgets.Button(
        description=description, icon=icon, tooltip=tooltip, layout=widgets.Layout(width="90px")
    )
    button.on_click(lambda _: action())
    return button


def _dropdown(
    owner: traitlets.HasTraits, description: str, trait: str, options: Sequence
) -> widgets.Dropdown:
    return widgets.Dropdown(
        options=list(options),
        value=getattr(owner, trait),
        description=description,
        layout=widgets.Layout(width="205px"),
        **_LABELLED,
    )


def _names(text: str) -> list[str]:
    """The names in a comma-separated text, e.g. "relu, tanh" -> ["relu", "tanh"]."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _numbers(values: Sequence[float], current: float) -> list[tuple[str, float]]:
    return [(f"{v:g}", v) for v in sorted({*values, current})]
