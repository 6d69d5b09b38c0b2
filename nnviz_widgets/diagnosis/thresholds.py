"""Every threshold of the diagnosis, each with where it comes from.

"Measured here" means: on the trainings of ``tests/trainings.py`` (six broken on purpose, three
healthy) and on the longer healthy trainings listed in ``docs/diagnosis.md`` (section
"How the thresholds were chosen"), whose figures and margins are in that section. Change a
threshold here and there together.
"""

from __future__ import annotations

__all__ = [
    "DEAD_ERROR_FRACTION",
    "DEAD_FRACTION",
    "DEAD_UNIT_TYPES",
    "EXPLODING_GROWTH",
    "EXPLODING_LAYER_RATIO",
    "GRADIENT_BASELINE_STEPS",
    "GRADIENT_GROUP_SHARE",
    "GRADIENT_MIN_LAYERS",
    "GRADIENT_SKIPPED_TYPES",
    "LOSS_RISE_FACTOR",
    "PERSISTENCE",
    "SATURATED_UNIT_SHARE",
    "SATURATION_BOUNDS",
    "SATURATION_ERROR_FRACTION",
    "SATURATION_FRACTION",
    "SATURATION_MARGIN",
    "UPDATE_RATIO_HIGH",
    "UPDATE_RATIO_LOW",
    "UPDATE_WARMUP_STEPS",
    "VANISHING_ERROR_RATIO",
    "VANISHING_RATIO",
]

# ---------------------------------------------------------------------- persistence
#: A condition measured at snapshots (on the probe, or on the steps since the previous snapshot)
#: must hold at this many consecutive snapshots where it could be measured before it is a
#: finding: one snapshot is noise (a probe of a few samples, one unlucky batch). Two is the
#: least that is not one; the trainings broken on purpose show their fault at every snapshot
#: after the first step, so a longer wait would only delay a live finding.
PERSISTENCE = 2

# ---------------------------------------------------------------------- gradients
#: Layer types left out of the comparison of gradients across layers: a normalisation layer's
#: gain and shift, and an embedding's rows (only the rows of the batch's tokens get a gradient),
#: have gradients of another nature than a weight matrix's.
GRADIENT_SKIPPED_TYPES = ("Norm", "Embedding")
#: At least this many layers with a gradient, so that "first" and "last" are different layers
#: with one between them.
GRADIENT_MIN_LAYERS = 3
#: The first and the last quarter of those layers (at least one each) are compared, by the
#: geometric mean of their root-mean-square gradient per parameter (the norm over the square
#: root of the parameter count, so that a wide layer and a narrow one compare).
GRADIENT_GROUP_SHARE = 0.25
#: Vanishing: the first layers' RMS gradient below this fraction of the last layers'. Three
#: orders of magnitude. Measured here: healthy trainings 0.08 to 4 (the lowest, 0.08, an MLP
#: whose last layer starts at zero); the deep sigmoid MLP 2e-8; notebook 03's 8-layer ReLU MLP
#: without normalisation 2e-3 (not flagged: it learns, slowly).
VANISHING_RATIO = 1e-3
#: Below this (six orders of magnitude) the first layers learn nothing in float32 with SGD
#: (their updates round away): an error.
VANISHING_ERROR_RATIO = 1e-6
#: Exploding across layers: the first layers' RMS gradient above this multiple of the last
#: layers' (the mirror of VANISHING_RATIO). Measured here: healthy trainings at most 4.3.
EXPLODING_LAYER_RATIO = 1e3
#: Exploding over time: the median over layers of each layer's gradient norm over its own
#: early level grew past this factor. Measured here: healthy trainings grow up to 80x (gradients
#: are small at initialisation and rise as training leaves the first plateau: LeNet-5 with SGD
#: 50x, an MLP whose last layer starts at zero 70-80x); the learning rate that drives the
#: weights to NaN grows 3e10x within 60 steps.
EXPLODING_GROWTH = 1e4
#: A layer's early gradient level: the median of its first this many recorded per-step gradient
#: norms (per-snapshot ones when there are no per-step series).
GRADIENT_BASELINE_STEPS = 3

