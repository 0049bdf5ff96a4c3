"""LIFTR's maths: zero at θ_t, exact where it should be, deterministic = E[stochastic], gradients,
batching over tasks, output units, bytes, state and refusals."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from helpers import assert_gradient_matches_finite_differences
from laftr_cl.fsd.liftr import LiftrBank, LiftrSummary, liftr_fsd, liftr_summarize

DTYPE = torch.float64


def data(n=300, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=DTYPE) / d ** 0.5
    x = torch.randn(n, d, generator=g, dtype=DTYPE) @ mix + torch.randn(d, generator=g, dtype=DTYPE)
    return x, torch.zeros(n, dtype=torch.long)


def smooth_net(seed=0) -> nn.Sequential:
    """Linear → GELU → Linear → LayerNorm → tanh → Linear → ReLU → Linear (every kind of step)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.GELU(), nn.Linear(5, 5), nn.LayerNorm(5), nn.Tanh(), nn.Linear(5, 4),
                         nn.ReLU(), nn.Linear(4, 3)).to(DTYPE)


def linear_net(seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 4), nn.Linear(4, 3)).to(DTYPE)


def moved(net: nn.Module, scale=0.1, seed=1, only: str | None = None) -> nn.Module:
    """A copy of ``net`` with every parameter (or only those whose name starts with ``only``) moved."""
    other = copy.deepcopy(net)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in other.named_parameters():
            if only is None or name.startswith(only):
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return other


def true_l2_logit(reference: nn.Module, current: nn.Module, x) -> torch.Tensor:
    with torch.no_grad():
        return 0.5 * (current(x) - reference(x)).pow(2).sum(-1).mean()


def estimate(summaries, net, **options) -> torch.Tensor:
    return liftr_fsd(LiftrBank(net, summaries), reduction="none", **options)


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_zero_at_the_snapshot(mode, covariance):
    net = smooth_net()
    summary = liftr_summarize(net, data(), covariance=covariance)
    values = estimate([summary, summary], net, mode=mode, num_samples=64)
    assert torch.equal(values, torch.zeros(2, dtype=DTYPE))
    assert (estimate([summary], moved(net), mode=mode) > 0).all()


@pytest.mark.parametrize("layer", ["0.", "1.", "2."])
def test_exact_on_a_linear_network_when_one_layer_moves(layer):
    """With no nonlinearity, full covariance and one layer changed, ½E‖Δf‖² is a quadratic form of the
    layer's input moments: the deterministic estimate is the true l2_logit FSD on the data."""
    net, (x, y) = linear_net(), data()
    summary = liftr_summarize(net, (x, y), covariance="full")
    current = moved(net, scale=0.3, only=layer)
    assert torch.allclose(estimate([summary], current)[0], true_l2_logit(net, current, x), rtol=1e-10)


def test_on_a_linear_network_the_mean_field_drops_exactly_the_cross_covariance():
    """Two layers changed: dout = W₂·dh + dW₂·h + db₂ with dh = dW₁x + db₁ and h = W₁x + b₁ of the SAME x.
    LIFTR draws h independently of dh, so it misses 2·½·tr(W₂ Cov(dh, h) dW₂ᵀ) = tr(W₂ dW₁ Σ W₁ᵀ dW₂ᵀ)."""
    torch.manual_seed(0)
    net, (x, y) = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3)).to(DTYPE), data()
    current = moved(net, scale=0.3)
    summary = liftr_summarize(net, (x, y), covariance="full")
    centred = x - x.mean(0)
    sigma = centred.T @ centred / x.shape[0]
    w1, w2 = net[0].weight, current[1].weight
    dw1, dw2 = current[0].weight - w1, current[1].weight - net[1].weight
    cross = torch.trace(w2 @ dw1 @ sigma @ w1.T @ dw2.T).detach()
    truth = true_l2_logit(net, current, x)
    assert torch.allclose(estimate([summary], current)[0] + cross, truth, rtol=1e-10)
    assert abs(cross) > 1e-3 * truth  # the test has teeth: the cross term is not negligible


def test_deterministic_is_the_mean_of_stochastic():
    """On a chain (no residuals) with full covariance, the deterministic moments are those of the draws."""
    net = smooth_net()
    summary = liftr_summarize(net, data(), covariance="full")
    current = moved(net, scale=0.2)
    bank = LiftrBank(current, [summary])
    exact = liftr_fsd(bank, mode="deterministic", reduction="none")[0]
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([liftr_fsd(bank, mode="stochastic", num_samples=2000, generator=g, reduction="none")[0]
                         for _ in range(40)]).detach()
    standard_error = draws.std() / len(draws) ** 0.5
    assert abs(draws.mean() - exact) < 4 * standard_error
    assert standard_error < 0.02 * exact  # precise enough to see a wrong term


