"""The liftr Avalanche plugin: when it acts, what it stores, how its state travels, how runs use it."""
import copy

import pytest
import torch

from helpers import compose_run_config, regularized_from_the_second_task, tiny_strategy
from laftr_cl.config.checks import ConfigError
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.liftr import LiftrPlugin
from laftr_cl.regularizers.specs import spec_for
from laftr_cl.run.experiment import run_experiment


def test_python_defaults_are_the_spec_defaults():
    plugin = LiftrPlugin()
    options = spec_for("liftr").options
    assert plugin.fsd_lambda == options["fsd_lambda"].default
    assert plugin.summary_batch_size == options["summary_batch_size"].default
    assert {k: plugin.method.options()[k] for k in ("mode", "covariance", "num_samples")} == {
        k: options[k].default for k in ("mode", "covariance", "num_samples")}


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_loss_changes_only_from_the_second_task_on(benchmark, mode):
    plugin = LiftrPlugin(fsd_lambda=10.0, mode=mode, covariance="diag")
    regularized_from_the_second_task(benchmark, plugin)
    assert plugin.summaries[1].statistics["_1.var"].shape == (784,)  # the first Linear's input


def test_memory_is_reported_and_state_round_trips(benchmark):
    plugin = LiftrPlugin(covariance="full")
    strategy = tiny_strategy(benchmark, [plugin])
    for exp in list(benchmark.scenario.train_stream)[:2]:
        strategy.train(exp)
    memory = plugin.memory_bytes()
    # per task: inputs of Linear(784, 16) and Linear(16, 10) (mean + covariance), 16 firing rates, θ_t, 2 units
    per_task = {"moments": (784 + 784 ** 2 + 16 + 16 ** 2) * 4, "jacobians": 16 * 4,
                "snapshot": (784 * 16 + 16 + 16 * 10 + 10) * 4, "output_units": 2 * 8}
    assert memory == {**{k: 2 * v for k, v in per_task.items()}, "total": 2 * sum(per_task.values())}
    logged = strategy.evaluator.get_last_metrics()
    assert logged["LIFTR_FSD/train_phase/Exp001"] > 0
    assert logged["LIFTR_summary_bytes"] == memory["total"]

    reference = plugin.estimate(strategy.model, list(plugin.summaries.values()))
    restored = LiftrPlugin(covariance="full")
    restored.load_state_dict(copy.deepcopy(plugin.state_dict()), model=strategy.model)
    assert torch.equal(restored.estimate(strategy.model, list(restored.summaries.values())), reference)
    other = TaskMaskedClassifier(MLP(784, [8], 10), benchmark.task_classes)  # another hidden width
    with pytest.raises(ValueError, match="do not fit the model"):
        LiftrPlugin().load_state_dict(plugin.state_dict(), model=other)


def test_run_writes_memory_to_results_and_bad_settings_are_config_errors(tmp_path):
    cfg = compose_run_config(["debug=fast", "regularizer=liftr", "benchmark.num_experiences=2",
                              "model.net.hidden_sizes=[16]", "regularizer.plugin.covariance=diag"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    assert results["complete"]
    assert results["summary_memory_bytes"]["moments"] == 2 * (784 + 784 + 16 + 16) * 4
    for bad in ("regularizer.plugin.mode=exact", "regularizer.plugin.num_samples=0"):
        cfg = compose_run_config(["debug=fast", "regularizer=liftr", bad], tmp_path / "bad")
        with pytest.raises(ConfigError, match=bad.split("=")[0].replace(".", r"\.")):
            run_experiment(cfg, tmp_path / "bad")
    cfg = compose_run_config(["debug=fast", "regularizer=liftr", "model=mlp", "model.name=vit"], tmp_path / "vit")
    with pytest.raises(ConfigError, match=r"regularizer\.plugin\.covariance=diag"):
        run_experiment(cfg, tmp_path / "vit")  # the check reads the model's name (model=vit: tokens)
    cfg = compose_run_config(["debug=fast", "regularizer=liftr", "model=cifar_net"], tmp_path / "conv")
    with pytest.raises(ConfigError, match="regularizer=liftr needs a network of Linear"):
        run_experiment(cfg, tmp_path / "conv")
