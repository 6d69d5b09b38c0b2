"""The real-size benchmarks (benchmarks/bench_scale.py, benchmarks/device_scale.py) import and
run end to end on tiny models; their figures are not checked (they are benchmarks, not tests)."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnviz_widgets as nv
from benchmarks import bench_scale, device_scale, scale


@pytest.fixture
def one_thread():
    # the machine's other work makes two torch threads spin against each other on tiny models
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny_lm():
    model = nv.models.TransformerLM(50, width=16, layers=1, heads=2, context=8)
    return scale.transformer_lm(model, batch=(2, 8), probe=2)


def _tiny_mlp():
    torch.manual_seed(0)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    return scale.Workload("MLP", nv.models.MLP((4, 8, 3)), (x, y), (x[:2], y[:2]), F.cross_entropy)


def test_the_workloads_are_the_sizes_the_issue_names():
    resnet, lm = scale.resnet18(), scale.transformer_lm()
    assert resnet.batch[0].shape == (64, 3, 32, 32) and resnet.probe[0].shape[0] == 16
    assert lm.batch[0].shape == (16, 128) and lm.probe[0].shape == (4, 128)
    assert 13e6 < sum(p.numel() for p in lm.model.parameters()) < 15e6
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[0, 1, 2], [3, 4, 0]])
    assert torch.isclose(
        scale.summed_token_loss(logits, targets), 6 * scale.token_loss(logits, targets)
    )


def test_bench_scale_runs_on_tiny_models(one_thread):
    section = bench_scale.run(
        (_tiny_lm, _tiny_mlp),
        steps=2,
        snapshot_steps=2,
        disk_snapshots=1,
        scrub_shapes=((24, 16),),
        scrub_snapshots=3,
        lenet=False,
    )
    assert section.startswith("## Real-size networks on the CPU")
    assert "| | transformer LM | MLP |" in section
    scrub_rows = [
        line for line in section.splitlines() if line.startswith("| Linear(16, 24) | 24x16 |")
    ]
    assert len(scrub_rows) == 2
    assert "| Recorder's |" in scrub_rows[0] and "| opened |" in scrub_rows[1]
    goals = section.split("### Goals")[1]
    assert goals.count("\n- ") == 7  # per-step, snapshot, memory for each model; the scrub
    assert "parameters bit-identical to bare after training | True | True |" in section


def test_device_scale_dry_run(one_thread, capsys):
    report = device_scale.main(["--dry-run"])
    assert report in capsys.readouterr().out
    assert "| | ResNet-50 | GPT-2 small |" in report
    assert "| host sync in the step hooks | not checked on a CPU | not checked on a CPU |" in report


def test_resnet50_has_resnet50s_parameters():
    count = sum(p.numel() for p in device_scale.ResNet50().parameters())
    assert count == 25_557_032  # torchvision's resnet50()


def test_held_tensors_finds_the_recorders_buffers_and_not_the_models():
    model = nn.Linear(30, 20)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 30)).sum().backward()
    optimizer.step()  # the optimizer's state exists: it must not be counted
    with nv.Recorder(model, optimizer=optimizer) as rec:
        held = scale.held_tensors(rec)
        parameter_bytes = scale.recorded_parameter_bytes(rec)
        assert parameter_bytes == (20 * 30 + 20) * 4
        # a parameter this small is sampled whole, before and after the step: two copies
        assert sum(held.values()) >= parameter_bytes
        assert all("." in where for where in held)  # Class.attribute


def test_recorder_memory_is_the_recorders_device_bytes_less_the_probe():
    model = nn.Linear(300, 200)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = (torch.randn(4, 300), torch.randint(0, 200, (4,)))
    with nv.Recorder(model, probe=probe, optimizer=optimizer) as rec:
        reported = rec.memory()
        nbytes, how = scale.recorder_memory(rec, exclude=probe)
    assert reported["device"]["probe"] == probe[0].nbytes + probe[1].nbytes
    assert nbytes == reported["device_bytes"] - reported["device"]["probe"] > 0
    assert "update sample" in how and "tensors reachable" in how


def test_a_trainee_steps_under_autocast():
    trainee = scale.Trainee(_tiny_mlp(), autocast=torch.bfloat16)
    before = trainee.model[0].weight.detach().clone()
    assert trainee.step() > 0
    assert not torch.equal(before, trainee.model[0].weight)