@pytest.mark.parametrize("mode,covariance", [("deterministic", "full"), ("deterministic", "diag"),
                                             ("stochastic", "full"), ("stochastic", "diag")])
def test_gradients_match_finite_differences(mode, covariance):
    net = smooth_net()
    summary = liftr_summarize(net, data(), covariance=covariance)
    current = moved(net, scale=0.2)
    bank = LiftrBank(current, [summary])

    def value() -> torch.Tensor:
        g = torch.Generator().manual_seed(3)  # the same draws every call
        return liftr_fsd(bank, mode=mode, num_samples=16, generator=g)

    assert_gradient_matches_finite_differences(value, list(current.parameters()))


def test_a_bank_for_the_deterministic_mode_keeps_no_factors():
    net = smooth_net()
    summary = liftr_summarize(net, data(), covariance="full")
    current = moved(net)
    lean = LiftrBank(current, [summary], sampling=False)
    assert not any(k.endswith((".factor", ".std", ".jacobian_std")) for k in lean.derived)
    assert torch.equal(liftr_fsd(lean), liftr_fsd(LiftrBank(current, [summary])))
    with pytest.raises(ValueError, match="sampling=True"):
        liftr_fsd(lean, mode="stochastic")


def test_autocast_does_not_reach_the_estimate():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.GELU(), nn.LayerNorm(5), nn.Linear(5, 3))
    x, y = data()
    summary = liftr_summarize(net, (x.float(), y), covariance="full")
    bank = LiftrBank(moved(net, scale=0.01), [summary])
    plain = liftr_fsd(bank)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(liftr_fsd(bank), plain)


def test_tasks_are_batched_in_one_pass():
    net = smooth_net()
    first = liftr_summarize(net, data(seed=0), covariance="full")
    other = moved(net, scale=0.1, seed=7)
    second = liftr_summarize(other, data(seed=1), covariance="full", output_units=[0, 2])
    current = moved(net, scale=0.2)
    together = estimate([first, second], current)
    alone = torch.cat([estimate([first], current), estimate([second], current)])
    assert torch.allclose(together, alone, rtol=1e-12)
    assert not torch.allclose(together[0], together[1])


def test_only_the_task_outputs_count():
    net = smooth_net()
    summary = liftr_summarize(net, data(), covariance="diag", output_units=[0, 1])
    current = copy.deepcopy(net)
    with torch.no_grad():
        current[-1].bias[2] += 1.0
    assert estimate([summary], current)[0] == 0
    everything = liftr_summarize(net, data(), covariance="diag")
    assert torch.allclose(estimate([everything], current)[0], torch.tensor(0.5, dtype=DTYPE))


def test_bytes_counted_by_hand():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x, y = data()
    full = liftr_summarize(net, (x.float().reshape(-1, 2, 3), y), covariance="full").nbytes()
    diag = liftr_summarize(net, (x.float().reshape(-1, 2, 3), y), covariance="diag", output_units=[1, 2]).nbytes()
    snapshot = (6 * 5 + 5 + 5 * 3 + 3) * 4
    assert full == {"moments": (6 + 36 + 5 + 25) * 4, "jacobians": 5 * 4, "snapshot": snapshot, "output_units": 0,
                    "total": (72 + 5) * 4 + snapshot}
    assert diag == {"moments": (6 + 6 + 5 + 5) * 4, "jacobians": 5 * 4, "snapshot": snapshot, "output_units": 2 * 8,
                    "total": (22 + 5) * 4 + snapshot + 16}


def test_state_round_trips_and_versions_are_checked():
    net = smooth_net()
    summary = liftr_summarize(net, data(), covariance="full", output_units=[1, 2])
    restored = LiftrSummary.from_state_dict(copy.deepcopy(summary.state_dict()))
    current = moved(net)
    assert torch.equal(estimate([restored], current), estimate([summary], current))
    with pytest.raises(ValueError, match="format_version"):
        LiftrSummary.from_state_dict({**summary.state_dict(), "format_version": 0})


def test_other_architectures_and_unsupported_ops_are_refused():
    summary = liftr_summarize(smooth_net(), data(), covariance="full")
    wider = nn.Sequential(nn.Linear(6, 7), nn.GELU(), nn.Linear(7, 5), nn.LayerNorm(5), nn.Tanh(), nn.Linear(5, 4),
                          nn.ReLU(), nn.Linear(4, 3)).to(DTYPE)
    with pytest.raises(ValueError, match="another architecture"):
        LiftrBank(wider, [summary])
    normalized = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)).to(DTYPE)
    with pytest.raises(ValueError, match="LIFTR cannot propagate through nn.BatchNorm1d in '1'"):
        liftr_summarize(normalized, data())
