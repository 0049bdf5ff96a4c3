"""summarize(): firing rates, eval mode, classwise components, state_dict round trip, sizes."""
from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from laftr_cl.fsd import TaskSummary, fsd, summarize


def hand_net() -> nn.Sequential:
    """Linear(2, 3) → ReLU → Linear(3, 2) with pre-activations s = (x0, x1 − 1, x0 + x1)."""
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, -1.0, 0.0]))
    return net


HAND_X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
HAND_Y = torch.tensor([0, 0, 1, 1])


def test_firing_rates_equal_a_hand_count_with_strict_inequality():
    # s per input: (1,-1,1), (0,1,2), (-1,0,0), (0,-1,0): s = 0 does not fire.
    summary = summarize(hand_net(), (HAND_X, HAND_Y), inputs="diag")
    assert len(summary.firing_rates) == 1
    torch.testing.assert_close(summary.firing_rates[0], torch.tensor([[0.25, 0.25, 0.5]], dtype=torch.float64))
    assert summary.num_examples.tolist() == [4]
    assert summary.classes is None
    thirds = summarize(hand_net(), (HAND_X[:3], HAND_Y[:3]), inputs="diag").firing_rates[0]
    assert torch.equal(thirds, torch.tensor([[1 / 3, 1 / 3, 2 / 3]], dtype=torch.float64))  # no float32 detour


