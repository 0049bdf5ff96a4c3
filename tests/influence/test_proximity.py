"""Every proximity term is 0 with zero gradient at θ_s and positive away; the Fisher term is the
true FSD's curvature."""
from __future__ import annotations

import pytest
import torch
from torch.func import grad

from laftr_cl.influence import PROXIMITIES, build_proximity, diagonal_ggn, metric_hessian_factor
from laftr_cl.influence.params import shifted

FSD_TERMS = {
    "true_fsd": {},
    "subset": {"size": 10},
    "fisher": {},
    "laftr_full": {"inputs": "full", "estimator": "bernoulli", "num_samples": 30},
    "laftr_diag": {"inputs": "diag", "estimator": "relu", "classwise": True, "num_samples": 30},
    "laftr_lowrank": {"inputs": "lowrank", "rank": 2, "num_samples": 30},
    "laftr_coreset": {"inputs": "coreset", "coreset_size": 8, "num_samples": 30},
}


def build(name, problem, metric="kl", seed=0):
    options = dict(FSD_TERMS[name])
    kind = "laftr" if name.startswith("laftr") else name
    return build_proximity(kind, problem.model, (problem.x, problem.y), metric=metric,
                           generator=torch.Generator().manual_seed(seed), **options)


def away(term, scale=0.3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {n: p + scale * torch.randn(p.shape, generator=g, dtype=p.dtype) for n, p in term.anchor.items()}


@pytest.mark.parametrize("metric", ["kl", "l2_prob", "l2_logit"])
@pytest.mark.parametrize("name", sorted(FSD_TERMS))
def test_zero_with_zero_gradient_at_anchor_and_positive_away(problem, name, metric):
    term = build(name, problem, metric)
    assert float(term(term.anchor)) == pytest.approx(0.0, abs=1e-12)
    gradient = grad(term)(term.anchor)
    assert max(float(g.abs().max()) for g in gradient.values()) < 1e-10
    assert float(term(away(term))) > 1e-4


def test_none_term_is_zero_everywhere(problem):
    term = build_proximity("none", problem.model, (problem.x, problem.y), metric="kl")
    assert float(term(away(term))) == 0.0 and term.nbytes() == 0


def test_registry_lists_every_term_and_names_the_setting():
    assert PROXIMITIES.names() == ["fisher", "laftr", "none", "subset", "true_fsd"]
    with pytest.raises(ValueError, match="proximity='nope'.*choose one of"):
        PROXIMITIES.get("nope")


def test_laftr_fixed_draws_give_one_deterministic_objective(problem):
    fixed, fresh = build("laftr_full", problem), build_proximity(
        "laftr", problem.model, (problem.x, problem.y), metric="kl", generator=torch.Generator().manual_seed(0),
        inputs="full", num_samples=30, fixed_draws=False)
    params = away(fixed)
    assert float(fixed(params)) == float(fixed(params))
    assert float(fresh(params)) != float(fresh(params))


def test_stored_bytes(problem):
    n, d = problem.x.shape
    assert build("true_fsd", problem).nbytes() == n * d * 8
    assert build("subset", problem).nbytes() == 10 * d * 8
    assert build("fisher", problem).nbytes() == sum(p.numel() * 8 for p in problem.model.parameters())
    laftr = build("laftr_diag", problem)
    parts = laftr.summary.nbytes()
    assert laftr.nbytes() == parts["total"] - parts["snapshot"] > 0


@pytest.mark.parametrize("metric", ["kl", "l2_prob", "l2_logit"])
def test_metric_hessian_factor_matches_the_metric_hessian(metric):
    logits = torch.randn(4, 3, dtype=torch.float64)
    factor = metric_hessian_factor(metric, logits)
    p = logits.softmax(-1)
    softmax_jacobian = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
    want = {"kl": softmax_jacobian, "l2_prob": softmax_jacobian @ softmax_jacobian,
            "l2_logit": torch.eye(3, dtype=torch.float64).expand(4, 3, 3)}[metric]
    torch.testing.assert_close(factor @ factor.mT, want)


@pytest.mark.parametrize("metric", ["kl", "l2_prob"])
def test_diagonal_ggn_is_the_true_fsd_curvature_along_each_coordinate(problem, metric):
    """d²/dt² FSD(θ_s + t·e_j) at t = 0 equals diag(G)_j (finite differences, a few coordinates)."""
    true = build("true_fsd", problem, metric)
    curvature = diagonal_ggn(problem.model, problem.x, metric=metric, batch_size=7)
    h = 1e-4
    for name in ["1.weight", "3.bias"]:
        for index in [0, 2]:
            step = {n: torch.zeros_like(p) for n, p in true.anchor.items()}
            step[name].view(-1)[index] = h
            plus = float(true(shifted(true.anchor, step)))
            minus = float(true(shifted(true.anchor, {n: -s for n, s in step.items()})))
            assert (plus + minus) / h**2 == pytest.approx(float(curvature[name].view(-1)[index]), rel=1e-3, abs=1e-8)
