"""Gated activations beyond ReLU: what a summary stores per unit, the law the sampled gates follow,
and the closed form equal to the mean of the samples on smooth-activation MLPs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from laftr_cl.fsd import SummaryBank, TaskSummary, fsd, summarize
from laftr_cl.fsd.activations import module_activation
from laftr_cl.fsd.gate_statistics import gate_law

ACTIVATIONS = {
    "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"), "silu": nn.SiLU, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "leaky_relu": lambda: nn.LeakyReLU(0.1), "elu": nn.ELU, "softplus": nn.Softplus,
    "relu": nn.ReLU,
}


def _mlp(name: str, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    act = ACTIVATIONS[name]
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 6), act(), nn.Linear(6, 5), act(), nn.Linear(5, 3)).double()


def _data(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64) + 0.3, torch.zeros(n, dtype=torch.long)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gated_form_is_the_activation(name):
    act = ACTIVATIONS[name]()
    pointwise = module_activation(act)
    s = torch.cat([torch.linspace(-30, 30, 601, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    torch.testing.assert_close(pointwise.offset + pointwise.gate(s) * s, act(s), rtol=1e-9, atol=1e-12)
    assert bool((pointwise.gate(s) >= 0).all())


@pytest.mark.parametrize("name", ["gelu", "silu", "tanh", "leaky_relu", "relu"])
def test_summary_stores_the_mean_gate_and_its_second_moment_per_unit(name):
    model = _mlp(name)
    x, y = _data()
    summary = summarize(model, (x, y), inputs="diag")
    pointwise = module_activation(model[2])
    s1 = model[1](x)
    s2 = model[3](model[2](s1))
    for j, s in enumerate((s1, s2)):
        if pointwise.binary:  # LeakyReLU and ReLU keep their firing rates only, as LAFTR always did
            torch.testing.assert_close(summary.firing_rates[j][0], (s > 0).double().mean(0))
            assert summary.gate_second_moments is None
        else:
            g = pointwise.gate(s)
            torch.testing.assert_close(summary.firing_rates[j][0], g.mean(0))
            torch.testing.assert_close(summary.gate_second_moments[j][0], (g * g).mean(0))
    restored = TaskSummary.from_state_dict(summary.state_dict())
    assert (restored.gate_second_moments is None) == (summary.gate_second_moments is None)
    assert summary.nbytes()["rates"] == 11 * 8 * (1 if pointwise.binary else 2)


@pytest.mark.parametrize("name", ["gelu", "sigmoid", "leaky_relu", "relu"])
def test_sampled_gates_have_the_stored_mean_and_second_moment(name):
    model = _mlp(name)
    summary = summarize(model, _data(), inputs="diag")
    bank = SummaryBank(model, [summary])
    law = bank.gate_laws[0]
    z = law.draw(torch.rand(1, 1, 200_000, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    mean, variance = law.moments()
    torch.testing.assert_close(z.mean(2), mean, atol=4e-3, rtol=0)
    torch.testing.assert_close(z.var(2), variance, atol=4e-3, rtol=0)
    if not module_activation(model[2]).binary:
        torch.testing.assert_close(mean, summary.firing_rates[0].unsqueeze(0))
        torch.testing.assert_close(variance + mean**2, summary.gate_second_moments[0].unsqueeze(0))


def test_relu_gate_law_is_lafters_bernoulli():
    rates = torch.tensor([[[0.0, 0.3, 1.0]]], dtype=torch.float64)  # [N, P, units]
    law = gate_law(module_activation(nn.ReLU()), rates, None)
    u = torch.rand(1, 1, 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(law.draw(u), (u < rates.unsqueeze(2)).double())


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus"])
def test_closed_form_equals_the_mean_of_the_sampled_gates(name):
    model = _mlp(name)
    summary = summarize(model, _data(), inputs="full")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1), dtype=p.dtype))
    bank = SummaryBank(model, [summary])
    exact = fsd(model, bank, estimator="exact", metric="l2_logit").item()
    draws = [fsd(model, bank, estimator="bernoulli", metric="l2_logit", num_samples=20_000,
                 generator=torch.Generator().manual_seed(seed)).item() for seed in range(4)]
    sampled = sum(draws) / len(draws)
    spread = torch.tensor(draws).std().item() / len(draws) ** 0.5
    assert abs(sampled - exact) < max(4 * spread, 1e-3 * exact), (exact, sampled, spread)


def test_summary_of_a_relu_network_does_not_fit_the_same_shapes_with_gelu():
    relu_summary = summarize(_mlp("relu"), _data(), inputs="diag")
    expected = r"second moments for gates \[False, False\] .* \[.GELU., .GELU.\] .* another architecture"
    with pytest.raises(ValueError, match=expected):
        SummaryBank(_mlp("gelu"), [relu_summary])


def test_float16_storage_halves_every_gate_statistic():
    from laftr_cl.fsd.methods import fsd_method

    method = fsd_method("laftr", inputs="diag", storage_dtype="float16")
    model = _mlp("gelu")
    summary = method.summarize(model, _data())
    assert all(t.dtype == torch.float16 for t in summary.firing_rates + summary.gate_second_moments)
    assert method.stored_numbers(summary) == 2 * 11 + 2 * 4


def test_version_2_summaries_of_relu_networks_still_load():
    summary = summarize(_mlp("relu"), _data(), inputs="diag")
    state = summary.state_dict()
    assert state["format_version"] == 3
    state["format_version"] = 2
    del state["gate_second_moments"]  # what a version-2 summary holds
    restored = TaskSummary.from_state_dict(state)
    assert restored.gate_second_moments is None
    assert all(torch.equal(a, b) for a, b in zip(restored.firing_rates, summary.firing_rates))
