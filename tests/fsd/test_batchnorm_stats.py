"""``bn_stats``: whose BatchNorm running statistics the current network uses inside the FSD.

With every parameter at θ_t and only the running statistics drifted (what later tasks' forward passes
do to the buffers), the network's eval-mode function has moved: the true FSD is > 0. ``reference``
cannot see it (both networks normalize with θ_t's statistics); ``current`` must.
"""
from __future__ import annotations

import copy

import pytest
import torch

from laftr_cl.fsd import fsd, summarize, true_fsd
from laftr_cl.models import BnCnn


def _trained_stats_model(seed: int = 0) -> tuple[BnCnn, tuple[torch.Tensor, torch.Tensor]]:
    """A float64 BatchNorm CNN whose running statistics come from forward passes on its task's data."""
    torch.manual_seed(seed)
    model = BnCnn(in_channels=1, num_outputs=4, channels=(3, 4), hidden=8).double()
    x = torch.randn(96, 1, 28, 28, dtype=torch.float64) * 0.8 + 0.3
    y = torch.randint(0, 4, (96,))
    model.train()
    with torch.no_grad():
        for _ in range(20):
            model(x)
    model.eval()
    return model, (x, y)


def _drift_statistics(model: torch.nn.Module, size: float, seed: int = 1) -> torch.nn.Module:
    """A copy with every parameter equal and each BatchNorm's running mean/variance moved by ``size``."""
    moved = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    for module in moved.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            shift = torch.randn(module.running_mean.shape, generator=g, dtype=torch.float64)
            module.running_mean += size * shift * module.running_var.sqrt()
            module.running_var *= torch.exp(size * torch.randn(module.running_var.shape, generator=g,
                                                                dtype=torch.float64))
    return moved


def _estimate(model, summary, bn_stats, metric="l2_logit", seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return fsd(model, [summary], estimator="relu", metric=metric, num_samples=400, generator=g,
                   bn_stats=bn_stats).item()


@pytest.mark.parametrize("bn_stats", ["reference", "current"])
def test_zero_at_theta_t_with_the_references_statistics(bn_stats):
    model, data = _trained_stats_model()
    summary = summarize(model, data, inputs="diag")
    assert _estimate(model, summary, bn_stats) == pytest.approx(0.0, abs=1e-20)


def test_statistics_drift_is_seen_by_current_only_and_grows_with_the_true_fsd():
    model, data = _trained_stats_model()
    summary = summarize(model, data, inputs="diag")
    truths, current, reference = [], [], []
    for size in (0.05, 0.2, 0.6):
        moved = _drift_statistics(model, size)
        assert all(torch.equal(a, b) for a, b in zip(moved.parameters(), model.parameters()))
        truths.append(true_fsd(moved, model, data, metric="l2_logit").item())
        current.append(_estimate(moved, summary, "current"))
        reference.append(_estimate(moved, summary, "reference"))
    assert min(truths) > 1e-4  # the eval-mode function moved
    assert max(reference) < 1e-20  # blind: both networks normalize with θ_t's statistics
    assert current == sorted(current) and truths == sorted(truths)  # same direction as the truth
    for estimate, truth in zip(current, truths):
        assert 0.5 < estimate / truth < 2.0  # and of the truth's size (Gaussian inputs, not the data)


def test_parameters_follow_the_statistics_under_current_only():
    """Under ``current`` the regularizer's gradient reaches γ and β (they can compensate the drift);
    the running statistics themselves are buffers and get none."""
    model, data = _trained_stats_model()
    summary = summarize(model, data, inputs="diag")
    moved = _drift_statistics(model, 0.3)
    for bn_stats, moves in (("reference", False), ("current", True)):
        moved.zero_grad()
        fsd(moved, [summary], estimator="relu", metric="l2_logit", num_samples=50,
            generator=torch.Generator().manual_seed(0), bn_stats=bn_stats).backward()
        gamma = moved[1].weight.grad
        assert (gamma.abs().max().item() > 1e-8) is moves
        assert not moved[1].running_mean.requires_grad


def test_unknown_bn_stats_is_refused():
    model, data = _trained_stats_model()
    summary = summarize(model, data, inputs="diag")
    with pytest.raises(ValueError, match="bn_stats='live'.*reference, current"):
        fsd(model, [summary], bn_stats="live")
