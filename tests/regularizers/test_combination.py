"""Regularizers that combine: Hydra composes each part under its own key, each part is checked on its
own, and combinations that cannot form one strategy are refused before any data loads."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from helpers import compose_run_config
from laftr_cl.cli import CONFIG_DIR
from laftr_cl.config.checks import ConfigError, validate_config
from laftr_cl.config.preflight import preflight
from laftr_cl.regularizers.combination import parts, run_method_name
from laftr_cl.reporting.comparison import summarize_runs
from laftr_cl.training.guards import strengths

LAFTR_REPLAY = ["regularizer=laftr", "+regularizer@combine.replay=replay"]


def test_each_part_is_composed_under_its_own_key_with_its_own_options():
    cfg = compose_run_config([*LAFTR_REPLAY, "combine.replay.plugin.mem_size=500", "regularizer.plugin.fsd_lambda=3"])
    assert cfg.regularizer.name == "laftr" and cfg.regularizer.plugin.fsd_lambda == 3
    assert OmegaConf.to_container(cfg.combine) == {"replay": {
        "name": "replay", "strategy": "naive",
        "plugin": {"_target_": "avalanche.training.plugins.ReplayPlugin", "mem_size": 500}}}
    assert "mem_size" not in cfg.regularizer.plugin  # nothing of replay merged into laftr's node
    assert [(p.path, p.name) for p in parts(cfg)] == [("regularizer", "laftr"), ("combine.replay", "replay")]
    assert run_method_name(cfg) == "laftr+replay"
    assert strengths(cfg) == "λ: regularizer.plugin.fsd_lambda=3; combine.replay=replay has no λ"
    validate_config(cfg)


def test_the_combination_names_the_wandb_run_and_its_tag():
    cfg = compose_run_config([*LAFTR_REPLAY, "logger=wandb"])
    assert cfg.logger.wandb.run_name == "split_mnist-laftr+replay-seed0"
    assert cfg.logger.wandb.params.tags[0] == "laftr+replay"
    assert compose_run_config(["regularizer=ewc", "logger=wandb"]).logger.wandb.run_name == "split_mnist-ewc-seed0"


def test_a_parts_bad_option_is_named_by_the_parts_key():
    with pytest.raises(ConfigError) as err:
        validate_config(compose_run_config([*LAFTR_REPLAY, "combine.replay.plugin.mem_size=0"]))
    assert err.value.setting == "combine.replay.plugin.mem_size"
    assert err.value.fix == "combine.replay.plugin.mem_size=200"


def test_a_parts_declared_check_is_named_by_the_parts_key():
    cfg = compose_run_config(["regularizer=replay", "+regularizer@combine.laftr=laftr",
                              "combine.laftr.plugin.estimator=exact"])
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert err.value.setting == "combine.laftr.plugin.metric"


@pytest.mark.parametrize("overrides, refused, words", [
    (["regularizer=joint", "+regularizer@combine.replay=replay"], "regularizer", "trains on all tasks at once"),
    (["regularizer=der", "+regularizer@combine.er_ace=er_ace", "benchmark.scenario=class"], "combine.er_ace",
     "both Avalanche strategies that own the training loop"),
    (["regularizer=der", "+regularizer@combine.icarl=icarl", "benchmark.scenario=class"], "combine.icarl",
     "iCaRL replaces the model"),
    (["regularizer=replay", "+regularizer@combine.again=replay"], "combine.again", "listed twice"),
    (["regularizer=none", "+regularizer@combine.replay=replay"], "regularizer", "adds nothing"),
])
def test_combinations_that_cannot_run_together_are_refused_with_the_reason(overrides, refused, words):
    with pytest.raises(ConfigError) as err:
        validate_config(compose_run_config(overrides))
    assert err.value.setting == refused and words in str(err.value)
    assert "cannot be combined" in str(err.value)


def test_a_bad_combination_is_refused_before_any_data_loads(monkeypatch, tmp_path):
    import laftr_cl.run.experiment as experiment

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded")

    monkeypatch.setattr(experiment, "load_benchmark", no_data)
    cfg = compose_run_config(["debug=fast", "regularizer=der", "+regularizer@combine.er_ace=er_ace",
                              "benchmark.scenario=class"], tmp_path)
    with pytest.raises(ConfigError, match="der and er_ace are both"):
        experiment.run_experiment(cfg, tmp_path)


def test_a_list_of_regularizers_is_refused_with_the_spelling_that_keeps_parts_apart():
    with pytest.raises(ConfigError) as err:
        preflight(CONFIG_DIR, ["regularizer=[laftr,replay]"])
    assert err.value.fix == "regularizer=laftr +regularizer@combine.replay=replay"


def test_the_comparison_table_names_the_combination_and_keeps_groups_apart():
    def run(config, seed):
        return {"config": {**config, "seed": seed}, "final": {"average_accuracy": 0.5},
                "summary_memory_bytes": {"total": 1}, "complete": True}

    laftr = compose_run_config(["regularizer=laftr"])
    both = compose_run_config(LAFTR_REPLAY)
    runs = [run(OmegaConf.to_container(c, resolve=False), s) for c in (laftr, both) for s in (0, 1)]
    for r in runs:
        r["config"].pop("hydra", None)
        r["config"].pop("logger", None)
    rows = summarize_runs(runs)
    assert sorted(row["regularizer"] for row in rows) == ["laftr", "laftr+replay"]
    assert all(row["n"] == 2 for row in rows)
    assert not any(key.startswith("combine") for key in rows[0]["columns"])  # no column per part
