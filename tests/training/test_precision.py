"""``train.precision: bf16``: autocast reaches forward, loss and regularizer; the FSD's variance-
sensitive parts (input draws through the Cholesky factor, ρ, the exact moments) stay float32."""
from __future__ import annotations

import pytest
import torch

from laftr_cl.fsd import fsd, summarize
from laftr_cl.models import MLP
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.training.precision import autocast

BF16 = torch.device("cpu"), "bf16"


def moved_net_and_summary() -> tuple[torch.nn.Module, object]:
    torch.manual_seed(0)
    net = MLP(784, [64], 10)
    x = torch.rand(200, 1, 28, 28)
    summary = summarize(net, (x, torch.zeros(200, dtype=torch.long)), inputs="full")
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net, summary


def test_exact_fsd_is_computed_in_float32_under_bf16_autocast():
    net, summary = moved_net_and_summary()
    reference = fsd(net, [summary], estimator="exact", metric="l2_logit")
    with autocast(*BF16):
        value = fsd(net, [summary], estimator="exact", metric="l2_logit")
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, reference, rtol=1e-5, atol=0)


@pytest.mark.parametrize("metric", ["l2_prob", "kl"])
def test_sampled_fsd_under_bf16_is_float32_and_near_the_fp32_value(metric):
    net, summary = moved_net_and_summary()
    values = []
    for precision in ("fp32", "bf16"):
        torch.manual_seed(3)
        with autocast(torch.device("cpu"), precision):
            values.append(fsd(net, [summary], estimator="bernoulli", metric=metric, num_samples=64))
    fp32, bf16 = values
    assert bf16.dtype == torch.float32 and fp32 > 0
    assert abs(bf16 - fp32) < 0.05 * fp32


def test_a_bf16_laftr_run_keeps_fp32_parameters_and_finite_losses(make_strategy):
    strategy, benchmark = make_strategy(LaftrPlugin(num_samples=4, inputs="diag"), precision="bf16")
    for experience in benchmark.scenario.train_stream[:2]:
        metrics = strategy.train(experience)
    assert all(p.dtype == torch.float32 for p in strategy.model.parameters())
    losses = [v for k, v in metrics.items() if k.startswith("Loss_Epoch")]
    assert losses and all(torch.isfinite(torch.tensor(v)) for v in losses)
    assert len(strategy.plugins[1].summaries) == 2


def test_the_eager_forward_runs_under_autocast(make_strategy):
    strategy, benchmark = make_strategy(None, precision="bf16")
    outputs = []

    class Spy:
        def __getattr__(self, name):
            return lambda *args, **kwargs: None

        def after_forward(self, strategy, **kwargs):
            outputs.append((strategy.mb_output.dtype, strategy.criterion().dtype))

    strategy.plugins.append(Spy())
    strategy.train(benchmark.scenario.train_stream[0])
    assert outputs and all(out == torch.bfloat16 and loss == torch.float32 for out, loss in outputs)
