"""The FSD baselines: zero at θ_t, useful gradients away from it, and the maths each one claims."""
import copy

import pytest
import torch
from baseline_helpers import moved, random_direction, tiny_data, tiny_mlp
from torch import nn

from laftr_cl.fsd import true_fsd
from laftr_cl.fsd.baselines import (
    CoresetSummary,
    FisherSummary,
    NtkSummary,
    coreset_fsd,
    coreset_summarize,
    fisher_fsd,
    fisher_summarize,
    ntk_fsd,
    ntk_summarize,
)
from laftr_cl.models.vit import ViT

HEAD = [0, 1]


def _summarize(kind, model, data, units=HEAD):
    if kind == "coreset":
        return coreset_summarize(model, data, coreset_size=15, output_units=units,
                                 generator=torch.Generator().manual_seed(0))
    if kind == "ntk":
        return ntk_summarize(model, data, coreset_size=15, output_units=units,
                             generator=torch.Generator().manual_seed(0))
    return fisher_summarize(model, data, fisher=kind.split("_")[1], output_units=units, batch_size=16)


def _estimate(kind, model, summaries, metric="l2_prob", reduction="mean"):
    if kind == "coreset":
        return coreset_fsd(model, summaries, metric=metric, reduction=reduction)
    if kind == "ntk":
        return ntk_fsd(model, summaries, metric=metric, reduction=reduction)
    return fisher_fsd(model, summaries, reduction=reduction)


KINDS = ["coreset", "ntk", "fisher_empirical", "fisher_true"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metric", ["l2_prob", "kl", "l2_logit"])
def test_zero_at_the_reference(kind, metric):
    model, data = tiny_mlp(), tiny_data()
    summary = _summarize(kind, model, data)
    value = _estimate(kind, model, [summary], metric)
    assert value.item() == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_is_finite_and_nonzero_away_from_the_reference_and_summary_gets_none(kind):
    model, data = tiny_mlp(), tiny_data()
    summary = _summarize(kind, model, data)
    current = moved(model, random_direction(model), 0.3)
    value = _estimate(kind, current, [summary])
    value.backward()
    grads = torch.cat([p.grad.flatten() for p in current.parameters()])
    assert value.item() > 0 and torch.isfinite(grads).all() and grads.abs().sum() > 0
    stored = [t for t in summary.state_dict().values() if isinstance(t, torch.Tensor)]
    stored += [t for v in summary.state_dict().values() if isinstance(v, dict) for t in v.values()]
    assert stored and not any(t.requires_grad for t in stored)
    # the gradient descends the estimate: a small step against it lowers the value
    with torch.no_grad():
        for p in current.parameters():
            p.sub_(1e-3 * p.grad)
    assert _estimate(kind, current, [summary]).item() < value.item()


def test_coreset_of_all_the_data_is_the_true_fsd_on_the_head():
    model, data = tiny_mlp(), tiny_data(n=30)
    summary = coreset_summarize(model, data, coreset_size=30, output_units=HEAD)
    current = moved(model, random_direction(model), 0.5)
    for metric in ("l2_prob", "kl", "l2_logit"):
        truth = true_fsd(current, model, data, metric=metric, output_units=HEAD)
        assert coreset_fsd(current, [summary], metric=metric).item() == pytest.approx(truth.item(), rel=1e-10)
    assert summary.reference_logits.shape == (30, 2)


def test_ntk_equals_the_true_discrepancy_to_first_order():
    model, data = tiny_mlp(), tiny_data(n=25)
    summary = ntk_summarize(model, data, coreset_size=25)
    direction = random_direction(model)
    errors = []
    for scale in (1e-2, 1e-3, 1e-4):
        current = moved(model, direction, scale)
        truth = true_fsd(current, model, data, metric="l2_logit").item()
        errors.append(abs(ntk_fsd(current, [summary], metric="l2_logit").item() - truth) / truth)
    assert errors[-1] < 1e-3
    assert errors[1] < errors[0] / 5 and errors[2] < errors[1] / 5  # relative error is O(scale)
    far = moved(model, direction, 1.0)
    assert ntk_fsd(far, [summary], metric="l2_logit").item() != pytest.approx(
        true_fsd(far, model, data, metric="l2_logit").item(), rel=1e-2)  # linearized, not the network


def test_ntk_of_a_model_linear_in_its_parameters_is_exact():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3)).double()
    data = tiny_data(n=20)
    summary = ntk_summarize(model, data, coreset_size=20)
    current = moved(model, random_direction(model), 2.0)
    assert ntk_fsd(current, [summary], metric="kl").item() == pytest.approx(
        true_fsd(current, model, data, metric="kl").item(), rel=1e-10)


