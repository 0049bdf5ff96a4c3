"""The response solver: ε → 0 stays at θ_s, the true-FSD response is the brute-force minimizer,
chunking does not change it, divergence is reported, loss changes are what they say."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from laftr_cl.influence import (
    SolverSettings,
    build_proximity,
    loss_changes,
    self_loss_changes,
    solve_responses,
)


def true_term(problem):
    return build_proximity("true_fsd", problem.model, (problem.x, problem.y), metric="kl")


def flat(offsets, q):
    return torch.cat([d[q].flatten() for d in offsets.values()])


def test_zero_epsilon_stays_at_anchor_and_small_epsilon_is_linear(problem):
    term = true_term(problem)
    queries = (problem.x[:3], problem.y[:3])
    zero = solve_responses(term, *queries, SolverSettings(epsilon=0.0, steps=20, lr=0.1))
    assert all(float(d.abs().max()) < 1e-12 for d in zero.values())  # ∇D(θ_s) = 0 up to round-off
    small = solve_responses(term, *queries, SolverSettings(epsilon=1e-7, steps=20, lr=0.1))
    smaller = solve_responses(term, *queries, SolverSettings(epsilon=1e-8, steps=20, lr=0.1))
    for q in range(3):
        assert 0 < float(flat(small, q).norm()) < 1e-5
        torch.testing.assert_close(flat(small, q) / 1e-7, flat(smaller, q) / 1e-8, rtol=1e-4, atol=1e-8)


def brute_force_response(problem, q, epsilon, l2):
    """The minimizer of the PBRF objective written out by hand, by L-BFGS to a tiny gradient."""
    model = problem.model
    anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        reference_log_probs = model(problem.x).log_softmax(-1)
    offset = {n: torch.zeros_like(p, requires_grad=True) for n, p in anchor.items()}

    def objective():
        params = {n: anchor[n] + offset[n] for n in anchor}
        log_probs = functional_call(model, params, (problem.x,)).log_softmax(-1)
        kl = (reference_log_probs.exp() * (reference_log_probs - log_probs)).sum(-1).mean()
        loss = F.cross_entropy(functional_call(model, params, (problem.x[q : q + 1],)), problem.y[q : q + 1])
        return kl - epsilon * loss + 0.5 * l2 * sum(d.pow(2).sum() for d in offset.values())

    optimizer = torch.optim.LBFGS(list(offset.values()), lr=1, max_iter=500, tolerance_grad=1e-13,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        value = objective()
        value.backward()
        return value

    for _ in range(3):
        optimizer.step(closure)
    return torch.cat([d.detach().flatten() for d in offset.values()])


def test_true_fsd_response_is_the_brute_force_minimizer(problem):
    """ε = 1/N; λ large enough that no ReLU of this tiny net switches on the way (a smooth minimum)."""
    epsilon, l2 = 1 / problem.x.shape[0], 0.2
    settings = SolverSettings(epsilon=epsilon, l2=l2, steps=1000, lr=0.5, momentum=0.9, chunk_size=3)
    offsets = solve_responses(true_term(problem), problem.x[:3], problem.y[:3], settings)
    for q in range(3):
        want = brute_force_response(problem, q, epsilon, l2)
        assert float(want.norm()) > 1e-3
        torch.testing.assert_close(flat(offsets, q), want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind, options", [("true_fsd", {}), ("laftr", {"inputs": "diag", "num_samples": 20})])
def test_chunks_do_not_change_the_responses(problem, kind, options):
    term = build_proximity(kind, problem.model, (problem.x, problem.y), metric="kl",
                           generator=torch.Generator().manual_seed(0), **options)
    queries = (problem.x[:5], problem.y[:5])
    together = solve_responses(term, *queries, SolverSettings(epsilon=0.1, steps=10, chunk_size=5))
    alone = solve_responses(term, *queries, SolverSettings(epsilon=0.1, steps=10, chunk_size=1))
    for name in together:
        torch.testing.assert_close(together[name], alone[name])


def test_divergence_names_the_step_size(problem):
    with pytest.raises(ValueError, match=r"lower solver\.lr \(now 1000"):
        solve_responses(true_term(problem), problem.x[:2], problem.y[:2],
                        SolverSettings(epsilon=1.0, steps=200, lr=1000.0))


def test_settings_are_checked():
    with pytest.raises(ValueError, match="solver.momentum"):
        SolverSettings(epsilon=0.1, momentum=1.0)


def test_loss_changes_are_the_differences_of_losses(problem):
    g = torch.Generator().manual_seed(3)
    offsets = {n: 0.1 * torch.randn(2, *p.shape, generator=g, dtype=p.dtype) for n, p in problem.model.named_parameters()}
    x_test, y_test = problem.x[10:14], problem.y[10:14]
    changes = loss_changes(problem.model, offsets, x_test, y_test, chunk_size=1)
    own = self_loss_changes(problem.model, offsets, problem.x[:2], problem.y[:2])
    for q in range(2):
        moved = copy.deepcopy(problem.model)
        with torch.no_grad():
            for name, p in moved.named_parameters():
                p.add_(offsets[name][q])
        with torch.no_grad():
            want = F.cross_entropy(moved(x_test), y_test, reduction="none") - F.cross_entropy(
                problem.model(x_test), y_test, reduction="none")
            want_own = F.cross_entropy(moved(problem.x[q : q + 1]), problem.y[q : q + 1]) - F.cross_entropy(
                problem.model(problem.x[q : q + 1]), problem.y[q : q + 1])
        torch.testing.assert_close(changes[q], want)
        torch.testing.assert_close(own[q], want_own)