# ---------------------------------------------------------------------- units on the probe
#: Module types whose units can die: output exactly 0 for every input, so no gradient flows
#: through them (Lu et al., "Dying ReLU and Initialization", 2019). LeakyReLU, ELU, GELU and
#: SiLU keep a gradient for negative inputs and cannot die this way.
DEAD_UNIT_TYPES = ("ReLU", "ReLU6")
#: A layer with at least this share of dead units (the Recorder's ``dead_fraction``: units
#: <= 0 for every probe sample; channels for images). CS231n ("Neural Networks Part 1") warns
#: that "as much as 40% of your network can be dead" with too high a learning rate. Measured
#: here (with a probe of 20 images): healthy trainings up to 0.33 after the first step (LeNet-5's
#: relu4 is 0.51 at initialisation and in SGD's first plateau, then 0.2-0.3); ReLUs behind a
#: bias of -10, and notebook 04's learning rate of 3.0, 1.0.
DEAD_FRACTION = 0.5
#: Every unit dead: nothing passes the layer, an error.
DEAD_ERROR_FRACTION = 1.0
#: Module types that saturate, and their output bounds (PyTorch's defaults; a Hardtanh with
#: other bounds is recognised by its recorded extremes lying outside these and left out).
SATURATION_BOUNDS = {
    "Sigmoid": (0.0, 1.0),
    "Tanh": (-1.0, 1.0),
    "Hardtanh": (-1.0, 1.0),
    "Hardsigmoid": (0.0, 1.0),
}
#: An output is saturated within this share of the output range from either bound: sigmoid
#: below 0.01 or above 0.99, tanh beyond +-0.98. There the slope is under 4% of its largest
#: (sigmoid's y(1 - y) and tanh's 1 - y^2 alike), the saturation Glorot & Bengio (2010) show
#: stalling deep sigmoid networks.
SATURATION_MARGIN = 0.01
#: A unit is saturated when this share of its probe outputs (samples, and positions for images)
#: are saturated.
SATURATED_UNIT_SHARE = 0.9
#: A layer with at least this share of saturated units. Measured here: healthy tanh and sigmoid
#: MLPs 0; tanh after a Linear initialised a hundred times too large 0.77.
SATURATION_FRACTION = 0.5
#: Every unit saturated: an error.
SATURATION_ERROR_FRACTION = 1.0

# ---------------------------------------------------------------------- updates
#: The rule of thumb: a step should change a layer's weights by about 1e-3 of their norm
#: (Karpathy, CS231n "Neural Networks Part 3", "Ratio of weights:updates"; "A Recipe for
#: Training Neural Networks", 2019), judged on the median of the per-step ratios since the
#: previous snapshot. Too low: three orders of magnitude below it. Measured here: healthy
#: trainings down to 1e-4 (a transformer's LayerNorm gains with AdamW), notebook 03's deep ReLU
#: MLP's first layers 1e-5; Adam at a learning rate a million times too small 4e-9.
UPDATE_RATIO_LOW = 1e-6
#: Too high: a step that changes a layer by 30% of its size. Measured here: healthy trainings up
#: to 0.16 (a sigmoid MLP's last layer under SGD at lr 0.5, early on); the learning rate that
#: drives weights to NaN 0.75 to 0.99.
UPDATE_RATIO_HIGH = 0.3
#: Steps left out before judging update ratios too high: Adam's first steps move every weight
#: by about the learning rate whatever its gradient, and a layer initialised at zero changes by
#: all of its size at its first step, half at its second, ... (the ratio of step t is about
#: 1/t). Not left out for "too low": no start-up makes steps too small for long (SGD's momentum
#: makes the first step ten times smaller than later ones, and the next snapshot shows that).
UPDATE_WARMUP_STEPS = 10

# ---------------------------------------------------------------------- loss
#: A loss metric diverges when it rises above this multiple of its lowest value so far and
#: above its first value, at PERSISTENCE consecutive snapshots: an order of magnitude, far
#: beyond a noisy batch's loss and beyond a validation loss that overfits (which stays below
#: where it started). Measured here: healthy at most 1.4 (the Playground's last-batch loss);
#: the NaN learning rate 2e14.
LOSS_RISE_FACTOR = 10.0
