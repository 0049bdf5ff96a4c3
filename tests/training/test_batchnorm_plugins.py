"""``batchnorm=freeze`` and ``batchnorm=per_task``: what they do to the running statistics, the bytes
they keep, their checkpoint state, and the runs they refuse."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from helpers import compose_run_config
from laftr_cl.config.checks import ConfigError
from laftr_cl.models import BnCnn
from laftr_cl.run.experiment import run_experiment
from laftr_cl.training.batchnorm import (
    FreezeBatchNormStats,
    TaskBatchNormStats,
    check_batchnorm,
    read_statistics,
)

SMALL_BN_CNN = ["model=bn_cnn", "model.net.channels=[2,3]", "model.net.hidden=8"]


def _strategy(counter: int = 0, task: int = 0) -> SimpleNamespace:
    torch.manual_seed(0)
    model = BnCnn(channels=(2, 3), hidden=8)
    return SimpleNamespace(model=model, clock=SimpleNamespace(train_exp_counter=counter),
                           experience=SimpleNamespace(task_labels=[task], current_experience=task))


def _train_forward(model: torch.nn.Module, shift: float) -> None:
    model.train()
    with torch.no_grad():
        model(torch.randn(16, 1, 28, 28) + shift)


@pytest.mark.parametrize("counter, frozen", [(0, False), (1, True), (3, True)])
def test_freeze_keeps_the_statistics_from_the_second_task_on(counter, frozen):
    strategy = _strategy(counter)
    strategy.model.train()
    before = read_statistics(strategy.model)
    FreezeBatchNormStats().before_training_epoch(strategy)
    assert strategy.model.training  # only the BatchNorm layers change mode
    with torch.no_grad():
        strategy.model(torch.randn(16, 1, 28, 28) + 2.0)
    after = read_statistics(strategy.model)
    assert all(torch.equal(before[k], after[k]) for k in before) is frozen


def test_per_task_evaluates_each_task_with_its_own_statistics_and_restores_the_live_ones():
    strategy = _strategy()
    plugin = TaskBatchNormStats()
    kept = {}
    for task, shift in ((0, -1.0), (1, 3.0)):
        strategy.experience = SimpleNamespace(task_labels=[task], current_experience=task)
        _train_forward(strategy.model, shift)
        plugin.after_training_exp(strategy)
        kept[task] = read_statistics(strategy.model)
    _train_forward(strategy.model, 7.0)  # training moves on: the live statistics differ from both
    live = read_statistics(strategy.model)
    plugin.before_eval(strategy)
    for task in (0, 1, 2):  # task 2 is not learned yet: it runs with the live statistics
        strategy.experience = SimpleNamespace(task_labels=[task], current_experience=task)
        plugin.before_eval_exp(strategy)
        seen = read_statistics(strategy.model)
        expected = kept.get(task, live)
        assert all(torch.equal(seen[k], expected[k]) for k in seen)
    plugin.after_eval(strategy)
    assert all(torch.equal(read_statistics(strategy.model)[k], live[k]) for k in live)
    # 2·C numbers per BatchNorm layer per task, float32: C = 2, 3, 8
    assert plugin.memory_bytes() == {"batchnorm_stats": 2 * 2 * (2 + 3 + 8) * 4}
    restored = TaskBatchNormStats()
    restored.load_state_dict(plugin.state_dict())
    assert restored.statistics.keys() == plugin.statistics.keys()
    assert all(torch.equal(restored.statistics[t][k], plugin.statistics[t][k]) for t in kept for k in kept[t])


@pytest.mark.parametrize("overrides, setting", [
    (["batchnorm=freeze"], "model=mlp has no BatchNorm"),
    (["batchnorm=per_task", *SMALL_BN_CNN, "benchmark.scenario=class"], "benchmark.scenario=class gives none"),
    (["batchnorm=per_task", *SMALL_BN_CNN, "regularizer=laftr", "regularizer.plugin.bn_stats=current"],
     "bn_stats=reference with batchnorm=per_task"),
    (["batchnorm=per_task", *SMALL_BN_CNN, "regularizer=laftr", "regularizer.plugin.anchor=latest"],
     "anchor=per_task with batchnorm=per_task"),
    (["batchnorm=freeze", *SMALL_BN_CNN, "regularizer=joint"], "regularizer=joint trains all tasks at once"),
])
def test_a_batchnorm_choice_that_cannot_act_is_refused(overrides, setting):
    cfg = compose_run_config(["debug=fast", *overrides])
    model = torch.nn.Sequential(torch.nn.Linear(2, 2)) if cfg.model.name == "mlp" else BnCnn(channels=(2, 3), hidden=8)
    with pytest.raises(ConfigError, match=setting):
        check_batchnorm(cfg, model)


@pytest.mark.parametrize("overrides", [["batchnorm=per_task"], ["batchnorm=freeze", "benchmark.scenario=class"],
                                       ["batchnorm=track", "regularizer=laftr", "regularizer.plugin.bn_stats=current"]])
def test_a_batchnorm_choice_that_can_act_is_accepted(overrides):
    cfg = compose_run_config(["debug=fast", *SMALL_BN_CNN, *overrides])
    check_batchnorm(cfg, BnCnn(channels=(2, 3), hidden=8))


def test_a_per_task_run_keeps_the_statistics_counts_them_and_checkpoints_them(tmp_path):
    overrides = ["debug=fast", "benchmark.num_experiences=2", *SMALL_BN_CNN, "batchnorm=per_task",
                 "regularizer=laftr", "regularizer.plugin.inputs=diag", "regularizer.plugin.num_samples=4"]
    results = run_experiment(compose_run_config(overrides, tmp_path), tmp_path)
    memory = results["summary_memory_bytes"]
    assert memory["batchnorm_stats"] == 2 * 2 * (2 + 3 + 8) * 4
    assert memory["total"] == sum(v for k, v in memory.items() if k != "total")
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)["state"]
    statistics = saved["plugins"]["batchnorm_per_task"]["statistics"]
    assert sorted(statistics) == [0, 1]
    model = saved["model"]
    # the live statistics are the last task's (evaluation put them back)
    assert all(torch.equal(statistics[1][k], model[k]) for k in statistics[1])
    assert not torch.equal(statistics[0]["net.1.running_mean"], statistics[1]["net.1.running_mean"])
    assert json.loads((tmp_path / "results.json").read_text())["complete"]
