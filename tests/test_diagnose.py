"""nv.diagnose: trainings broken on purpose are found (right kind, layer and time), healthy ones
give no warning and no error, and whatever a recording lacks never makes it raise.

The trainings are in ``tests/trainings.py``; each is recorded once per module. Synthetic
recordings, built through the Recording's public append methods, pin the rules one at a time.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
from torch import nn

import nnviz_widgets as nv
from nnviz_widgets.diagnosis import KINDS, SEVERITIES, Finding
from nnviz_widgets.diagnosis.units import saturated_fraction
from nnviz_widgets.recording import SnapshotData
from tests import trainings


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # tiny models: a second torch thread only spins against the machine's other work
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def recorded():
    """Each training of tests/trainings.py, recorded on first use and kept for the module."""
    cache: dict[str, nv.Recording] = {}

    def get(name: str) -> nv.Recording:
        if name not in cache:
            make = {**trainings.BROKEN, **trainings.HEALTHY}[name]
            cache[name] = make()
        return cache[name]

    return get


def _serious(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity != "info"]


def _only(findings: list[Finding], kind: str) -> Finding:
    found = [f for f in findings if f.kind == kind]
    assert len(found) == 1, f"expected one {kind} finding, got {findings}"
    return found[0]


# ---------------------------------------------------------------------- broken on purpose
def test_deep_sigmoid_gradients_vanish_in_the_first_layers(recorded):
    recording = recorded("deep_sigmoid")
    finding = _only(nv.diagnose(recording), "vanishing_gradients")
    assert finding.severity == "error"
    assert finding.layer == "0"  # the first Linear
    assert {"0", "2", "4"} <= set(finding.layers)
    assert "20" not in finding.layers  # the last layer is the reference
    assert finding.snapshot == 1  # the first snapshot with gradients
    assert finding.snapshots == (1, 2, 3, 4)
    assert finding.steps == tuple(recording.snapshot_steps[1:])
    assert finding.quantity == "weight_grad"
    assert finding.numbers["first_to_last_ratio"] < 1e-6


def test_a_learning_rate_that_overflows_gives_nonfinite_and_a_diverging_loss(recorded):
    findings = nv.diagnose(recorded("nan_learning_rate"))
    nonfinite = _only(findings, "nonfinite")
    assert nonfinite.severity == "error"
    assert nonfinite.layer == "0"  # both layers at once: the first in forward order
    # the first snapshot that shows it; its step, or an earlier one with statistics (which
    # steps have them depends on their measured cost: "auto")
    assert nonfinite.snapshot == 4 and 64 < nonfinite.step <= 84
    loss = _only(findings, "loss_diverging")
    assert loss.severity == "error"
    assert loss.snapshots == (2, 3, 4)  # rose at 2 and 3, NaN at 4
    assert loss.numbers["metric"] == "loss"
    assert findings[0].severity == "error"


def test_nonfinite_names_the_exact_first_step_and_layer():
    """With statistics at every step, the step is the one after which a weight first held NaN
    or Inf, and the layer the first such in the model's order, as a hook on the model sees."""
    first: dict[str, int] = {}

    def watch(step: int, model: nn.Module) -> None:
        for name, module in model.named_children():
            weights = list(module.parameters())
            if weights and not all(torch.isfinite(p).all() for p in weights):
                first.setdefault(name, step)

    recording = trainings.nan_learning_rate(after_step=watch, stats_every=1)
    finding = _only(nv.diagnose(recording), "nonfinite")
    step = min(first.values())
    origin = next(name for name in recording.layers if first.get(name) == step)
    assert finding.step == step
    assert finding.layer == origin
    assert finding.quantity == "weight"
    assert finding.snapshot == int(np.searchsorted(recording.snapshot_steps, step))


def test_relus_with_a_large_negative_bias_are_dead(recorded):
    findings = nv.diagnose(recorded("dead_relu"))
    dead = _only(findings, "dead_units")
    assert dead.layers == ("1",)
    assert dead.severity == "error"  # every unit
    assert dead.snapshot == 1  # the first snapshot after a training step
    assert dead.quantity == "activation"
    assert dead.numbers["dead_fraction"] == 1.0
    # the Linear before it gets no gradient through the dead units: true, and said
    starved = _only(findings, "not_learning")
    assert starved.layers == ("0",) and starved.numbers["reason"] == "zero_gradient"


