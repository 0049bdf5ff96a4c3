"""Input models: fitted statistics, sampling, second moments, stacking with padding, registry."""
from __future__ import annotations

import pytest
import torch

from laftr_cl.fsd import INPUT_MODELS, Coreset, DiagGaussian, FullGaussian, LowRankGaussian, Noise
from laftr_cl.fsd.input_models.gaussian import times_lower_triangular


def data(n=400, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64) + 2


def covariance_of(model):
    factor = model.project(torch.eye(model.mean.shape[-1], dtype=torch.float64))
    return factor @ factor.mT


def test_registry_names():
    assert INPUT_MODELS.names() == ["coreset", "diag", "full", "lowrank"]
    assert INPUT_MODELS.get("lowrank") is LowRankGaussian


def test_full_and_diag_fit_mean_and_jittered_covariance():
    x = data()
    cov = torch.cov(x.T) + 1e-4 * torch.eye(5, dtype=torch.float64)
    full, diag = FullGaussian.fit(x), DiagGaussian.fit(x)
    torch.testing.assert_close(full.mean, x.mean(0))
    torch.testing.assert_close(covariance_of(full), cov)
    torch.testing.assert_close(full.scale_tril, torch.linalg.cholesky(cov))
    torch.testing.assert_close(covariance_of(diag), torch.diag(cov.diagonal()))


def test_lowrank_recovers_low_rank_data_and_keeps_marginal_variances():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 6, generator=g, dtype=torch.float64)
    model = LowRankGaussian.fit(x, rank=2)
    cov = torch.cov(x.T)
    torch.testing.assert_close(covariance_of(model), cov + 1e-4 * torch.eye(6, dtype=torch.float64), atol=1e-9, rtol=1e-9)
    one = LowRankGaussian.fit(data(d=6), rank=1)
    torch.testing.assert_close(covariance_of(one).diagonal(), torch.cov(data(d=6).T).diagonal() + 1e-4)
    assert one.components.shape == (6, 1)


@pytest.mark.parametrize("cls", [FullGaussian, DiagGaussian, LowRankGaussian, Coreset])
def test_samples_have_the_model_moments(cls):
    x = data()
    model = cls.fit(x, rank=3, coreset_size=50, generator=torch.Generator().manual_seed(0))
    samples = model.sample(40000, torch.Generator().manual_seed(2))
    assert samples.shape == (40000, 5)
    torch.testing.assert_close(samples.mean(0), model.mean, atol=0.1, rtol=0)
    torch.testing.assert_close(torch.cov(samples.T, correction=0), covariance_of(model), atol=0.5, rtol=0.05)


def test_coreset_keeps_real_inputs_and_samples_only_them():
    x = data(n=30)
    model = Coreset.fit(x, coreset_size=10, generator=torch.Generator().manual_seed(0))
    assert model.points.shape == (10, 5) and int(model.count) == 10
    rows = {tuple(r.tolist()) for r in x}
    assert all(tuple(p.tolist()) in rows for p in model.points)
    small = Coreset.fit(x[:3], coreset_size=10)
    assert int(small.count) == 3
    stacked = Coreset.stack([model, small])  # small is padded with zero rows
    assert stacked.points.shape == (2, 10, 5) and stacked.count.tolist() == [10, 3]
    draws = stacked.sample(500, torch.Generator().manual_seed(1))
    small_rows = {tuple(r.tolist()) for r in x[:3]}
    assert {tuple(r.tolist()) for r in draws[1]} == small_rows
    torch.testing.assert_close(stacked.mean[1], x[:3].mean(0))
    torch.testing.assert_close(covariance_of(stacked)[1], torch.cov(x[:3].T, correction=0))


def test_stack_reshape_take_and_lowrank_padding():
    a, b = LowRankGaussian.fit(data(seed=0), rank=1), LowRankGaussian.fit(data(seed=1), rank=3)
    stacked = LowRankGaussian.stack([a, b])
    assert stacked.batch_shape == (2,) and stacked.components.shape == (2, 5, 3)
    torch.testing.assert_close(covariance_of(stacked)[0], covariance_of(a))
    grid = LowRankGaussian.concat([stacked, stacked]).reshape_batch((2, 2))
    assert grid.batch_shape == (2, 2)
    assert grid.sample(4, Noise(torch.Generator().manual_seed(0), "cpu", torch.float64)).shape == (2, 2, 4, 5)
    taken = stacked.take(torch.tensor([1, 1, 0]))
    torch.testing.assert_close(taken.mean, torch.stack([b.mean, b.mean, a.mean]))


def test_state_dict_and_to():
    model = FullGaussian.fit(data())
    clone = FullGaussian.from_state_dict(model.state_dict())
    assert torch.equal(clone.scale_tril, model.scale_tril)
    assert model.nbytes() == (5 + 25) * 8
    small = Coreset.fit(data(), coreset_size=4).to(dtype=torch.float32)
    assert small.points.dtype == torch.float32 and small.count.dtype == torch.int64


@pytest.mark.parametrize("d", [5, 256, 301])
def test_blocked_lower_triangular_product_equals_the_dense_one(d):
    g = torch.Generator().manual_seed(d)
    scale_tril = torch.randn(2, 3, d, d, generator=g, dtype=torch.float64).tril()
    eps = torch.randn(2, 3, 7, d, generator=g, dtype=torch.float64)
    torch.testing.assert_close(times_lower_triangular(eps, scale_tril), eps @ scale_tril.mT)


def test_full_gaussian_draws_in_high_dimension_follow_the_fitted_model():
    """d = 300 takes the blocked product: the draws' mean and covariance match the fit."""
    x = data(n=2000, d=300, seed=3)
    model = FullGaussian.fit(x)
    draws = model.sample(20000, torch.Generator().manual_seed(0))
    assert draws.shape == (20000, 300)
    centered = draws - model.mean
    torch.testing.assert_close(draws.mean(0), model.mean, atol=0.35, rtol=0)
    empirical = centered.T @ centered / draws.shape[0]
    cov = covariance_of(model)
    # Gaussian sampling error: E‖S − Σ‖²_F = ((tr Σ)² + ‖Σ‖²_F) / n for n draws
    expected = ((cov.trace() ** 2 + cov.norm() ** 2) / draws.shape[0]).sqrt()
    assert (empirical - cov).norm() < 1.3 * expected
