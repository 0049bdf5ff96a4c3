"""docs/method.md, "What the tests check", 6 (batched over T = sum of single-task calls, same draws),
anchor="latest", the bank, and 7 (a slow per-example loop agrees with the fast code)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from laftr_cl.fsd import SummaryBank, fsd, metrics, summarize


def make_summaries(lib, net, *, inputs="full", shape=(6,), classes=(3, 3, 3), classwise=True, seed=0):
    out = []
    for t, num_classes in enumerate(classes):
        x, y = lib.task_data(shape=shape, classes=num_classes, seed=seed + t)
        out.append(
            summarize(
                net, (x, y), inputs=inputs, rank=2, coreset_size=12, classwise=classwise,
                output_units=[2, 0] if t % 2 == 0 else [0, 1, 2],  # 2 or 3 units: padding is exercised
                generator=torch.Generator().manual_seed(t),
            )
        )
    return out


CASES = [
    ("mlp", "bernoulli", "full", "per_input"),
    ("mlp", "relu", "coreset", "per_input"),
    ("mlp", "bernoulli", "lowrank", "per_step"),
    ("cnn", "bernoulli", "diag", "per_input"),
    ("cnn", "relu", "coreset", "per_step"),
]


def _net(lib, kind):
    if kind == "mlp":
        return lib.make_mlp(dropout=0.3), (6,)
    return lib.make_cnn(dropout=0.3), (1, 8, 8)


# ---------------------------------------------------------------- 6. batched = sum of singles
@pytest.mark.parametrize("kind, estimator, inputs, gate_draws", CASES)
def test_batched_equals_sum_of_single_task_calls(lib, kind, estimator, inputs, gate_draws):
    net, shape = _net(lib, kind)
    sums = make_summaries(lib, net, inputs=inputs, shape=shape)
    moved = lib.perturb(net)
    options = dict(estimator=estimator, metric="kl", gate_draws=gate_draws, same_dropout=True, num_samples=12)
    recorder = lib.RecordingNoise(seed=3)
    batched = fsd(moved, sums, generator=recorder, reduction="none", **options)
    singles = torch.stack(
        [
            fsd(moved, [s], generator=lib.ReplayNoise(recorder.draws, lambda d, t=t: d[t : t + 1]), **options)
            for t, s in enumerate(sums)
        ]
    )
    assert batched.shape == (3,) and (batched > 0).all()
    torch.testing.assert_close(batched, singles, rtol=1e-10, atol=1e-14)
    replay = lib.ReplayNoise(recorder.draws, lambda d: d)
    torch.testing.assert_close(fsd(moved, sums, generator=replay, reduction="sum", **options), singles.sum())


def test_batched_with_unequal_class_counts_pads_with_zero_weight(lib):
    net, shape = _net(lib, "mlp")
    sums = make_summaries(lib, net, inputs="diag", classes=(2, 3))
    moved = lib.perturb(net)
    recorder = lib.RecordingNoise(seed=4)
    batched = fsd(moved, sums, generator=recorder, reduction="none", num_samples=30)  # 10 draws per class
    singles = [
        fsd(moved, [s], num_samples=10 * s.num_components,
            generator=lib.ReplayNoise(recorder.draws, lambda d, t=t, c=s.num_components: d[t : t + 1, :c]))
        for t, s in enumerate(sums)
    ]
    torch.testing.assert_close(batched, torch.stack(singles), rtol=1e-10, atol=1e-14)


def test_exact_batched_equals_single(lib):
    net, _ = _net(lib, "mlp")
    sums = make_summaries(lib, net, inputs="lowrank", classes=(2, 3, 1))
    moved = lib.perturb(net)
    batched = fsd(moved, sums, estimator="exact", metric="l2_logit", reduction="none")
    singles = torch.stack([fsd(moved, [s], estimator="exact", metric="l2_logit") for s in sums])
    torch.testing.assert_close(batched, singles, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(fsd(moved, sums, estimator="exact", metric="l2_logit"), singles.mean())


@pytest.mark.parametrize("anchor", ["per_task", "latest"])
def test_class_weights_uniform_and_frequency(lib, anchor):
    """A classwise task's FSD is the uniform (or example-weighted) mean of its classes' FSDs."""
    net, _ = _net(lib, "mlp")
    x, y = lib.task_data(n=40, classes=2)
    x, y = torch.cat([x, x[y == 1][:10]]), torch.cat([y, y[y == 1][:10]])  # 20 and 30 examples
    classwise = summarize(net, (x, y), inputs="full", classwise=True)
    per_class = [summarize(net, (x[y == c], y[y == c]), inputs="full") for c in (0, 1)]
    moved = lib.perturb(net)
    options = dict(estimator="exact", metric="l2_logit", anchor=anchor)
    classes = torch.stack([fsd(moved, [s], **options) for s in per_class])
    torch.testing.assert_close(fsd(moved, [classwise], **options), classes.mean())
    torch.testing.assert_close(
        fsd(moved, [classwise], class_weights="frequency", **options), (0.4 * classes[0] + 0.6 * classes[1])
    )


def test_classwise_splits_samples_evenly_over_classes(lib):
    net, _ = _net(lib, "mlp")
    sums = make_summaries(lib, net, inputs="diag", classes=(2, 2))
    recorder = lib.RecordingNoise()
    fsd(net, sums, generator=recorder, num_samples=40)
    kind, first = recorder.draws[0]
    assert kind == "normal" and tuple(first.shape) == (2, 2, 20, 6)  # [T, classes, S / classes, d]


# ---------------------------------------------------------------- anchor="latest"
def test_latest_anchor_is_zero_at_the_newest_snapshot(lib):
    net, _ = _net(lib, "mlp")
    old = make_summaries(lib, net, classes=(2, 2))
    newest_net = lib.perturb(net, seed=9)
    sums = [s.without_snapshot() for s in old] + make_summaries(lib, newest_net, classes=(2,), seed=5)
    for estimator, metric in [("bernoulli", "l2_prob"), ("relu", "kl"), ("exact", "l2_logit")]:
        latest = fsd(newest_net, sums, anchor="latest", estimator=estimator, metric=metric, reduction="none")
        assert latest.shape == (3,) and latest.abs().max() < 1e-12
    with pytest.raises(ValueError, match="no snapshot"):
        fsd(newest_net, sums, anchor="per_task")


def test_latest_anchor_equals_per_task_against_the_newest_snapshot(lib):
    net, _ = _net(lib, "mlp")
    sums = make_summaries(lib, net, classes=(2, 2, 2))
    newest = lib.perturb(net, seed=2)
    sums[-1] = dataclasses.replace(sums[-1], snapshot={k: v.detach().clone() for k, v in newest.state_dict().items()})
    moved = lib.perturb(net, seed=3)
    recorder = lib.RecordingNoise()
    latest = fsd(moved, sums, anchor="latest", generator=recorder, reduction="none", num_samples=20)
    rebased = [dataclasses.replace(s, snapshot=sums[-1].snapshot) for s in sums]
    per_task = fsd(moved, rebased, generator=lib.ReplayNoise(recorder.draws, lambda d: d.reshape(3, 2, *d.shape[2:])),
                   reduction="none", num_samples=20)
    torch.testing.assert_close(latest, per_task, rtol=1e-10, atol=1e-14)
    exact = [fsd(moved, group, estimator="exact", metric="l2_logit", reduction="none", anchor=anchor)
             for group, anchor in ((sums, "latest"), (rebased, "per_task"))]
    torch.testing.assert_close(exact[0], exact[1])
    bank = SummaryBank(moved, sums, anchor="latest")
    assert bank.num_snapshots == 1 and bank.slots == 6
    assert all(v.shape[0] == 1 for v in bank.reference_params.values())


# ---------------------------------------------------------------- the bank
def test_prebuilt_bank_and_cached_bank_give_the_same_values(lib):
    net, _ = _net(lib, "mlp")
    sums = make_summaries(lib, net)
    moved = lib.perturb(net)
    bank = SummaryBank(moved, sums)
    assert bank.num_snapshots == 3 and bank.slots == 3 and bank.output_units.shape == (3, 3, 3)
    from_list = fsd(moved, sums, generator=torch.Generator().manual_seed(1))
    from_bank = fsd(moved, bank, generator=torch.Generator().manual_seed(1))
    assert torch.equal(from_list, from_bank)
    with pytest.raises(ValueError, match="another model"):
        fsd(net, bank)
    with pytest.raises(ValueError, match="anchor"):
        fsd(moved, bank, anchor="latest")


def test_bank_reads_the_live_parameters(lib):
    net, _ = _net(lib, "mlp")
    sums = make_summaries(lib, net)
    bank = SummaryBank(net, sums)
    assert fsd(net, bank, estimator="exact", metric="l2_logit") == 0
    with torch.no_grad():
        net[1].weight.add_(0.5)
    assert fsd(net, bank, estimator="exact", metric="l2_logit") > 0
    assert fsd(net, sums, estimator="exact", metric="l2_logit") > 0


# ---------------------------------------------------------------- 7. naive per-example loop
def _metric(name):
    return getattr(metrics, name)


@pytest.mark.parametrize("kind, estimator, inputs, gate_draws", CASES)
@pytest.mark.parametrize("metric", ["l2_prob", "kl", "l2_logit"])
def test_fast_code_agrees_with_a_per_example_loop(lib, kind, estimator, inputs, gate_draws, metric):
    net, shape = _net(lib, kind)
    sums = make_summaries(lib, net, inputs=inputs, shape=shape, classes=(2, 2))
    moved = lib.perturb(net)
    recorder = lib.RecordingNoise(seed=11)
    fast = fsd(moved, sums, estimator=estimator, metric=metric, gate_draws=gate_draws, same_dropout=True,
               num_samples=6, generator=recorder, reduction="none")
    with torch.no_grad():
        slow = lib.naive_sampled_fsd(
            moved, sums, recorder.draws, estimator=estimator, metric=_metric(metric), samples_per_slot=3,
            same_dropout=True, per_step=gate_draws == "per_step",
        )
    assert (slow > 0).all()
    torch.testing.assert_close(fast.detach(), slow, rtol=1e-10, atol=1e-14)