def test_tanh_with_a_huge_initialisation_saturates(recorded):
    finding = _only(nv.diagnose(recorded("huge_tanh")), "saturation")
    assert finding.layers == ("1",)
    assert finding.severity in ("warning", "error")
    assert finding.snapshot == 1
    assert finding.quantity == "activation"
    assert finding.numbers["saturated_fraction"] >= 0.5


def test_a_branch_detached_from_the_loss_does_not_learn(recorded):
    findings = nv.diagnose(recorded("detached_branch"))
    finding = _only(findings, "not_learning")
    assert finding.layers == ("head_b",)
    assert finding.severity == "warning"
    assert finding.numbers["reason"] == "no_gradient"
    assert finding.quantity == "weight_grad"
    assert finding.snapshot == 1
    assert not _serious([f for f in findings if f is not finding])


def test_a_learning_rate_a_million_times_too_small(recorded):
    finding = _only(nv.diagnose(recorded("tiny_learning_rate")), "update_ratio_low")
    assert finding.severity == "warning"
    assert finding.layers == ("0", "2", "4")  # every layer with parameters
    assert finding.snapshot == 1
    assert finding.quantity == "update"
    assert finding.numbers["update_ratio"] < 1e-7
    assert finding.numbers["after_normal_start"] is False


def test_a_layer_whose_optimizer_group_has_learning_rate_zero_does_not_learn():
    torch.manual_seed(0)
    model = nv.models.MLP((64, 32, 32, 10))
    optimizer = torch.optim.Adam(
        [
            {"params": [*model[0].parameters(), *model[4].parameters()]},
            {"params": model[2].parameters(), "lr": 0.0},  # forgotten in a schedule, say
        ],
        lr=1e-3,
    )
    x, y, probe = trainings._flat()
    recording = trainings.train(model, optimizer, x, y, probe, epochs=3)
    finding = _only(nv.diagnose(recording), "not_learning")
    assert finding.layers == ("2",) and finding.numbers["reason"] == "no_change"
    assert finding.quantity == "update" and finding.severity == "warning"


@pytest.mark.parametrize("name", sorted(trainings.BROKEN))
def test_every_finding_selects_a_layer_quantity_and_snapshot_a_view_can_show(recorded, name):
    recording = recorded(name)
    findings = nv.diagnose(recording)
    assert findings
    for finding in findings:
        if finding.kind == "loss_diverging":
            assert finding.layer is None and finding.quantity is None
            assert finding.numbers["metric"] in recording.metric_names
            continue
        assert finding.layer in recording.layers
        assert finding.quantity in recording.quantities(finding.layer)
        assert 0 <= finding.snapshot < len(recording)
        # the frame is there, or its missing reason is the evidence (no gradient reached it)
        reason = recording.missing_reason(finding.layer, finding.quantity, finding.snapshot)
        if reason is None:
            recording.preview(finding.layer, finding.quantity, finding.snapshot)
        else:
            assert finding.kind == "not_learning" and "no gradient" in reason


# ---------------------------------------------------------------------- healthy
@pytest.mark.parametrize("name", sorted(trainings.HEALTHY))
def test_healthy_trainings_give_no_warning_and_no_error(recorded, name):
    findings = nv.diagnose(recorded(name))
    assert not _serious(findings), findings


# ---------------------------------------------------------------------- where it runs
@pytest.mark.parametrize("name", ["huge_tanh", "nan_learning_rate", "detached_branch"])
def test_a_recording_saved_and_reopened_gives_the_same_findings(recorded, tmp_path, name):
    recording = recorded(name)
    recording.save(tmp_path / name)
    reopened = nv.Recording.open(tmp_path / name)
    assert nv.diagnose(reopened) == nv.diagnose(recording)


