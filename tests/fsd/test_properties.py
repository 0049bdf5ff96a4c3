"""The properties of docs/method.md, "What the tests check" (1–5), across estimators, input models,
metrics and architectures."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from laftr_cl.fsd import SummaryBank, fsd, summarize

INPUTS = ["full", "diag", "lowrank", "coreset"]
METRICS = ["l2_prob", "kl", "l2_logit"]


def summaries_for(lib, net, inputs, *, classwise=False, shape=(6,), tasks=2):
    """One summary per task, tasks with different data and output units."""
    out = []
    for t in range(tasks):
        x, y = lib.task_data(shape=shape, seed=10 + t)
        out.append(
            summarize(
                net, (x, y), inputs=inputs, rank=2, coreset_size=15, classwise=classwise,
                output_units=[t % 3, (t + 1) % 3], generator=torch.Generator().manual_seed(t),
            )
        )
    return out


# ---------------------------------------------------------------- 1. FSD_t(θ_t) = 0
SAMPLED_CASES = [
    (est, inputs, metric, classwise)
    for est, inputs, metric, classwise in itertools.product(["bernoulli", "relu"], INPUTS, METRICS, [False, True])
]


@pytest.mark.parametrize("estimator, inputs, metric, classwise", SAMPLED_CASES)
def test_zero_at_reference_sampled_mlp(lib, estimator, inputs, metric, classwise):
    net = lib.make_mlp(dropout=0.3)
    sums = summaries_for(lib, net, inputs, classwise=classwise)
    value = fsd(net, sums, estimator=estimator, metric=metric, same_dropout=True, reduction="none",
                generator=torch.Generator().manual_seed(0))
    assert value.shape == (2,)
    assert value.abs().max() < 1e-12


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("classwise", [False, True])
def test_zero_at_reference_exact(lib, inputs, classwise):
    net = lib.make_mlp()
    sums = summaries_for(lib, net, inputs, classwise=classwise)
    assert fsd(net, sums, estimator="exact", metric="l2_logit", reduction="none").abs().max() == 0


@pytest.mark.parametrize("estimator", ["bernoulli", "relu"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("inputs", ["diag", "coreset"])
def test_zero_at_reference_cnn(lib, estimator, metric, inputs):
    net = lib.make_cnn(dropout=0.25)
    sums = summaries_for(lib, net, inputs, shape=(1, 8, 8))
    value = fsd(net, sums, estimator=estimator, metric=metric, same_dropout=True, reduction="none")
    assert value.abs().max() < 1e-12


def test_positive_away_from_reference(lib):
    net = lib.make_mlp()
    sums = summaries_for(lib, net, "full")
    moved = lib.perturb(net)
    for estimator, metric in [("bernoulli", "l2_prob"), ("relu", "kl"), ("exact", "l2_logit")]:
        assert (fsd(moved, sums, estimator=estimator, metric=metric, reduction="none") > 1e-6).all()


# ---------------------------------------------------------------- 2. no ReLU: closed form
def _covariance(inputs, x):
    """The covariance each input model stands for, computed independently of the code under test."""
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    cov = torch.cov(x.T)
    if inputs == "full":
        return cov + 1e-4 * eye
    if inputs == "diag":
        return torch.diag(cov.diagonal() + 1e-4)
    values, vectors = torch.linalg.eigh(cov)
    top = vectors[:, -2:] * values[-2:].sqrt()
    return top @ top.T + torch.diag((cov.diagonal() - (top**2).sum(1)).clamp_min(0) + 1e-4)


@pytest.mark.parametrize("inputs", ["full", "diag", "lowrank", "coreset"])
@pytest.mark.parametrize("depth, bias", [(1, True), (2, True), (2, False)])
def test_exact_without_relu_is_the_gaussian_closed_form(lib, inputs, depth, bias):
    torch.manual_seed(0)
    layers = [nn.Linear(5, 4, bias=bias)] + ([nn.Linear(4, 3, bias=bias)] if depth == 2 else [])
    net = nn.Sequential(*layers).double()
    x, y = lib.task_data(n=80, shape=(5,))
    summary = summarize(net, (x, y), inputs=inputs, rank=2, coreset_size=30)
    moved = lib.perturb(net, scale=0.3)

    def affine(model):  # the whole network as W x + b
        eye = torch.eye(5, dtype=torch.float64)
        with torch.no_grad():
            b = model(torch.zeros(1, 5, dtype=torch.float64))[0]
            return model(eye).T - b[:, None], b

    (w_t, b_t), (w, b) = affine(net), affine(moved)
    if inputs == "coreset":
        points = summary.inputs.points[0]
        mu, sigma = points.mean(0), torch.cov(points.T, correction=0)
    else:
        mu, sigma = x.mean(0), _covariance(inputs, x)
    dw, db = w - w_t, b - b_t
    expected = 0.5 * ((dw @ mu + db).pow(2).sum() + torch.trace(dw @ sigma @ dw.T))
    got = fsd(moved, [summary], estimator="exact", metric="l2_logit")
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- 3. exact = E[bernoulli]
def _monte_carlo(model, sums, repeats, **options):
    g = torch.Generator().manual_seed(123)
    values = torch.stack(
        [fsd(model, sums, estimator="bernoulli", metric="l2_logit", reduction="none", generator=g, **options).detach()
         for _ in range(repeats)]
    )
    return values.mean(0), values.std(0) / repeats**0.5


@pytest.mark.parametrize(
    "inputs, classwise, gate_draws, same_dropout",
    [
        ("full", False, "per_input", False),
        ("diag", True, "per_input", False),
        ("lowrank", False, "per_step", False),
        ("coreset", True, "per_input", False),
        ("full", False, "per_input", True),
        ("coreset", False, "per_step", True),
    ],
)
def test_exact_equals_bernoulli_mean(lib, inputs, classwise, gate_draws, same_dropout):
    net = lib.make_mlp(dropout=0.3 if same_dropout else 0.0)
    sums = summaries_for(lib, net, inputs, classwise=classwise)
    moved = lib.perturb(net, scale=0.3)
    exact = fsd(moved, sums, estimator="exact", metric="l2_logit", reduction="none", same_dropout=same_dropout).detach()
    mean, stderr = _monte_carlo(moved, sums, 200, num_samples=600, gate_draws=gate_draws, same_dropout=same_dropout)
    assert (exact > 0).all()
    assert ((exact - mean).abs() < 4 * stderr).all(), (exact, mean, stderr)


def test_exact_equals_enumeration_of_gate_patterns(lib):
    """Brute force: for each of the 2^4 gate patterns the network is affine, E[ρ] is the Gaussian closed form."""
    net = lib.make_mlp(sizes=(3, 2, 2, 2))
    x, y = lib.task_data(n=50, shape=(3,))
    summary = summarize(net, (x, y), inputs="full")
    moved = lib.perturb(net, scale=0.4)
    rates = torch.cat([r[0] for r in summary.firing_rates])
    mu, sigma = summary.inputs.loc[0], summary.inputs.scale_tril[0] @ summary.inputs.scale_tril[0].T
    assert ((rates > 0) & (rates < 1)).any()

    def gated_affine(model, params, z):
        w1, b1, w2, b2, w3, b3 = params
        d1, d2 = torch.diag(z[:2]), torch.diag(z[2:])
        w = w3 @ d2 @ w2 @ d1 @ w1
        b = w3 @ d2 @ (w2 @ d1 @ b1 + b2) + b3
        return w, b

    snapshot = [summary.snapshot[k] for k in ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]]
    current = [p.detach() for p in moved.parameters()]
    expected = torch.zeros((), dtype=torch.float64)
    for pattern in itertools.product([0.0, 1.0], repeat=4):
        z = torch.tensor(pattern, dtype=torch.float64)
        probability = torch.prod(torch.where(z > 0, rates, 1 - rates))
        (w_t, b_t), (w, b) = gated_affine(net, snapshot, z), gated_affine(moved, current, z)
        dw, db = w - w_t, b - b_t
        expected += probability * 0.5 * ((dw @ mu + db).pow(2).sum() + torch.trace(dw @ sigma @ dw.T))
    got = fsd(moved, [summary], estimator="exact", metric="l2_logit")
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- 4. {0,1} rates: relu = bernoulli
def _saturated_net():
    """A 3-4-3-2 MLP whose hidden pattern is fixed for |x| ≤ 3: big biases ±10, small weights."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    with torch.no_grad():
        net[0].weight.mul_(0.1)
        net[0].bias.copy_(torch.tensor([10.0, -10.0, 10.0, -10.0]))
        net[2].weight.mul_(0.1)
        net[2].bias.copy_(torch.tensor([10.0, 10.0, -10.0]))
    return net


