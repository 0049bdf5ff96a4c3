"""The LAFTR Avalanche plugin: when it acts, what it stores, how its state travels."""
import copy

import pytest
import torch
from avalanche.checkpointing import maybe_load_checkpoint, save_checkpoint
from torch import nn

from helpers import compose_run_config, tiny_strategy, train_side_by_side
from laftr_cl.config.checks import ConfigError
from laftr_cl.fsd import fsd
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.run.experiment import run_experiment


def test_loss_changes_only_from_the_second_task_on(benchmark):
    plain = tiny_strategy(benchmark, [])
    laftr = tiny_strategy(benchmark, [LaftrPlugin(fsd_lambda=10.0, num_samples=8, inputs="diag")])
    history = train_side_by_side(plain, laftr, list(benchmark.scenario.train_stream)[:3])
    assert all(history[0]), "the first task must train exactly as without a regularizer"
    assert not any(history[1]) and not any(history[2])
    assert sorted(laftr.plugins[0].summaries) == [0, 1, 2]


def test_summary_uses_the_task_head_and_reports_memory(benchmark):
    plugin = LaftrPlugin(num_samples=8, inputs="lowrank", rank=3)
    strategy = tiny_strategy(benchmark, [plugin])
    strategy.train(benchmark.scenario.train_stream[0])
    strategy.train(benchmark.scenario.train_stream[1])
    assert plugin.summaries[1].output_units.tolist() == [2, 3]
    memory = plugin.memory_bytes()
    per_task = [s.nbytes()["total"] for s in plugin.summaries.values()]
    assert memory["total"] == sum(per_task) > 0
    assert memory["snapshot"] == 2 * sum(p.numel() * 4 for p in strategy.model.parameters())
    logged = strategy.evaluator.get_last_metrics()
    assert "LAFTR_FSD/train_phase/Exp000" not in logged  # nothing to regularize on the first task
    assert logged["LAFTR_FSD/train_phase/Exp001"] > 0
    assert logged["LAFTR_summary_bytes"] == memory["total"]


def test_relu_estimator_with_rates_none_keeps_no_gate_statistics_and_regularizes(benchmark):
    plugin = LaftrPlugin(num_samples=8, inputs="diag", estimator="relu", rates="none")
    strategy = tiny_strategy(benchmark, [plugin])
    strategy.train(benchmark.scenario.train_stream[0])
    strategy.train(benchmark.scenario.train_stream[1])
    assert plugin.memory_bytes()["rates"] == 0 and plugin.memory_bytes()["inputs"] > 0
    assert strategy.evaluator.get_last_metrics()["LAFTR_FSD/train_phase/Exp001"] > 0


def test_anchor_latest_keeps_one_snapshot(benchmark):
    plugin = LaftrPlugin(num_samples=8, inputs="diag", anchor="latest")
    strategy = tiny_strategy(benchmark, [plugin])
    for exp in list(benchmark.scenario.train_stream)[:3]:
        strategy.train(exp)
    snapshots = [s.snapshot is not None for s in plugin.summaries.values()]
    assert snapshots == [False, False, True]


def test_state_dict_and_avalanche_checkpoint_round_trip(benchmark, tmp_path):
    plugin = LaftrPlugin(num_samples=8, inputs="full")
    strategy = tiny_strategy(benchmark, [plugin])
    for exp in list(benchmark.scenario.train_stream)[:2]:
        strategy.train(exp)

    def value(p, model):
        return fsd(model, list(p.summaries.values()), num_samples=8, generator=torch.Generator().manual_seed(0))

    reference = value(plugin, strategy.model)
    restored = LaftrPlugin()
    restored.load_state_dict(copy.deepcopy(plugin.state_dict()))
    assert torch.equal(value(restored, strategy.model), reference)

    # torch 2.14's optimizers do not pickle with dill (Avalanche's pickler); the plugin does
    save_checkpoint(strategy, tmp_path / "ckpt.pkl", exclude=["optimizer"])
    fresh = tiny_strategy(benchmark, [LaftrPlugin(num_samples=8, inputs="full")], seed=7)
    fresh, _ = maybe_load_checkpoint(fresh, tmp_path / "ckpt.pkl")
    loaded = next(p for p in fresh.plugins if isinstance(p, LaftrPlugin))
    assert sorted(loaded.summaries) == [0, 1]
    assert torch.equal(value(loaded, fresh.model), reference)