@pytest.mark.parametrize("fisher", ["empirical", "true"])
def test_fisher_quadratic_matches_a_hand_computation_for_softmax_regression(fisher):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4)).double()
    x, y = tiny_data(n=12, dim=3, classes=(1, 3))
    units = [1, 3]
    summary = fisher_summarize(model, (x, y), fisher=fisher, output_units=units)
    # log p_c = (W x + b)[O] log-softmaxed: ∂/∂(W[O], b[O]) = (e_c − p) xᵀ and (e_c − p); 0 elsewhere
    weight, bias = model[0].weight.detach(), model[0].bias.detach()
    probs = (x @ weight[units].T + bias[units]).softmax(-1)
    f_weight, f_bias = torch.zeros_like(weight), torch.zeros_like(bias)
    for n in range(x.shape[0]):
        classes = [(1.0, units.index(int(y[n])))] if fisher == "empirical" else [(probs[n, c], c) for c in range(2)]
        for w, c in classes:
            residual = torch.nn.functional.one_hot(torch.tensor(c), 2).double() - probs[n]
            f_weight[units] += w * torch.outer(residual, x[n]).pow(2)
            f_bias[units] += w * residual.pow(2)
    f_weight, f_bias = f_weight / x.shape[0], f_bias / x.shape[0]
    torch.testing.assert_close(summary.diagonal["0.weight"], f_weight)
    torch.testing.assert_close(summary.diagonal["0.bias"], f_bias)
    delta_w, delta_b = 0.1 * torch.randn_like(weight), 0.1 * torch.randn_like(bias)
    current = copy.deepcopy(model)
    with torch.no_grad():
        current[0].weight += delta_w
        current[0].bias += delta_b
    by_hand = 0.5 * ((f_weight * delta_w**2).sum() + (f_bias * delta_b**2).sum())
    assert fisher_fsd(current, [summary]).item() == pytest.approx(by_hand.item(), rel=1e-12)


def test_fisher_of_a_hidden_layer_net_equals_a_per_example_autograd_loop():
    model, (x, y) = tiny_mlp(), tiny_data(n=10)
    summary = fisher_summarize(model, (x, y), fisher="true", output_units=HEAD, batch_size=3)
    expected = [torch.zeros_like(p) for p in model.parameters()]
    for n in range(x.shape[0]):
        log_probs = model(x[n:n + 1])[0, HEAD].log_softmax(-1)
        for c in range(2):
            grads = torch.autograd.grad(log_probs[c], list(model.parameters()), retain_graph=True)
            for e, g in zip(expected, grads):
                e += log_probs[c].exp().detach() * g.pow(2) / x.shape[0]
    for (name, _), e in zip(model.named_parameters(), expected):
        torch.testing.assert_close(summary.diagonal[name], e)


def test_true_fisher_quadratic_is_the_second_order_kl():
    model, data = tiny_mlp(), tiny_data(n=20)
    summary = fisher_summarize(model, data, fisher="true", output_units=HEAD)
    # along one coordinate the diagonal quadratic is the full second-order term of the KL FSD
    name, index, step = "3.weight", (1, 2), 1e-3
    current = copy.deepcopy(model)
    with torch.no_grad():
        dict(current.named_parameters())[name][index] += step
    kl = true_fsd(current, model, data, metric="kl", output_units=HEAD).item()
    assert fisher_fsd(current, [summary]).item() == pytest.approx(kl, rel=1e-2)