@pytest.mark.parametrize("inputs", ["coreset", "diag"])
@pytest.mark.parametrize("gate_draws", ["per_input", "per_step"])
@pytest.mark.parametrize("metric", METRICS)
def test_relu_equals_bernoulli_when_rates_are_binary(inputs, gate_draws, metric):
    net = _saturated_net()
    x = torch.rand(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    summary = summarize(net, (x, torch.zeros(40)), inputs=inputs, coreset_size=20)
    for rates in summary.firing_rates:
        assert set(rates.unique().tolist()) == {0.0, 1.0}
    moved = _saturated_net()
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(0.3 * torch.randn_like(p))
    values = [
        fsd(moved, [summary], estimator=est, metric=metric, gate_draws=gate_draws,
            generator=torch.Generator().manual_seed(7))
        for est in ("relu", "bernoulli")
    ]
    assert values[0] > 0
    torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=0)


# ---------------------------------------------------------------- 5. gradients
@pytest.mark.parametrize(
    "estimator, metric, model",
    [(e, m, "mlp") for e in ("bernoulli", "relu") for m in METRICS]
    + [("exact", "l2_logit", "mlp"), ("bernoulli", "kl", "cnn"), ("relu", "l2_prob", "cnn")],
)
def test_gradient_finite_nonzero_and_summary_gets_none(lib, estimator, metric, model):
    shape = (6,) if model == "mlp" else (1, 8, 8)
    net = lib.make_mlp() if model == "mlp" else lib.make_cnn()
    sums = summaries_for(lib, net, "full", shape=shape, classwise=True)
    moved = lib.perturb(net)
    value = fsd(moved, sums, estimator=estimator, metric=metric, generator=torch.Generator().manual_seed(0))
    value.backward()
    grads = [p.grad for p in moved.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    for s in sums:
        tensors = list(s.snapshot.values()) + list(s.firing_rates) + list(s.inputs.tensors().values())
        assert all(not t.requires_grad and t.grad is None for t in tensors)


def test_gradient_zero_at_reference(lib):
    net = lib.make_mlp()
    sums = summaries_for(lib, net, "diag")
    fsd(net, sums, estimator="exact", metric="l2_logit").backward()
    assert all(p.grad.abs().max() == 0 for p in net.parameters())


@pytest.mark.parametrize("inputs, same_dropout", [("full", False), ("coreset", True)])
def test_exact_keeps_its_reference_side_per_bank_as_the_weights_move(lib, inputs, same_dropout):
    """``exact`` computes the reference moments once per bank: after the current weights change, the
    same bank still gives what a freshly built bank gives, and the gradient still flows."""
    net = lib.make_mlp(dropout=0.3 if same_dropout else 0.0)
    sums = summaries_for(lib, net, inputs)
    bank = SummaryBank(net, sums)
    options = dict(estimator="exact", metric="l2_logit", reduction="none", same_dropout=same_dropout)
    assert fsd(net, bank, **options).abs().max() == 0
    assert list(bank.estimator_cache) == [("exact", same_dropout)]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    reused = fsd(net, bank, **options)
    torch.testing.assert_close(reused, fsd(net, SummaryBank(net, sums), **options))
    assert (reused > 0).all()
    reused.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