def test_coreset_inputs_come_from_the_plugins_seeded_generator(benchmark):
    """The one FSD plugin base: ``inputs=coreset`` draws from the plugin's seeded, checkpointed
    generator, not from torch's global random state."""
    def summarize(seed, global_seed):
        plugin = LaftrPlugin(num_samples=8, inputs="coreset", coreset_size=5, seed=seed)
        strategy = tiny_strategy(benchmark, [plugin])
        strategy.train(benchmark.scenario.train_stream[0])
        torch.manual_seed(global_seed)
        data = benchmark.scenario.train_stream[0].dataset
        x = torch.stack([data[i][0] for i in range(len(data))])
        y = torch.tensor([data[i][1] for i in range(len(data))])
        return plugin, plugin.summarize_task(strategy.model, (x, y), [0, 1]).inputs.tensors()["points"]

    plugin, points = summarize(seed=3, global_seed=0)
    assert torch.equal(points, summarize(seed=3, global_seed=99)[1])
    assert not torch.equal(points, summarize(seed=4, global_seed=0)[1])
    restored = LaftrPlugin(inputs="coreset", coreset_size=5)
    restored.load_state_dict(copy.deepcopy(plugin.state_dict()))
    assert torch.equal(restored.generator.get_state(), plugin.generator.get_state())


def test_unsupported_activation_fails_at_summary_time_naming_the_layer(benchmark):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.Mish(), nn.Linear(16, 10))
    strategy = tiny_strategy(benchmark, [LaftrPlugin(num_samples=8)], net=net)
    with pytest.raises(ValueError, match="Mish in 'net.2'"):
        strategy.train(benchmark.scenario.train_stream[0])


@pytest.mark.parametrize("overrides, setting", [
    (["model=cifar_net", "benchmark=split_cifar10", "regularizer.plugin.estimator=exact",
      "regularizer.plugin.metric=l2_logit"], "estimator=exact"),
    (["regularizer.plugin.estimator=exact"], r"regularizer\.plugin\.metric"),
    (["regularizer.plugin.inputs=coreset", "regularizer.plugin.coreset_size=0"], r"regularizer\.plugin\.coreset_size"),
    (["regularizer.plugin.fsd_lambda=-1"], r"regularizer\.plugin\.fsd_lambda"),
])
def test_bad_laftr_options_are_config_errors(overrides, setting, tmp_path):
    cfg = compose_run_config(["debug=fast", "regularizer=laftr", *overrides], tmp_path)
    with pytest.raises(ConfigError, match=setting):
        run_experiment(cfg, tmp_path)


def test_laftr_run_writes_summary_memory_to_results(tmp_path):
    cfg = compose_run_config(["debug=fast", "regularizer=laftr", "benchmark.num_experiences=2",
                              "regularizer.plugin.inputs=diag", "model.net.hidden_sizes=[16]"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    memory = results["summary_memory_bytes"]
    assert set(memory) == {"rates", "inputs", "snapshot", "output_units", "total"}
    assert memory["rates"] == 2 * 16 * 4  # one float per hidden unit per task


def test_torch_layers_laftr_cannot_read_are_named_before_training():
    from laftr_cl.regularizers.structure import lacks

    reason = lacks("linearizable", nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Linear(2, 2), nn.Mish()))
    assert reason is not None and "its module 3 is a Mish, which LAFTR cannot linearize" in reason
    transformer = nn.Sequential(nn.Linear(2, 4), nn.LayerNorm(4), nn.MultiheadAttention(4, 2), nn.SiLU())
    assert lacks("linearizable", transformer) is None
