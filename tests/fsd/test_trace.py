"""The traced gated view on networks that are not nn.Sequential: Avalanche's SimpleMLP and MTSimpleMLP
(task-label heads), the project's masked multi-head, a residual BatchNorm CNN (strided 1×1 shortcut,
concatenation, adaptive average pooling), against a slow gated evaluation of the real modules."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from trace_models import make, naive_gated_logits, perturb_all

from laftr_cl.fsd import GatedView, fsd, summarize
from laftr_cl.fsd.metrics import get_metric

MODELS = ["simple_mlp", "mt_simple_mlp", "mt_masked_heads", "masked_heads", "residual_cnn", "residual_cnn_prefix"]
MLPS = ["simple_mlp", "mt_simple_mlp", "mt_masked_heads", "masked_heads"]


def _units(model: nn.Module, task: int):
    return model.output_units(task) if hasattr(model, "output_units") else None


def _task_inputs(shape, task: int, n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(10 + task)
    return torch.randn(n, *shape, generator=g, dtype=torch.float64) + 0.4 * task, torch.arange(n) % 2 + 2 * task


def _summaries(model, shape, tasks, **options):
    options = {"inputs": "diag", **options}
    return [summarize(model, _task_inputs(shape, t), output_units=_units(model, t), task_label=t,
                      generator=torch.Generator().manual_seed(t), **options) for t in range(tasks)]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("metric", ["kl", "l2_logit"])
def test_relu_estimator_equals_the_gated_real_network(name, metric):
    """One stored input per task: the relu estimator is ρ between the reference network and the current
    one run with the reference's gates and BatchNorm statistics (every parameter and statistic moved)."""
    reference, shape, tasks = make(name)
    points = [_task_inputs(shape, t, n=1) for t in range(tasks)]
    summaries = [summarize(reference, points[t], inputs="coreset", coreset_size=1, output_units=_units(reference, t),
                           task_label=t) for t in range(tasks)]
    current = perturb_all(reference)
    got = fsd(current, summaries, estimator="relu", metric=metric, num_samples=1, reduction="none")
    rho = get_metric(metric)
    want = []
    for t, (x, _) in enumerate(points):
        ref_logits, cur_logits = naive_gated_logits(current, reference, x, t)
        units = _units(reference, t)
        if units is not None:
            ref_logits, cur_logits = ref_logits[:, units], cur_logits[:, units]
        want.append(rho(ref_logits, cur_logits)[0])
    assert (got > 0).all()
    torch.testing.assert_close(got, torch.stack(want), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("estimator", ["bernoulli", "relu"])
def test_zero_at_reference_and_gradient_away_from_it(name, estimator):
    model, shape, tasks = make(name)
    summaries = _summaries(model, shape, tasks, inputs="full" if name in MLPS else "diag", classwise=True)
    at_reference = fsd(model, summaries, estimator=estimator, metric="kl", reduction="none")
    torch.testing.assert_close(at_reference, torch.zeros(tasks, dtype=torch.float64), atol=1e-12, rtol=0)
    moved = perturb_all(model)
    value = fsd(moved, summaries, estimator=estimator, metric="l2_prob", generator=torch.Generator().manual_seed(0))
    value.backward()
    grads = {n: p.grad for n, p in moved.named_parameters()}
    assert value > 0 and all(torch.isfinite(g).all() for g in grads.values() if g is not None)
    assert all(g is not None and g.abs().sum() > 0 for n, g in grads.items() if "classifiers" not in n)
    if name.startswith("mt_"):  # every task's head gets its own task's gradient
        assert all(grads[f"classifier.classifiers.{t}.classifier.weight"].abs().sum() > 0 for t in range(tasks))


@pytest.mark.parametrize("name", MLPS)
def test_exact_equals_bernoulli_mean_on_traced_mlps(name):
    model, shape, tasks = make(name)
    view = GatedView(model, shape, list(range(tasks)))
    assert view.mlp_error() is None
    summaries = _summaries(model, shape, tasks, inputs="full")
    moved = perturb_all(model, scale=0.3)
    exact = fsd(moved, summaries, estimator="exact", metric="l2_logit", reduction="none").detach()
    g = torch.Generator().manual_seed(0)
    values = torch.stack([fsd(moved, summaries, estimator="bernoulli", metric="l2_logit", num_samples=400,
                              reduction="none", generator=g).detach() for _ in range(100)])
    mean, stderr = values.mean(0), values.std(0) / 100**0.5
    assert (exact > 0).all()
    assert ((exact - mean).abs() < 4 * stderr).all(), (exact, mean, stderr)


def test_heads_of_different_widths_batched_equal_one_task_at_a_time():
    model, shape, tasks = make("mt_masked_heads")
    summaries = _summaries(model, shape, tasks, inputs="full")
    moved = perturb_all(model, scale=0.3)
    batched = fsd(moved, summaries, estimator="exact", metric="l2_logit", reduction="none")
    single = torch.stack([fsd(moved, [s], estimator="exact", metric="l2_logit") for s in summaries])
    torch.testing.assert_close(batched, single)


def test_exact_names_why_a_residual_cnn_is_not_an_mlp():
    model, shape, tasks = make("residual_cnn")
    summaries = _summaries(model, shape, tasks)
    with pytest.raises(ValueError, match="supports MLPs only .*this network is not one: op 'stem.0' is a Conv"):
        fsd(model, summaries, estimator="exact", metric="l2_logit")


def test_summaries_record_task_labels_and_heads():
    model, shape, _ = make("mt_simple_mlp")
    summaries = _summaries(model, shape, 3)
    assert [s.task_label for s in summaries] == [0, 1, 2]
    assert "classifier.classifiers.2.classifier.weight" in summaries[0].snapshot  # every head, for anchor=latest
    view = GatedView(model, shape, [2, 0])
    assert view.task_labels == (0, 2) and view.output_widths == (2, 2) and view.num_outputs == 2
    one_task = fsd(model, summaries[1:2], reduction="none")
    assert one_task.shape == (1,)
    moved = perturb_all(model)
    latest = fsd(moved, [s.without_snapshot() for s in summaries[:2]] + summaries[2:], anchor="latest",
                 estimator="relu", reduction="none")
    assert latest.shape == (3,) and (latest > 0).all()


def test_per_channel_rates_are_channel_means_and_broadcast():
    model, shape, tasks = make("residual_cnn")
    per_unit = _summaries(model, shape, tasks)
    per_channel = _summaries(model, shape, tasks, rates="per_channel")
    for a, b in zip(per_unit[0].firing_rates, per_channel[0].firing_rates):
        assert b.shape == (*a.shape[:2], 1, 1)
        torch.testing.assert_close(b, a.mean(dim=(2, 3), keepdim=True))
    assert per_channel[0].nbytes()["rates"] < per_unit[0].nbytes()["rates"] / 5
    expanded = [type(s)(**{**vars(s), "firing_rates": tuple(r.expand_as(u) for r, u in zip(s.firing_rates, p.firing_rates))})
                for s, p in zip(per_channel, per_unit)]
    moved = perturb_all(model)
    got = fsd(moved, per_channel, generator=torch.Generator().manual_seed(4), reduction="none")
    want = fsd(moved, expanded, generator=torch.Generator().manual_seed(4), reduction="none")
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="rates='per_pixel'.*per_unit, per_channel"):
        summarize(model, _task_inputs(shape, 0), rates="per_pixel")


def test_traced_model_is_left_as_it_was():
    model, shape, tasks = make("masked_heads")
    before = set(vars(model)), [m.training for m in model.modules()]
    _summaries(model, shape, tasks)
    assert (set(vars(model)), [m.training for m in model.modules()]) == before


def test_task_label_comes_from_avalanche_style_batches_or_is_demanded():
    model, shape, _ = make("masked_heads")
    x, y = _task_inputs(shape, 1)
    batches = [(x[:15], y[:15], torch.ones(15, dtype=torch.long)), (x[15:], y[15:], torch.ones(15, dtype=torch.long))]
    from_batches = summarize(model, batches, inputs="diag", output_units=[2, 3])
    explicit = summarize(model, (x, y), inputs="diag", output_units=[2, 3], task_label=1)
    assert from_batches.task_label == explicit.task_label == 1
    with pytest.raises(ValueError, match=r"head of task label 0 masks some of output_units=\[2, 3\].*task_label="):
        summarize(model, (x, y), inputs="diag", output_units=[2, 3])
    with pytest.raises(ValueError, match="several task labels"):
        summarize(model, [batches[0], (x, y, torch.zeros(30, dtype=torch.long))], inputs="diag")
