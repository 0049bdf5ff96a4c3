"""Bad options and unsupported networks give clear errors that name the setting and the fix."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from laftr_cl.fsd import fsd, summarize


@pytest.fixture
def mlp_and_summary(lib):
    net = lib.make_mlp()
    return net, summarize(net, lib.task_data(), inputs="diag")


@pytest.mark.parametrize(
    "layer, name",
    [(nn.Hardtanh(), "nn.Hardtanh"), (nn.Mish(), "nn.Mish"), (nn.GroupNorm(1, 5), "nn.GroupNorm")],
)
def test_unsupported_layer_is_named_with_its_module_path(lib, layer, name):
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), layer, nn.Linear(5, 3)).double()
    with pytest.raises(ValueError, match=rf"LAFTR cannot linearize {name} in '2'\. Its gated view is built from Linear"):
        summarize(net, lib.task_data(), inputs="diag")


def test_batchnorm_without_running_statistics_is_rejected(lib):
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.ReLU(), nn.Flatten(),
                        nn.Linear(72, 2)).double()
    with pytest.raises(ValueError, match=r"nn.BatchNorm2d in '1': track_running_stats=False"):
        summarize(net, lib.task_data(shape=(1, 8, 8)), inputs="diag")


def test_network_must_keep_the_batch_and_output_logits(lib):
    with pytest.raises(ValueError, match="batch dimension"):
        summarize(nn.Sequential(nn.Flatten(0), nn.Linear(6, 3)), lib.task_data(), inputs="diag")
    with pytest.raises(ValueError, match=r"output logits \[B, outputs\]; it outputs \[B, 2, 6, 6\]"):
        summarize(nn.Sequential(nn.Conv2d(1, 2, 3)).double(), lib.task_data(shape=(1, 8, 8)), inputs="diag")


def test_exact_on_a_cnn(lib):
    net = lib.make_cnn()
    summary = summarize(net, lib.task_data(shape=(1, 8, 8)), inputs="diag")
    with pytest.raises(ValueError, match="estimator=exact supports MLPs only .* Use estimator=bernoulli or relu"):
        fsd(net, [summary], estimator="exact", metric="l2_logit")


def test_exact_needs_l2_logit(mlp_and_summary):
    net, summary = mlp_and_summary
    with pytest.raises(ValueError, match="metric=l2_logit"):
        fsd(net, [summary], estimator="exact", metric="kl")


@pytest.mark.parametrize("size", [0, -3, None, 2.5])
def test_coreset_size_must_be_positive(lib, size):
    with pytest.raises(ValueError, match="coreset_size"):
        summarize(lib.make_mlp(), lib.task_data(), inputs="coreset", coreset_size=size)


@pytest.mark.parametrize("rank, match", [(0, "rank ≥ 1"), (None, "rank ≥ 1"), (7, "d=6")])
def test_lowrank_rank_between_one_and_d(lib, rank, match):
    with pytest.raises(ValueError, match=match):
        summarize(lib.make_mlp(), lib.task_data(), inputs="lowrank", rank=rank)


@pytest.mark.parametrize(
    "setting, value, choices",
    [
        ("estimator", "gauss", "bernoulli, exact, relu"),
        ("metric", "l1", "kl, l2_logit, l2_prob"),
        ("gate_draws", "sometimes", "per_input, per_step"),
        ("reduction", "max", "mean, sum, none"),
        ("anchor", "first", "per_task, latest"),
        ("class_weights", "inverse", "uniform, frequency"),
    ],
)
def test_unknown_fsd_option_lists_the_choices(mlp_and_summary, setting, value, choices):
    net, summary = mlp_and_summary
    with pytest.raises(ValueError, match=f"Unknown {setting}='{value}': choose one of {choices}"):
        fsd(net, [summary], **{setting: value})


def test_unknown_inputs_lists_the_choices(lib):
    with pytest.raises(ValueError, match="Unknown inputs='gmm': choose one of coreset, diag, full, lowrank"):
        summarize(lib.make_mlp(), lib.task_data(), inputs="gmm")


def test_summary_of_another_architecture(lib, mlp_and_summary):
    _, summary = mlp_and_summary
    with pytest.raises(ValueError, match="another architecture"):
        fsd(lib.make_mlp(sizes=(6, 4, 4, 3)), [summary])
    with pytest.raises(ValueError, match="another architecture"):
        fsd(lib.make_mlp(sizes=(7, 5, 4, 3)), [summary])
    wider_output = lib.make_mlp(sizes=(6, 5, 4, 4))
    with pytest.raises(ValueError, match="snapshot .* another architecture"):
        fsd(wider_output, [summary])


def test_mixed_input_models_in_one_call(lib):
    net = lib.make_mlp()
    a = summarize(net, lib.task_data(), inputs="diag")
    b = summarize(net, lib.task_data(), inputs="full")
    with pytest.raises(ValueError, match="same input model"):
        fsd(net, [a, b])


def test_bad_output_units_data_and_sample_counts(lib, mlp_and_summary):
    net, summary = mlp_and_summary
    with pytest.raises(ValueError, match=r"output_units=\[0, 3\] must be distinct indices in \[0, 3\)"):
        summarize(net, lib.task_data(), inputs="diag", output_units=[0, 3])
    with pytest.raises(ValueError, match="empty"):
        summarize(net, (torch.zeros(0, 6, dtype=torch.float64), torch.zeros(0)), inputs="diag")
    with pytest.raises(ValueError, match="num_samples"):
        fsd(net, [summary], num_samples=0)
    with pytest.raises(ValueError, match="non-empty list of TaskSummary"):
        fsd(net, [])
    with pytest.raises(ValueError, match="batch_size"):
        summarize(net, lib.task_data(), inputs="diag", batch_size=0)
