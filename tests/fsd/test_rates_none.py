"""rates="none": summaries without gate statistics, for the relu estimator (which gates by the reference
network itself): the same estimate as with per-unit rates, fewer bytes, and a refusal for every estimator
that reads the statistics."""
from __future__ import annotations

import io

import pytest
import torch
from transformer_models import TinyViT

from helpers import perturbed
from laftr_cl.fsd import SummaryBank, TaskSummary, fsd, summarize
from laftr_cl.fsd.methods import fsd_method
from laftr_cl.fsd.methods.laftr import stored


def _vit_task(seed: int = 0) -> tuple[TinyViT, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    net = TinyViT(classes=3).double()
    x = torch.randn(40, 1, 8, 8, dtype=torch.float64)
    return net, x, torch.arange(40) % 3


@pytest.mark.parametrize("model", ["vit", "mlp"])
def test_relu_estimate_is_unchanged_without_gate_statistics(model, lib):
    if model == "vit":
        net, x, y = _vit_task()
    else:
        net, (x, y) = lib.make_mlp(), lib.task_data()
    kept = summarize(net, (x, y), inputs="diag")
    dropped = summarize(net, (x, y), inputs="diag", rates="none")
    assert dropped.firing_rates == () and dropped.gate_second_moments is None
    assert kept.nbytes()["rates"] > 0 and dropped.nbytes()["rates"] == 0
    assert dropped.nbytes()["total"] == kept.nbytes()["total"] - kept.nbytes()["rates"]
    net = perturbed(net, scale=0.05)
    with_rates = fsd(net, [kept], estimator="relu", metric="l2_logit", generator=torch.Generator().manual_seed(3))
    without = fsd(net, [dropped], estimator="relu", metric="l2_logit", generator=torch.Generator().manual_seed(3))
    assert with_rates.item() > 0
    torch.testing.assert_close(without, with_rates, rtol=0, atol=0)


def test_every_estimator_that_reads_the_rates_refuses_a_summary_without_them(lib):
    net, x, y = _vit_task()
    dropped = summarize(net, (x, y), inputs="diag", rates="none")
    with pytest.raises(ValueError, match="estimator=bernoulli reads the firing rates .* use estimator=relu"):
        fsd(net, [dropped], estimator="bernoulli")
    mlp = lib.make_mlp()
    mlp_dropped = summarize(mlp, lib.task_data(), inputs="full", rates="none")
    with pytest.raises(ValueError, match="estimator=exact reads the firing rates"):
        fsd(mlp, [mlp_dropped], estimator="exact", metric="l2_logit")
    with pytest.raises(ValueError, match="estimator=bernoulli reads the firing rates"):
        fsd_method("laftr", rates="none")  # refused when the method is made, before any task


def test_summaries_of_one_call_agree_on_keeping_rates():
    net, x, y = _vit_task()
    kept = summarize(net, (x, y), inputs="diag")
    dropped = summarize(net, (x, y), inputs="diag", rates="none")
    with pytest.raises(ValueError, match=r"Summaries \[1\] keep no gate statistics"):
        SummaryBank(net, [kept, dropped])


def test_a_summary_without_rates_round_trips_and_is_stored_in_float16():
    net, x, y = _vit_task()
    dropped = summarize(net, (x, y), inputs="lowrank", rank=2, rates="none")
    buffer = io.BytesIO()
    torch.save(dropped.state_dict(), buffer)
    buffer.seek(0)
    loaded = TaskSummary.from_state_dict(torch.load(buffer, weights_only=True))
    assert loaded.firing_rates == ()
    net = perturbed(net, scale=0.05)
    a = fsd(net, [dropped], estimator="relu", generator=torch.Generator().manual_seed(1))
    b = fsd(net, [loaded], estimator="relu", generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    half = stored(dropped, "float16")
    assert half.firing_rates == () and all(t.dtype == torch.float16 for t in half.inputs.tensors().values())
    assert half.inputs.nbytes() * 4 == dropped.inputs.nbytes()  # float64 → float16


def test_the_method_counts_only_the_input_model_without_rates():
    net, x, y = _vit_task()
    method = fsd_method("laftr", estimator="relu", inputs="lowrank", rank=2, rates="none")
    summary = method.summarize(net, (x, y))
    inputs = sum(t.numel() for t in summary.inputs.tensors().values())
    assert method.stored_numbers(summary) == inputs
    with_rates = fsd_method("laftr", estimator="relu", inputs="lowrank", rank=2)
    assert with_rates.stored_numbers(with_rates.summarize(net, (x, y))) > inputs
