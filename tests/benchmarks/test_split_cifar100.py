"""Split CIFAR-100 with 20 tasks, and a tiny end-to-end run of it on the reduced ResNet-18."""
from __future__ import annotations

import json

import pytest

from helpers import compose_run_config
from laftr_cl.benchmarks import build_benchmark
from laftr_cl.run.experiment import run_experiment


def test_twenty_tasks_of_five_classes(tiny: dict[str, int]) -> None:
    bm = build_benchmark("split_cifar100", root="/nonexistent", num_experiences=20, synthetic=tiny)
    assert bm.num_experiences == 20 and bm.scenario_kind == "task"
    assert bm.task_classes == [list(range(5 * i, 5 * i + 5)) for i in range(20)]
    assert [t.task_label for t in bm.train] == list(range(20))
    assert all(t.x.shape == (5 * tiny["train_per_class"], 3, 32, 32) for t in bm.train)


def test_a_split_that_does_not_divide_100_names_the_choices(tiny: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"benchmark.num_experiences=30 .* \[1, 2, 4, 5, 10, 20, 25, 50, 100\]"):
        build_benchmark("split_cifar100", root="/nonexistent", num_experiences=30, synthetic=tiny)


def test_preset_composes_the_twenty_task_resnet_setting() -> None:
    cfg = compose_run_config(["experiment=split_cifar100_resnet18"])
    assert (cfg.benchmark.name, cfg.benchmark.num_experiences, cfg.model.name) == ("split_cifar100", 20, "resnet18")
    assert cfg.model.net.num_outputs == 100 and cfg.model.net.in_channels == 3


@pytest.mark.parametrize("regularizer", ["ewc", "laftr_lowrank"])
def test_resnet18_on_split_cifar100_runs_end_to_end(regularizer: str, tmp_path) -> None:
    cfg = compose_run_config(["benchmark=split_cifar100", "model=resnet18", f"regularizer={regularizer}", "debug=fast",
                              "benchmark.num_experiences=2", "model.net.width=4",
                              "data.synthetic={train_per_class: 2, test_per_class: 1}"], tmp_path)
    run_experiment(cfg, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["complete"] is True and len(results["accuracy_matrix"]) == 2
    assert results["config"]["model"]["name"] == "resnet18"
    memory = results["summary_memory_bytes"]
    assert memory["total"] > 0
    if regularizer == "laftr_lowrank":  # the traced gated view summarized the ResNet: rates, inputs, snapshot
        assert all(memory[part] > 0 for part in ("rates", "inputs", "snapshot"))
