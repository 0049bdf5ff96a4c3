"""``kl`` in float32 near θ_t: computed from the logit difference, never negative, precise to float32."""
from __future__ import annotations

import copy

import pytest
import torch

from laftr_cl.fsd import METRICS, true_fsd


def _kl_float64(u_t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    log_p, log_q = u_t.double().log_softmax(-1), u.double().log_softmax(-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


@pytest.mark.parametrize("step", [1e-4, 1e-2, 1.0])
def test_kl_near_the_reference_matches_float64(step):
    g = torch.Generator().manual_seed(0)
    u_t = 3 * torch.randn(2000, 10, generator=g)
    u = u_t + step * torch.randn(u_t.shape, generator=g)
    got, want = METRICS.get("kl")(u_t, u), _kl_float64(u_t, u)
    assert got.dtype == torch.float32 and bool((got >= 0).all())
    relative = (got.double() - want).abs() / want
    assert relative.median() < 1e-5  # the textbook float32 formula is off by > 1e-2 at step 1e-4
    assert relative.max() < 1e-2


def test_kl_is_exactly_zero_at_the_reference_and_grows_quadratically():
    g = torch.Generator().manual_seed(1)
    u_t, direction = torch.randn(64, 5, generator=g), torch.randn(64, 5, generator=g)
    kl = METRICS.get("kl")
    assert bool((kl(u_t, u_t) == 0).all())
    small, half = kl(u_t, u_t + 1e-3 * direction), kl(u_t, u_t + 0.5e-3 * direction)
    assert bool((small > 0).all())
    torch.testing.assert_close(small / half, torch.full_like(small, 4.0), rtol=1e-2, atol=0)


def test_true_fsd_kl_near_the_reference_is_positive_and_precise(lib):
    reference = lib.make_mlp()
    model = copy.deepcopy(reference)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-5 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    x, y = lib.task_data(n=64)
    got = true_fsd(model, reference, (x, y), metric="kl")
    with torch.no_grad():
        want = _kl_float64(reference(x), model(x)).mean()
    assert got.item() > 0
    assert abs(got.item() - want.item()) < 1e-3 * want.item()