@pytest.mark.parametrize("kind", KINDS)
def test_several_tasks_average_and_reduce(kind):
    model = tiny_mlp()
    summaries = [_summarize(kind, model, tiny_data(seed=1, classes=(0, 1)), [0, 1]),
                 _summarize(kind, model, tiny_data(seed=2, classes=(2, 3)), [2, 3])]
    current = moved(model, random_direction(model), 0.3)
    per_task = _estimate(kind, current, summaries, reduction="none")
    assert per_task.shape == (2,)
    singles = torch.stack([_estimate(kind, current, [s]) for s in summaries])
    torch.testing.assert_close(per_task, singles)
    torch.testing.assert_close(_estimate(kind, current, summaries), singles.mean())


@pytest.mark.parametrize("cls, kind", [(CoresetSummary, "coreset"), (NtkSummary, "ntk"), (FisherSummary, "fisher_true")])
def test_state_dict_round_trip_and_sizes(cls, kind):
    model, data = tiny_mlp(), tiny_data()
    summary = _summarize(kind, model, data)
    restored = cls.from_state_dict(copy.deepcopy(summary.state_dict()))
    current = moved(model, random_direction(model), 0.3)
    assert torch.equal(_estimate(kind, current, [restored]), _estimate(kind, current, [summary]))
    sizes = summary.nbytes()
    assert sizes["total"] == sum(v for k, v in sizes.items() if k != "total")
    parameters = sum(p.numel() for p in model.parameters()) * 8
    expected = {"coreset": 15 * 6 * 8 + 15 * 2 * 8 + 2 * 8,
                "ntk": 15 * 6 * 8 + parameters + 2 * 8,
                "fisher_true": 2 * parameters}[kind]
    assert sizes["total"] == expected


def test_errors_name_the_setting():
    model, data = tiny_mlp(), tiny_data(classes=(0, 5))
    with pytest.raises(ValueError, match="coreset_size"):
        coreset_summarize(model, data, coreset_size=0)
    with pytest.raises(ValueError, match="fisher="):
        fisher_summarize(model, data, fisher="exact")
    with pytest.raises(ValueError, match=r"labels \[5\] outside"):
        fisher_summarize(model, data, fisher="empirical", output_units=HEAD)
    with pytest.raises(ValueError, match="reduction"):
        coreset_fsd(model, [_summarize("coreset", model, data)], reduction="max")
    with pytest.raises(ValueError, match="another architecture"):
        ntk_fsd(tiny_mlp(sizes=(6, 7, 5, 4)), [_summarize("ntk", model, data)])


def _tiny_vit_and_images(n: int = 12) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """The project's ViT (``nn.MultiheadAttention`` blocks) on 8×8 images, float32: the dtype for which
    PyTorch's fused attention kernels run in eval mode."""
    torch.manual_seed(0)
    model = ViT(1, 64, 3, patch_size=4, width=8, depth=2, heads=2)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 8, 8, generator=generator)
    return model, (x, torch.randint(2, (n,), generator=generator))


def test_ntk_runs_through_multihead_attention_and_equals_the_true_discrepancy_to_first_order():
    model, data = _tiny_vit_and_images()
    summary = ntk_summarize(model, data, coreset_size=12)
    assert ntk_fsd(model, [summary], metric="l2_logit").item() == 0.0
    direction = random_direction(model)
    errors = []
    for scale in (1e-2, 1e-3):
        current = moved(model, direction, scale)
        truth = true_fsd(current, model, data, metric="l2_logit").item()
        value = ntk_fsd(current, [summary], metric="l2_logit")
        assert torch.isfinite(value) and value.item() > 0
        errors.append(abs(value.item() - truth) / truth)
    assert errors[1] < 0.05 and errors[1] < errors[0]  # relative error O(scale), up to float32 rounding
    assert torch.backends.mha.get_fastpath_enabled()  # the setting is restored


@pytest.mark.parametrize("fisher", ["empirical", "true"])
def test_fisher_runs_through_multihead_attention(fisher):
    model, data = _tiny_vit_and_images()
    summary = fisher_summarize(model, data, fisher=fisher, output_units=HEAD, batch_size=5)
    assert all(torch.isfinite(d).all() for d in summary.diagonal.values())
    assert summary.diagonal["blocks.0.attn.in_proj_weight"].abs().sum() > 0
    assert fisher_fsd(model, [summary]).item() == 0.0
    assert fisher_fsd(moved(model, random_direction(model), 1e-2), [summary]).item() > 0
