"""The low-rank factorization of ``inputs=lowrank``: randomized (d > 1024) against the exact float64 eigendecomposition."""
import pytest
import torch

from laftr_cl.fsd import LowRankGaussian
from laftr_cl.fsd.input_models.base import JITTER
from laftr_cl.fsd.input_models.pca import (
    EIGH_MAX_DIM,
    OVERSAMPLE,
    exact_principal_components,
    principal_components,
    randomized_principal_components,
)


def planted(n=400, d=80, rank=6, gap=True, seed=0, dtype=torch.float64):
    """Data whose covariance has ``rank`` large eigenvalues (a clear gap) or a slowly decaying spectrum."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64)).Q
    if gap:
        scales = torch.cat([torch.linspace(10, 5, rank), torch.full((d - rank,), 0.1)])
    else:
        scales = 1 / torch.arange(1, d + 1, dtype=torch.float64).sqrt()
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * scales @ basis.T + 3
    return x.to(dtype)


def projector(directions):
    return directions @ directions.mT


def test_randomized_path_is_used_and_matches_the_exact_top_k():
    x, rank = planted(), 6
    assert rank + OVERSAMPLE < min(x.shape)  # the randomized branch, not the exact-SVD shortcut
    fast, exact = randomized_principal_components(x, rank), exact_principal_components(x, rank)
    torch.testing.assert_close(fast.eigenvalues, exact.eigenvalues, rtol=1e-10, atol=0)
    torch.testing.assert_close(projector(fast.directions), projector(exact.directions), rtol=0, atol=1e-10)
    torch.testing.assert_close(fast.variances, exact.variances, rtol=1e-12, atol=0)
    torch.testing.assert_close(fast.directions.mT @ fast.directions, torch.eye(rank, dtype=torch.float64))


def test_small_inputs_use_the_exact_eigh_and_large_ones_the_randomized_path():
    small = planted(d=EIGH_MAX_DIM)
    assert torch.equal(principal_components(small, 4).directions, exact_principal_components(small, 4).directions)
    large = planted(n=60, d=EIGH_MAX_DIM + 1)
    fast = principal_components(large, 4)
    assert torch.equal(fast.directions, randomized_principal_components(large, 4).directions)
    torch.testing.assert_close(projector(fast.directions), projector(exact_principal_components(large, 4).directions),
                               rtol=0, atol=1e-8)


def test_lowrank_model_keeps_the_exact_residual_and_covariance():
    x, rank = planted(n=300, d=EIGH_MAX_DIM + 200), 6
    assert rank + OVERSAMPLE < min(x.shape)
    model = LowRankGaussian.fit(x, rank=rank)
    exact = exact_principal_components(x, rank)
    components = exact.directions * exact.eigenvalues.sqrt()
    residual = exact.variances - components.pow(2).sum(-1)
    torch.testing.assert_close(model.residual_std.pow(2), residual + JITTER, rtol=1e-9, atol=0)
    # marginal variances are exactly those of the data (+ jitter), whatever the rank
    torch.testing.assert_close(
        (model.components.pow(2).sum(-1) + model.residual_std.pow(2)), torch.cov(x.T).diagonal() + JITTER
    )
    torch.testing.assert_close(model.components @ model.components.mT, components @ components.mT, rtol=0, atol=1e-9)


def test_sampled_covariance_matches_the_model():
    x = planted(d=40, n=300)
    model = LowRankGaussian.fit(x, rank=4)
    draws = model.sample(60000, torch.Generator().manual_seed(3))
    target = model.components @ model.components.mT + torch.diag(model.residual_std.pow(2))
    torch.testing.assert_close(draws.mean(0), model.mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), target, atol=0.6, rtol=0)
    assert (torch.cov(draws.T) - target).abs().mean() < 0.05


def test_randomized_fit_samples_the_data_covariance_along_top_and_random_directions():
    x = planted(n=300, d=EIGH_MAX_DIM + 200)
    model = LowRankGaussian.fit(x, rank=6)
    exact = exact_principal_components(x, 6)
    g = torch.Generator().manual_seed(4)
    directions = torch.cat([exact.directions, torch.linalg.qr(torch.randn(x.shape[1], 4, generator=g,
                                                                          dtype=torch.float64)).Q], 1)
    draws = model.sample(4000, torch.Generator().manual_seed(5)) - model.mean
    sampled = (draws @ directions).var(0)
    wanted = torch.einsum("dj,de,ej->j", directions, torch.cov(x.T) + JITTER * torch.eye(x.shape[1],
                          dtype=torch.float64), directions)
    torch.testing.assert_close(sampled, wanted, rtol=0.1, atol=0)  # 4,000 draws: ±2.2% std per variance


def test_slowly_decaying_spectrum_captures_the_top_k_variance():
    x, rank = planted(n=500, d=200, rank=20, gap=False), 20
    fast, exact = randomized_principal_components(x, rank), exact_principal_components(x, rank)
    captured = fast.eigenvalues.sum() / exact.eigenvalues.sum()
    assert 0.995 < captured <= 1 + 1e-12
    assert torch.all(fast.eigenvalues[:5] / exact.eigenvalues[:5] > 0.999)


def test_float32_data_agrees_with_the_float64_reference():
    x = planted(n=300, d=EIGH_MAX_DIM + 200, dtype=torch.float32)
    model = LowRankGaussian.fit(x, rank=6)
    assert model.components.dtype == torch.float32 and model.residual_std.dtype == torch.float32
    exact = exact_principal_components(x.double(), 6)
    components = exact.directions * exact.eigenvalues.sqrt()
    torch.testing.assert_close(model.components.double() @ model.components.double().mT,
                               components @ components.mT, rtol=0, atol=1e-4)


@pytest.mark.parametrize("dim", [30, EIGH_MAX_DIM + 100])
def test_fewer_examples_than_rank_gives_zero_variance_directions(dim):
    x = planted(n=5, d=dim)
    model = LowRankGaussian.fit(x, rank=8)
    assert model.components.shape == (dim, 8)
    torch.testing.assert_close(model.components[:, 4:], torch.zeros(dim, 4, dtype=torch.float64), rtol=0, atol=1e-6)
    cov = torch.cov(x.T)
    torch.testing.assert_close(model.components @ model.components.mT + torch.diag(model.residual_std.pow(2)),
                               cov + JITTER * torch.eye(dim, dtype=torch.float64), rtol=0, atol=1e-9)


def test_summary_does_not_touch_the_global_rng_and_is_deterministic():
    x = planted(n=60, d=EIGH_MAX_DIM + 1, dtype=torch.float32)
    state = torch.get_rng_state()
    first = LowRankGaussian.fit(x, rank=6)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(LowRankGaussian.fit(x, rank=6).components, first.components)
