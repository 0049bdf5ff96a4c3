"""The coreset_fsd and ntk_fsd Avalanche plugins: when they act, what they store, how state travels."""
import copy

import pytest
import torch

from helpers import compose_run_config, regularized_from_the_second_task, tiny_strategy
from laftr_cl.config.checks import ConfigError
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.coreset_fsd import CoresetFsdPlugin
from laftr_cl.regularizers.ntk_fsd import NtkFsdPlugin
from laftr_cl.run.experiment import run_experiment

PLUGINS = {"coreset_fsd": CoresetFsdPlugin, "ntk_fsd": NtkFsdPlugin}


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_loss_changes_only_from_the_second_task_on(benchmark, name):
    plugin = PLUGINS[name](fsd_lambda=10.0, coreset_size=5)
    regularized_from_the_second_task(benchmark, plugin)
    assert plugin.summaries[1].points.shape == (5, 1, 28, 28)


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_memory_is_reported_and_state_round_trips(benchmark, name):
    plugin = PLUGINS[name](coreset_size=5)
    strategy = tiny_strategy(benchmark, [plugin])
    for exp in list(benchmark.scenario.train_stream)[:2]:
        strategy.train(exp)
    memory = plugin.memory_bytes()
    assert memory["examples"] == 2 * 5 * 784 * 4
    assert memory["total"] == sum(s.nbytes()["total"] for s in plugin.summaries.values())
    logged = strategy.evaluator.get_last_metrics()
    assert logged[f"{plugin.log_name}/train_phase/Exp001"] > 0
    assert logged[f"{plugin.log_name}_summary_bytes"] == memory["total"]

    reference = plugin.estimate(strategy.model, list(plugin.summaries.values()))
    restored = PLUGINS[name](coreset_size=5, seed=123)
    restored.load_state_dict(copy.deepcopy(plugin.state_dict()), model=strategy.model)
    assert torch.equal(restored.estimate(strategy.model, list(restored.summaries.values())), reference)
    data = benchmark.train[2].x, benchmark.train[2].y  # the next coreset is drawn as without the restart
    assert torch.equal(restored.summarize_task(strategy.model, data, [4, 5]).points,
                       plugin.summarize_task(strategy.model, data, [4, 5]).points)
    other = TaskMaskedClassifier(MLP(100, [16], 10), benchmark.task_classes)  # another input size
    with pytest.raises(ValueError, match="do not fit the model"):
        PLUGINS[name]().load_state_dict(plugin.state_dict(), model=other)


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_run_writes_memory_to_results_and_bad_options_are_config_errors(name, tmp_path):
    cfg = compose_run_config(["debug=fast", f"regularizer={name}", "benchmark.num_experiences=2",
                              "model.net.hidden_sizes=[16]", "regularizer.plugin.coreset_size=6"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    assert results["complete"] and results["summary_memory_bytes"]["examples"] == 2 * 6 * 784 * 4
    for bad in ("regularizer.plugin.fsd_lambda=-1", "regularizer.plugin.coreset_size=0"):
        cfg = compose_run_config(["debug=fast", f"regularizer={name}", bad], tmp_path / "bad")
        with pytest.raises(ConfigError, match=bad.split("=")[0].replace(".", r"\.")):
            run_experiment(cfg, tmp_path / "bad")