def test_classwise_rates_are_per_class_hand_counts():
    summary = summarize(hand_net(), (HAND_X, HAND_Y), inputs="diag", classwise=True)
    torch.testing.assert_close(
        summary.firing_rates[0], torch.tensor([[0.5, 0.5, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    )
    assert summary.classes.tolist() == [0, 1]
    assert summary.num_examples.tolist() == [2, 2]
    torch.testing.assert_close(summary.inputs.loc, torch.tensor([[0.5, 1.0], [-0.5, 0.5]], dtype=torch.float64))


def test_batches_iterable_equals_tensor_tuple(lib):
    net = lib.make_mlp()
    x, y = lib.task_data()
    whole = summarize(net, (x, y), inputs="full", batch_size=7)
    loader = [(x[i : i + 50], y[i : i + 50], torch.zeros(50)) for i in range(0, 120, 50)]
    batched = summarize(net, loader, inputs="full")
    for a, b in zip(whole.firing_rates, batched.firing_rates):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(whole.inputs.scale_tril, batched.inputs.scale_tril)


def test_rates_measured_in_eval_mode_and_modes_restored(lib):
    net = lib.make_mlp(dropout=0.5)
    x, y = lib.task_data()
    net.train()
    summary = summarize(net, (x, y), inputs="diag")
    assert net.training and all(m.training for m in net.modules())
    with torch.no_grad():
        pre = net[1](x)  # first Linear, no dropout before it
        second = net[4](torch.relu(pre))  # eval mode: dropout is the identity
    torch.testing.assert_close(summary.firing_rates[0][0], (pre > 0).double().mean(0))
    torch.testing.assert_close(summary.firing_rates[1][0], (second > 0).double().mean(0))


def test_conv_rates_have_one_gate_per_channel_row_col(lib):
    net = lib.make_cnn()
    x, y = lib.task_data(shape=(1, 8, 8))
    recorded = []
    hooks = [m.register_forward_hook(lambda m, i, o: recorded.append(i[0])) for m in net if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    summary = summarize(net, (x, y), inputs="diag")
    assert [tuple(r.shape) for r in summary.firing_rates] == [(1, 2, 8, 8), (1, 3, 2, 2), (1, 5)]
    for rates, pre in zip(summary.firing_rates, recorded):
        torch.testing.assert_close(rates[0], (pre > 0).double().mean(0))


def test_snapshot_is_a_detached_copy(lib):
    net = lib.make_mlp()
    summary = summarize(net, lib.task_data(), inputs="diag")
    before = {k: v.clone() for k, v in summary.snapshot.items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert set(summary.snapshot) == {name for name, _ in net.named_parameters()}
    for name, value in summary.snapshot.items():
        assert not value.requires_grad
        torch.testing.assert_close(value, before[name])


def test_wrapper_modules_and_nested_sequentials_are_traced(lib):
    flat = lib.make_mlp()
    nested = nn.Sequential(nn.Sequential(flat[0], flat[1], flat[2]), nn.Sequential(flat[3], flat[4]), flat[5])

    class Wrapper(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)

    data = lib.task_data()
    a = summarize(flat, data, inputs="diag")
    b = summarize(Wrapper(nested), data, inputs="diag")
    for r, s in zip(a.firing_rates, b.firing_rates):
        torch.testing.assert_close(r, s)
    assert "net.0.1.weight" in b.snapshot
    moved = lib.perturb(nested)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    flat_moved = nn.Sequential(*[m for block in moved for m in (block if isinstance(block, nn.Sequential) else [block])])
    torch.testing.assert_close(fsd(Wrapper(moved), [b], generator=g1), fsd(flat_moved, [a], generator=g2))


@pytest.mark.parametrize("inputs", ["full", "diag", "lowrank", "coreset"])
@pytest.mark.parametrize("classwise", [False, True])
def test_state_dict_round_trip_is_exact(lib, inputs, classwise):
    net = lib.make_mlp()
    summary = summarize(
        net, lib.task_data(), inputs=inputs, rank=2, coreset_size=10, classwise=classwise, output_units=[0, 2],
        generator=torch.Generator().manual_seed(0),
    )
    buffer = io.BytesIO()
    torch.save(summary.state_dict(), buffer)
    buffer.seek(0)
    restored = TaskSummary.from_state_dict(torch.load(buffer))
    assert type(restored.inputs) is type(summary.inputs)
    for key, value in summary.inputs.state_dict().items():
        assert torch.equal(getattr(restored.inputs, key), value)
    for a, b in zip(summary.firing_rates, restored.firing_rates):
        assert torch.equal(a, b)
    assert restored.input_shape == summary.input_shape
    assert torch.equal(restored.output_units, summary.output_units)
    assert (restored.classes is None) == (not classwise)
    moved = lib.perturb(net)
    results = [
        fsd(moved, [s], generator=torch.Generator().manual_seed(5), estimator="bernoulli") for s in (summary, restored)
    ]
    assert torch.equal(results[0], results[1])


def test_state_dict_rejects_unknown_format(lib):
    state = summarize(lib.make_mlp(), lib.task_data(), inputs="diag").state_dict()
    state["format_version"] = 99
    with pytest.raises(ValueError, match="format_version"):
        TaskSummary.from_state_dict(state)


@pytest.mark.parametrize(
    "inputs, input_numbers",
    [("diag", 4 + 4), ("full", 4 + 16), ("lowrank", 4 + 4 * 2 + 4), ("coreset", 5 * 4)],
)
def test_nbytes_parts(lib, inputs, input_numbers):
    net = lib.make_mlp(sizes=(4, 3, 2))
    summary = summarize(
        net, lib.task_data(shape=(4,)), inputs=inputs, rank=2, coreset_size=5, output_units=[1]
    )
    parts = summary.nbytes()
    count_bytes = 8 if inputs == "coreset" else 0  # the coreset's int64 count
    assert parts == {
        "rates": 3 * 8,
        "inputs": input_numbers * 8 + count_bytes,
        "snapshot": (4 * 3 + 3 + 3 * 2 + 2) * 8,
        "output_units": 8,
        "total": 3 * 8 + input_numbers * 8 + count_bytes + 23 * 8 + 8,
    }
    dropped = summary.without_snapshot().nbytes()
    assert dropped["snapshot"] == 0 and dropped["total"] == parts["total"] - 23 * 8


def test_classwise_coreset_keeps_all_examples_of_a_small_class(lib):
    x, y = lib.task_data(n=12, classes=3)
    summary = summarize(lib.make_mlp(), (x, y), inputs="coreset", coreset_size=100, classwise=True)
    assert summary.inputs.count.tolist() == [4, 4, 4]
    for c in range(3):
        stored = summary.inputs.points[c][:4]
        assert sorted(stored[:, 0].tolist()) == sorted(x[y == c][:, 0].tolist())
