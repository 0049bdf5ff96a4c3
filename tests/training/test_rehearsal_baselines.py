"""Each rehearsal baseline runs a short synthetic class-incremental run, and its bytes are what it keeps,
counted by hand: an example is 784 float32 pixels plus an int64 class and an int64 task label."""
from __future__ import annotations

import importlib.util

import pytest

from helpers import compose_run_config
from laftr_cl.config.checks import ConfigError, validate_config
from laftr_cl.run.experiment import run_experiment

CLASS_IL = ["debug=fast", "benchmark=split_mnist", "benchmark.scenario=class", "model.net.hidden_sizes=[16]"]
"""Synthetic Split MNIST, one head: 5 tasks of 2 classes, 16 training examples per class."""
EXAMPLE = 784 * 4 + 8 + 8
THETA = 4 * (784 * 16 + 16 + 16 * 10 + 10)  # the MLP 784-16-10 in float32


@pytest.mark.parametrize("overrides, expected", [
    (["regularizer=der", "regularizer.plugin.mem_size=20"], {"examples": 20 * EXAMPLE, "logits": 20 * 10 * 4}),
    (["regularizer=er_ace", "regularizer.plugin.mem_size=20"], {"examples": 20 * EXAMPLE}),
    (["regularizer=agem", "regularizer.plugin.patterns_per_experience=4"], {"examples": 5 * 4 * EXAMPLE}),
    (["regularizer=gem", "regularizer.plugin.patterns_per_experience=4"], {"examples": 5 * 4 * EXAMPLE}),
    (["regularizer=gdumb", "regularizer.plugin.mem_size=20"], {"examples": 20 * EXAMPLE, "snapshot": THETA}),
    # 2 exemplars per class for 10 classes; a 16-wide mean per class; the model before the last task
    (["regularizer=icarl", "regularizer.plugin.memory_size=20"],
     {"examples": 20 * EXAMPLE, "class_means": 10 * 16 * 4, "snapshot": THETA}),
    (["regularizer=replay", "regularizer.plugin.mem_size=20"], {"examples": 20 * EXAMPLE}),
])
def test_baseline_trains_every_task_and_counts_the_bytes_it_keeps(overrides, expected, tmp_path):
    result = run_experiment(compose_run_config([*CLASS_IL, *overrides], tmp_path), tmp_path)
    assert result["complete"] and len(result["accuracy_matrix"]) == 5
    assert result["benchmark"]["scenario"] == "class"
    assert result["summary_memory_bytes"] == {**expected, "total": sum(expected.values())}


def test_a_combination_keeps_each_parts_bytes_under_its_name(tmp_path):
    overrides = ["regularizer=der", "regularizer.plugin.mem_size=20", "+regularizer@combine.laftr=laftr",
                 "combine.laftr.plugin.inputs=diag", "combine.laftr.plugin.anchor=latest",
                 "combine.laftr.plugin.num_samples=4"]
    result = run_experiment(compose_run_config([*CLASS_IL, *overrides], tmp_path), tmp_path)
    memory = result["summary_memory_bytes"]
    assert memory["der.examples"] == 20 * EXAMPLE and memory["der.logits"] == 20 * 10 * 4
    assert memory["laftr.snapshot"] == THETA  # anchor=latest keeps one θ
    assert memory["total"] == sum(v for k, v in memory.items() if k != "total")
    assert result["config"]["combine"]["laftr"]["name"] == "laftr"


@pytest.mark.parametrize("name", ["der", "icarl"])
def test_a_one_head_baseline_is_refused_in_a_task_incremental_run(name):
    with pytest.raises(ConfigError) as err:
        validate_config(compose_run_config([f"regularizer={name}", "benchmark.scenario=task"]))
    assert err.value.setting == "benchmark.scenario" and err.value.fix == "benchmark.scenario=class"


def test_gem_without_its_qp_solver_is_refused_before_training(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "quadprog" else find_spec(name, *a))
    with pytest.raises(ConfigError, match="quadprog") as err:
        validate_config(compose_run_config(["regularizer=gem"]))
    assert err.value.fix == "regularizer=agem"
