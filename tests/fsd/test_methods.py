"""The FSD-method interface: every method built by name, summaries sized by part and restored
exactly, estimates equal to the functions they wrap, zero at θ_t."""
import copy

import pytest
import torch

from helpers import tiny_mlp
from laftr_cl.fsd import fsd, summarize
from laftr_cl.fsd.baselines import coreset_fsd, coreset_summarize, fisher_fsd, fisher_summarize
from laftr_cl.fsd.methods import FSD_METHODS, FsdMethod, fsd_method, summed_bytes

OPTIONS = {"laftr": {"inputs": "coreset", "coreset_size": 7, "num_samples": 12}, "coreset": {"coreset_size": 7},
           "ntk": {"coreset_size": 7}, "fisher": {"fisher": "true"},
           "liftr": {"mode": "stochastic", "covariance": "diag", "num_samples": 12}}
HEAD = [0, 1]


def _data(n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(2, (n,), generator=g)


def _moved(model, scale=0.3):
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            p.add_(scale * torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=p.dtype))
    return out


def test_registry_has_every_method_and_names_the_choices():
    assert FSD_METHODS.names() == sorted(OPTIONS)
    with pytest.raises(ValueError, match="Unknown fsd method='ewc'.*coreset, fisher, laftr, liftr, ntk"):
        fsd_method("ewc")


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_method_summarizes_estimates_and_restores_its_summaries(name):
    method = fsd_method(name, **OPTIONS[name])
    assert isinstance(method, FsdMethod) and method.name == name
    model = tiny_mlp()
    summary = method.summarize(model, _data(), output_units=HEAD, generator=torch.Generator().manual_seed(0))
    parts = summary.nbytes()
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total") > 0
    assert summed_bytes([summary, summary])["total"] == 2 * parts["total"]
    assert method.stored_numbers(summary) > 0
    assert ("snapshot" in parts and parts["snapshot"] > 0) == method.keeps_snapshot

    at_reference = method.estimate(model, method.prepare(model, [summary]), generator=torch.Generator().manual_seed(1))
    assert at_reference.abs().item() < 1e-10  # FSD_t(θ_t) = 0
    away = _moved(model)
    prepared = method.prepare(away, [summary, summary])
    value = method.estimate(away, prepared, generator=torch.Generator().manual_seed(1), reduction="none")
    assert value.shape == (2,) and bool((value > 0).all())

    restored = method.load_summary(summary.state_dict())
    again = method.estimate(away, method.prepare(away, [restored, restored]), generator=torch.Generator().manual_seed(1),
                            reduction="none")
    assert torch.equal(again, value)
    method.check(away, [restored])


def test_laftr_method_is_summarize_and_fsd_with_its_options():
    model, data = tiny_mlp(), _data()
    method = fsd_method("laftr", inputs="diag", estimator="relu", metric="kl", num_samples=9)
    summary = method.summarize(model, data, output_units=HEAD)
    direct = summarize(model, data, inputs="diag", output_units=HEAD)
    assert all(torch.equal(a, b) for a, b in zip(summary.firing_rates, direct.firing_rates))
    away = _moved(model)
    got = method.estimate(away, method.prepare(away, [summary]), generator=torch.Generator().manual_seed(3))
    want = fsd(away, [direct], estimator="relu", metric="kl", num_samples=9, generator=torch.Generator().manual_seed(3))
    assert torch.equal(got, want)


def test_baseline_methods_are_their_function_pairs():
    model, data, away = tiny_mlp(), _data(), _moved(tiny_mlp())
    coreset = fsd_method("coreset", coreset_size=5, metric="kl")
    summary = coreset.summarize(model, data, output_units=HEAD, generator=torch.Generator().manual_seed(0))
    direct = coreset_summarize(model, data, coreset_size=5, output_units=HEAD, generator=torch.Generator().manual_seed(0))
    assert torch.equal(summary.points, direct.points)
    assert torch.equal(coreset.estimate(away, [summary]), coreset_fsd(away, [direct], metric="kl"))
    fisher = fsd_method("fisher", fisher="empirical")
    assert fisher.metric == "kl" and fisher.keeps_snapshot and not coreset.keeps_snapshot
    summary = fisher.summarize(model, data, output_units=HEAD)
    direct = fisher_summarize(model, data, fisher="empirical", output_units=HEAD)
    assert torch.equal(fisher.estimate(away, [summary]), fisher_fsd(away, [direct]))


def test_laftr_latest_anchor_keeps_only_the_newest_snapshot():
    model, data = tiny_mlp(), _data()
    method = fsd_method("laftr", anchor="latest")
    earlier = {0: method.summarize(model, data)}
    kept = method.retain(earlier)
    assert kept[0].snapshot is None and earlier[0].snapshot is not None
    assert fsd_method("laftr").retain(earlier) is earlier
