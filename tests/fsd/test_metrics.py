"""Metrics by hand, the padding logit, and true_fsd on real data."""
from __future__ import annotations

import math

import pytest
import torch

from laftr_cl.fsd import METRICS, true_fsd
from laftr_cl.fsd.bank import PADDING_LOGIT


def test_metric_values_by_hand():
    u_t = torch.tensor([math.log(3.0), 0.0], dtype=torch.float64)  # softmax (0.75, 0.25)
    u = torch.zeros(2, dtype=torch.float64)  # softmax (0.5, 0.5)
    torch.testing.assert_close(METRICS.get("l2_logit")(u_t, u), torch.tensor(0.5 * math.log(3.0) ** 2, dtype=torch.float64))
    torch.testing.assert_close(METRICS.get("l2_prob")(u_t, u), torch.tensor(0.0625, dtype=torch.float64))
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    torch.testing.assert_close(METRICS.get("kl")(u_t, u), torch.tensor(kl, dtype=torch.float64))


@pytest.mark.parametrize("name", ["l2_prob", "kl", "l2_logit"])
def test_padding_outputs_add_nothing(name):
    g = torch.Generator().manual_seed(0)
    u_t, u = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    pad = torch.full((4, 2), PADDING_LOGIT)
    metric = METRICS.get(name)
    torch.testing.assert_close(metric(torch.cat([u_t, pad], -1), torch.cat([u, pad], -1)), metric(u_t, u))


@pytest.mark.parametrize("name", ["l2_prob", "kl", "l2_logit"])
def test_true_fsd_is_the_mean_over_examples(lib, name):
    reference = lib.make_mlp()
    model = lib.perturb(reference)
    x, y = lib.task_data(n=30)
    metric = METRICS.get(name)
    with torch.no_grad():
        per_example = [metric(reference(x[i : i + 1])[0][[0, 2]], model(x[i : i + 1])[0][[0, 2]]) for i in range(30)]
        expected = torch.stack(per_example).mean()
    got = true_fsd(model, reference, (x, y), metric=name, output_units=[0, 2], batch_size=7)
    torch.testing.assert_close(got, expected)
    got.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert all(p.grad is None for p in reference.parameters())
    assert true_fsd(reference, reference, (x, y), metric=name) == 0


def test_true_fsd_uses_eval_mode_and_restores_it(lib):
    reference = lib.make_mlp(dropout=0.5)
    model = lib.perturb(reference)
    model.train()
    x, y = lib.task_data(n=20)
    values = [true_fsd(model, reference, (x, y)) for _ in range(2)]
    assert torch.equal(values[0], values[1]) and model.training
