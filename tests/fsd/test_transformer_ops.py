"""Transformers through the gated view: the reference pass is the network itself, the current pass
its linearization at the reference (errors O(ε²)), FSD is 0 at θ_t, gradients match finite
differences, and the attention pattern is not frozen."""
from __future__ import annotations

import copy

import pytest
import torch
from avalanche.models.dynamic_modules import IncrementalClassifier
from torch import nn
from transformer_models import VARIANTS, MultiTaskViT, TinyViT

from helpers import perturbed
from laftr_cl.fsd import SummaryBank, fsd, summarize
from laftr_cl.fsd.ops import PassContext
from laftr_cl.models import TaskMaskedClassifier, ViT


def _data(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g, dtype=torch.float64), torch.arange(n) % 3


def _model(variant: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return TinyViT(**VARIANTS[variant]).double().eval()


def _passes(model: nn.Module, summary, x: torch.Tensor,
            smooth_ops: str = "linearized") -> tuple[torch.Tensor, torch.Tensor]:
    """Reference and current logits on ``x`` with the reference's own gates ``g(s^t)``."""
    bank = SummaryBank(model, [summary])
    view = bank.view
    ctx = PassContext(num_snapshots=1, slots=1, samples=x.shape[0], reference_params=bank.reference_params,
                      gate=lambda j, s: view.activations[j].gate(s), noise=None, slot_heads=bank.slot_heads,
                      smooth_ops=smooth_ops)
    with torch.no_grad():
        reference = view.reference_pass(x.unsqueeze(0), ctx)[0]
        current = view.current_pass(x, ctx)
    return reference, current


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_reference_pass_is_the_network_and_the_current_pass_its_linearization(variant):
    model = _model(variant)
    x, y = _data()
    summary = summarize(model, (x, y), inputs="diag")
    reference, at_theta_t = _passes(model, summary, x)
    torch.testing.assert_close(reference, model(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(at_theta_t, model(x), rtol=1e-10, atol=1e-12)
    if "-relu" in variant:  # a ReLU is its own gate: the linearization's error is O(ε²)
        errors, moves = [], []
        for eps in (1e-5, 1e-6):  # small enough that no ReLU flips
            moved = perturbed(model, eps)
            _, current = _passes(moved, summary, x)
            errors.append((current - moved(x)).abs().max().item())
            moves.append((moved(x) - model(x)).abs().max().item())
        assert moves[0] / moves[1] == pytest.approx(10, rel=0.05)
        assert errors[0] / errors[1] > 60, errors
        _, exact = _passes(moved, summary, x, smooth_ops="exact")  # the ReLU network run with its own gates
        torch.testing.assert_close(exact, moved(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("estimator", ["bernoulli", "relu"])
def test_fsd_is_zero_at_the_summarized_parameters(variant, estimator):
    model = _model(variant)
    x, y = _data()
    summary = summarize(model, (x, y), inputs="diag")
    for metric in ("l2_prob", "kl", "l2_logit"):
        value = fsd(model, [summary], estimator=estimator, metric=metric, num_samples=6,
                    generator=torch.Generator().manual_seed(0))
        assert abs(value.item()) < 1e-12, (metric, value)
    moved = fsd(perturbed(model, 0.05), [summary], estimator=estimator, metric="l2_logit", num_samples=6,
                generator=torch.Generator().manual_seed(0))
    assert moved.item() > 1e-6


def test_gradient_matches_finite_differences_on_a_float64_vit():
    model = _model("mha-layer-gelu")
    x, y = _data()
    summary = summarize(model, (x, y), inputs="diag")
    moved = perturbed(model, 0.05)
    params = dict(moved.named_parameters())
    g = torch.Generator().manual_seed(3)
    direction = {k: torch.randn(p.shape, generator=g, dtype=p.dtype) for k, p in params.items()}
    bank = SummaryBank(moved, [summary])

    def value(eps: float) -> torch.Tensor:
        shifted = {k: p + eps * direction[k] for k, p in params.items()}
        return _fsd_at(moved, bank, shifted)

    grads = torch.autograd.grad(_fsd_at(moved, bank, params), list(params.values()))
    analytic = sum((gr * direction[k]).sum() for gr, k in zip(grads, params))
    eps = 1e-6
    numeric = (value(eps) - value(-eps)) / (2 * eps)
    torch.testing.assert_close(analytic.detach(), numeric.detach(), rtol=1e-6, atol=1e-10)


def _fsd_at(model: nn.Module, bank: SummaryBank, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """FSD with fixed draws at parameters ``params`` (swapped in as functional_call does: the view reads them live)."""
    with torch.nn.utils.stateless._reparametrize_module(model, params):  # what functional_call does
        return fsd(model, bank, estimator="bernoulli", metric="l2_prob", num_samples=5,
                   generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("smooth_ops", ["exact", "linearized"])
@pytest.mark.parametrize("estimator", ["bernoulli", "relu"])
@pytest.mark.parametrize("variant", ["mha-layer-gelu", "hand-hand_rms-tanh-mean", "sdpa-layer-relu-embedding"])
def test_changing_only_the_query_weights_changes_the_estimate(variant, estimator, smooth_ops):
    model = _model(variant)
    x, y = _data()
    summary = summarize(model, (x, y), inputs="diag")
    moved = copy.deepcopy(model)
    attention = moved.blocks[0].attn
    weight = attention.attn.in_proj_weight if hasattr(attention, "attn") else attention.qkv.weight
    width = weight.shape[1]
    with torch.no_grad():
        weight[:width].add_(0.5 * torch.randn(width, width, generator=torch.Generator().manual_seed(4),
                                              dtype=weight.dtype))
    value = fsd(moved, [summary], estimator=estimator, metric="l2_logit", num_samples=8, smooth_ops=smooth_ops,
                generator=torch.Generator().manual_seed(0))
    assert value.item() > 1e-6, value


def test_multi_task_transformer_under_avalanche_heads_summarizes_per_task():
    torch.manual_seed(0)
    model = MultiTaskViT(attention="mha").double()
    for task in (0, 1):  # what adaptation() does for a new task label: a head of its own
        model.classifier.classifiers[str(task)] = IncrementalClassifier(8, 2, masking=False, auto_adapt=False).double()
        model.classifier.register_buffer(f"active_units_T{task}", torch.ones(2, dtype=torch.int8))
    x, y = _data()
    summaries = [summarize(model, (x, y % 2), inputs="diag", task_label=t) for t in (0, 1)]
    assert [s.task_label for s in summaries] == [0, 1]
    values = fsd(perturbed(model, 0.05), summaries, estimator="bernoulli", num_samples=6, reduction="none",
                 generator=torch.Generator().manual_seed(0))
    assert values.shape == (2,) and bool((values > 0).all())


def test_project_vit_with_task_masked_heads_is_zero_at_theta_t_and_not_after():
    torch.manual_seed(0)
    model = TaskMaskedClassifier(ViT(1, 64, 4, patch_size=4, width=8, depth=1, heads=2), [[0, 1], [2, 3]]).double()
    x, y = _data()
    summary = summarize(model, (x, y % 2), inputs="diag", output_units=[0, 1], task_label=0)
    assert summary.gate_second_moments is not None  # GELU: smooth gates keep E[g²]
    at = fsd(model, [summary], num_samples=6, generator=torch.Generator().manual_seed(0))
    after = fsd(perturbed(model, 0.05), [summary], num_samples=6, generator=torch.Generator().manual_seed(0))
    assert abs(at.item()) < 1e-12 and after.item() > 1e-6