def test_recording_diagnose_is_nv_diagnose(recorded):
    recording = recorded("detached_branch")
    assert recording.diagnose() == nv.diagnose(recording)


def test_findings_appear_while_recording():
    seen: list[list[str]] = []
    trainings.dead_relu(after_snapshot=lambda r: seen.append([f.kind for f in r.diagnose()]))
    # before training and after one snapshot with steps: not yet persistent
    assert "dead_units" not in seen[0] and "dead_units" not in seen[1]
    assert all("dead_units" in kinds for kinds in seen[2:])


def test_diagnose_while_another_thread_appends():
    errors: list[BaseException] = []
    done = threading.Event()
    recording_box: list[nv.Recording] = []

    def keep_diagnosing() -> None:
        while not done.is_set():
            if recording_box:
                try:
                    recording_box[0].diagnose()
                except BaseException as error:  # any failure is the test's
                    errors.append(error)
                    return

    reader = threading.Thread(target=keep_diagnosing, daemon=True)
    reader.start()
    try:
        trainings.dead_relu(after_snapshot=lambda r: recording_box[:1] or recording_box.append(r))
    finally:
        done.set()
        reader.join(10)
    assert not errors, errors


def test_without_probe_or_optimizer_nothing_raises():
    torch.manual_seed(0)
    model = nv.models.MLP((64, 16, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y, _ = trainings._flat()
    with nv.Recorder(model) as rec:  # no probe, no optimizer, rec.step() never called
        rec.snapshot(epoch=0)
        for epoch in range(1, 4):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[:64]), y[:64]).backward()
            optimizer.step()
            rec.snapshot(epoch=epoch, loss=float("nan"))  # a NaN loss, and nothing else
    assert nv.diagnose(rec.recording) == []
    assert nv.diagnose(nv.Recording()) == []


def test_without_probe_the_step_statistics_still_speak():
    torch.manual_seed(0)
    model = trainings.TwoHeads()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y, _ = trainings._flat()
    with nv.Recorder(model, optimizer=optimizer) as rec:
        rec.snapshot(epoch=0)
        for epoch in range(1, 4):
            for start in range(0, 320, 64):
                optimizer.zero_grad()
                chosen = slice(start, start + 64)
                loss = nn.functional.cross_entropy(model(x[chosen]), y[chosen])
                loss.backward()
                optimizer.step()
            rec.snapshot(epoch=epoch, loss=loss)
    finding = _only(nv.diagnose(rec.recording), "not_learning")
    assert finding.layers == ("head_b",)


# ---------------------------------------------------------------------- the Finding type
def _finding(**changes) -> Finding:
    values = {
        "kind": "dead_units",
        "severity": "warning",
        "message": "In layer '1', 60% of the units output zero.",
        "suggestion": "Lower the learning rate.",
        "layers": ("1",),
        "snapshots": (3, 2),
        "steps": (30, 20),
        "quantity": "activation",
        "numbers": {"dead_fraction": np.float64(0.6), "by": [np.float32(0.5), np.nan]},
    }
    return Finding(**{**values, **changes})


def test_a_finding_is_an_immutable_comparable_value():
    finding = _finding()
    assert finding.snapshots == (2, 3) and finding.steps == (20, 30)  # sorted
    assert finding.layer == "1" and finding.snapshot == 2 and finding.step == 20
    dead = finding.numbers["dead_fraction"]
    assert dead == 0.6 and type(dead) is float  # numpy scalars become Python numbers
    assert finding.numbers["by"] == (0.5, None)  # NaN equals nothing: None
    assert finding == _finding() and hash(finding) == hash(_finding())
    assert len({finding, _finding()}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.severity = "error"
    with pytest.raises(TypeError):
        finding.numbers["dead_fraction"] = 1.0
    with pytest.raises(ValueError, match="unknown kind"):
        _finding(kind="sadness")
    with pytest.raises(ValueError, match="severity"):
        _finding(severity="fatal")


def test_findings_sort_by_severity_then_time():
    late_error = _finding(severity="error", steps=(50,))
    early_warning = _finding(steps=(10,))
    late_warning = _finding(steps=(40,))
    info = _finding(severity="info", steps=(0,))
    assert sorted([info, late_warning, early_warning, late_error]) == [
        late_error,
        early_warning,
        late_warning,
        info,
    ]
    assert SEVERITIES == ("info", "warning", "error")
    assert set(KINDS) >= {
        "vanishing_gradients",
        "exploding_gradients",
        "nonfinite",
        "dead_units",
        "saturation",
        "update_ratio_high",
        "update_ratio_low",
        "not_learning",
        "loss_diverging",
    }


def test_a_findings_repr_reads():
    text = repr(_finding(layers=("1", "3")))
    assert text.startswith("<Finding warning dead_units at layer '1' (+1 more), snapshot 2")
    assert "60% of the units" in text


# ---------------------------------------------------------------------- the rules, one by one
def _synthetic(
    types: dict[str, str],
    statistics: dict[tuple[str, str], list[float]],
    *,
    metrics: dict[str, list[float]] | None = None,
    frames: dict[tuple[str, str], list[np.ndarray]] | None = None,
    steps: list[int] | None = None,
    series: dict[tuple[str, str], list[float]] | None = None,
    frozen: tuple[str, ...] = (),
) -> nv.Recording:
    """A recording built by hand: snapshots at steps 0, 10, 20, ..."""
    count = len(next(iter({**statistics, **(metrics or {}), **(frames or {})}.values())))
    recording = nv.Recording()
    recording.set_layers(
        {
            layer: {
                "type": kind,
                "parameters": {"weight": [8, 8]} if kind == "Linear" else {},
                "frozen": ["weight"] if layer in frozen else [],
            }
            for layer, kind in types.items()
        }
    )
    if steps is not None:
        recording.append_steps(np.array(steps), {k: np.array(v) for k, v in series.items()})
    for i in range(count):
        recording.append_snapshot(
            SnapshotData(
                epoch=i,
                step=10 * i,
                statistics={k: v[i] for k, v in statistics.items()},
                metrics={k: v[i] for k, v in (metrics or {}).items()},
                frames={k: v[i] for k, v in (frames or {}).items()},
            )
        )
    return recording


def test_a_loss_not_given_is_not_a_nan_loss():
    nan = float("nan")
    recording = _synthetic({"a": "Linear"}, {}, metrics={"loss": [nan, 2.3, nan, 2.0, nan]})
    assert nv.diagnose(recording) == []


def test_a_loss_that_rises_far_above_where_it_started():
    recording = _synthetic({"a": "Linear"}, {}, metrics={"val_loss": [2.3, 1.0, 0.5, 30.0, 40.0]})
    finding = _only(nv.diagnose(recording), "loss_diverging")
    assert finding.severity == "warning" and finding.snapshots == (3, 4)
    # an overfitting validation loss rises from its lowest but stays below where it started
    overfit = _synthetic({"a": "Linear"}, {}, metrics={"val_loss": [2.3, 0.1, 1.5, 2.0, 2.2]})
    assert nv.diagnose(overfit) == []


def test_nan_origin_is_the_earliest_step_then_the_first_layer_in_order():
    types = {"a": "Linear", "b": "Linear", "c": "Linear"}
    counts = {
        ("a", "nonfinite_weight"): [0, 0, 5],
        ("b", "nonfinite_activation"): [0, 3, 3],
        ("c", "nonfinite_weight"): [0, 3, 9],
    }
    finding = _only(nv.diagnose(_synthetic(types, counts)), "nonfinite")
    assert finding.layers == ("b", "c", "a") and finding.step == 10
    assert finding.snapshots == (1, 2) and finding.quantity == "activation"
    # a weight norm that overflowed at step 7, before the snapshot at step 10, comes first
    inf = float("inf")
    earlier = _synthetic(types, counts, steps=[5, 7], series={("c", "weight_norm"): [1.0, inf]})
    finding = _only(nv.diagnose(earlier), "nonfinite")
    assert finding.layer == "c" and finding.step == 7 and finding.snapshot == 1


def test_a_state_that_went_away_is_no_longer_a_finding():
    recovered = _synthetic({"r": "ReLU"}, {("r", "dead_fraction"): [0.9, 0.9, 0.9, 0.1]})
    assert nv.diagnose(recovered) == []
    lasting = _synthetic({"r": "ReLU"}, {("r", "dead_fraction"): [0.9, 0.1, 0.8, 0.9]})
    assert _only(nv.diagnose(lasting), "dead_units").snapshots == (2, 3)
    # before the first step a unit cannot have died: snapshot 0 is not counted
    once = _synthetic({"r": "ReLU"}, {("r", "dead_fraction"): [1.0, 1.0]})
    assert nv.diagnose(once) == []
    # a leaky unit keeps a gradient: not judged
    leaky = _synthetic({"r": "LeakyReLU"}, {("r", "dead_fraction"): [1.0] * 4})
    assert nv.diagnose(leaky) == []


def test_saturated_fraction_counts_units():
    rng = np.random.default_rng(0)
    dense = rng.uniform(-0.5, 0.5, (20, 8)).astype(np.float32)
    dense[:, :4] = 0.999  # four units saturated on every sample
    dense[:5, 4] = -1.0  # one on a quarter of the samples only: not saturated
    assert saturated_fraction(dense, -1.0, 1.0) == 0.5
    images = rng.uniform(0.2, 0.8, (4, 6, 5, 5)).astype(np.float32)
    images[:, :3] = 0.001  # three of six channels at sigmoid's lower bound
    assert saturated_fraction(images, 0.0, 1.0) == 0.5
    tokens = rng.uniform(-0.5, 0.5, (4, 7, 10)).astype(np.float32)
    tokens[..., :1] = 1.0  # one feature of ten, (samples, tokens, features)
    assert saturated_fraction(tokens, -1.0, 1.0, channel_first=False) == 0.1


def test_saturation_judges_default_bounds_only():
    saturated = np.full((8, 4), 2.9, dtype=np.float32)
    stats = {("h", "min_activation"): [2.9] * 4, ("h", "max_activation"): [2.9] * 4}
    frames = {("h", "activation"): [saturated] * 4}
    # a Hardtanh(-3, 3): its outputs lie beyond the default bounds, so it is left alone
    assert nv.diagnose(_synthetic({"h": "Hardtanh"}, stats, frames=frames)) == []
    inside = np.full((8, 4), 0.995, dtype=np.float32)
    stats = {("h", "min_activation"): [0.995] * 4, ("h", "max_activation"): [0.995] * 4}
    recording = _synthetic({"h": "Tanh"}, stats, frames={("h", "activation"): [inside] * 4})
    finding = _only(nv.diagnose(recording), "saturation")
    assert finding.severity == "error" and finding.snapshots == (1, 2, 3)


def test_a_frozen_layer_is_info_and_a_layer_without_gradient_a_warning():
    nan = float("nan")
    types = {"a": "Linear", "b": "Linear", "c": "Linear"}
    series = {
        ("a", "grad_norm"): [0.1] * 6,
        ("a", "update_ratio"): [1e-3] * 6,
        ("b", "grad_norm"): [nan] * 6,
        ("b", "update_ratio"): [0.0] * 6,
        ("c", "grad_norm"): [nan] * 6,
        ("c", "update_ratio"): [0.0] * 6,
    }
    recording = _synthetic(
        types,
        {("a", "weight_norm"): [1.0] * 4},
        steps=[5, 10, 15, 20, 25, 30],
        series=series,
        frozen=("b",),
    )
    findings = nv.diagnose(recording)
    assert [(f.kind, f.severity, f.layers) for f in findings] == [
        ("not_learning", "warning", ("c",)),
        ("not_learning", "info", ("b",)),
    ]
    assert "frozen" in findings[1].message


def test_updates_that_shrink_after_a_normal_start_are_info():
    steps = list(range(11, 41))
    ratios = [1e-3] * 10 + [1e-8] * 20  # normal from step 11 to 20, then tiny
    recording = _synthetic(
        {"a": "Linear"},
        {("a", "weight_norm"): [1.0] * 5},
        steps=steps,
        series={("a", "update_ratio"): ratios, ("a", "grad_norm"): [0.1] * 30},
    )
    finding = _only(nv.diagnose(recording), "update_ratio_low")
    assert finding.severity == "info" and finding.snapshots == (3, 4)
    assert finding.numbers["after_normal_start"] is True


def test_a_recording_with_odd_gaps_never_makes_it_raise(rng):
    nan = float("nan")
    types = {"a": "Linear", "r": "ReLU", "t": "Tanh", "s": "Sigmoid", "n": "BatchNorm1d"}
    statistics = {
        ("a", "grad_norm"): [nan, 0.0, nan, 1e-30],
        ("a", "update_ratio"): [nan, nan, 0.0, 1.0],
        ("r", "dead_fraction"): [nan, 1.0, nan, 1.0],
        ("t", "min_activation"): [nan, -1.0, nan, -1.0],
        ("n", "grad_norm"): [1.0, 1.0, 1.0, 1.0],
        ("s", "nonfinite_activation"): [0, nan, 0, nan],
    }
    frames = {("t", "activation"): [rng.standard_normal((3, 2)).astype(np.float32)] * 4}
    recording = _synthetic(types, statistics, frames=frames, metrics={"loss": [nan] * 4})
    findings = nv.diagnose(recording)
    assert all(isinstance(f, Finding) for f in findings)
    # layers declared with nothing else
    bare = nv.Recording()
    bare.set_layers({"x": {}, "y": {"type": "ReLU"}})
    bare.append_snapshot(SnapshotData(epoch=0, step=0))
    assert nv.diagnose(bare) == []


def test_per_interval_reductions_match_a_loop(rng):
    from nnviz_widgets.diagnosis.reading import Evidence

    steps = np.sort(rng.choice(np.arange(1, 200), 90, replace=False))
    values = rng.standard_normal(steps.size)
    values[rng.random(steps.size) < 0.2] = np.nan
    recording = _synthetic(
        {"a": "Linear"},
        {("a", "weight_norm"): [1.0] * 15},  # snapshots at steps 0, 10, ..., 140
        steps=steps.tolist(),
        series={("a", "update_ratio"): values.tolist()},
    )
    evidence = Evidence(recording)
    for after in (0, 25):
        for how, reduce in (("median", np.median), ("max", np.max), ("count", len)):
            expected = np.full(15, 0.0 if how == "count" else np.nan)
            for i in range(1, 15):
                inside = (steps > 10 * (i - 1)) & (steps <= 10 * i) & (steps > after)
                kept = values[inside & ~np.isnan(values)]
                if kept.size:
                    expected[i] = reduce(kept)
            got = evidence.per_interval(values, how, after=after)
            np.testing.assert_array_equal(got, expected, err_msg=f"{how}, after {after}")


@pytest.mark.parametrize("onset", [1, 37, 150, 190])
def test_a_long_saturation_is_found_from_its_start_reading_few_frames(onset):
    count = 200
    calm = np.full((8, 4), 0.2, dtype=np.float32)
    stuck = np.full((8, 4), 0.999, dtype=np.float32)
    frames = [stuck if i >= onset else calm for i in range(count)]
    recording = _synthetic(
        {"t": "Tanh"},
        {("t", "min_activation"): [-1.0] * count, ("t", "max_activation"): [1.0] * count},
        frames={("t", "activation"): frames},
    )
    finding = _only(nv.diagnose(recording), "saturation")
    assert finding.snapshot == onset
    assert finding.snapshots[-1] == count - 1
    assert len(finding.snapshots) <= 64  # the newest 32, then a few to find the start
    assert nv.diagnose(recording) == [finding]  # again, from what it remembered


def test_the_benchmark_runs_on_a_short_recording():
    from benchmarks import bench_diagnose

    section = bench_diagnose.run(snapshots=40, repeats=1)
    assert section.startswith("## Diagnosis of a long recording")
    assert "| in memory, first diagnosis |" in section
    assert "saturation (block1.tanh)" in section and "dead_units (block3.relu)" in section
