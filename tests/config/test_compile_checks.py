"""The tasks' sizes the config checks know before any data is read (``laftr_cl.config.compile_checks``) are the
sizes the benchmark builders give: exactly for synthetic data, at least as large for the real datasets."""
from __future__ import annotations

import pytest

from helpers import compose_run_config, run_python, shared_dataset
from laftr_cl.benchmarks.catalog import CATALOG
from laftr_cl.config.compile_checks import task_sizes
from laftr_cl.run.build import load_benchmark

SYN = "data.synthetic={train_per_class: 7, test_per_class: 2}"


@pytest.mark.parametrize("overrides", [
    [SYN],
    [SYN, "benchmark.num_experiences=2", "benchmark.class_order=[9,8,7,6,5,4,3,2,1,0]"],
    [SYN, "benchmark=permuted_mnist", "benchmark.num_experiences=3", "data.validation_fraction=0.3"],
    [SYN, "benchmark=split_cifar110_6", "data.validation_fraction=0.1"],
    [SYN, "benchmark=split_cifar100", "benchmark.num_experiences=20"],
], ids=["split_mnist", "class-order", "permuted-validation", "cifar110_6-validation", "cifar100-20-tasks"])
def test_the_synthetic_task_sizes_are_those_the_builders_give(overrides):
    cfg = compose_run_config([*overrides, "device=cpu"])
    built = load_benchmark(cfg, "cpu")
    assert task_sizes(cfg) == ([int(t.y.shape[0]) for t in built.train], True)


@pytest.mark.parametrize("fraction", [0.0, 0.3])
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_benchmark_s_task_sizes_are_those_its_builder_gives(name, fraction):
    cfg = compose_run_config([f"benchmark={name}", "data.synthetic={train_per_class: 5, test_per_class: 1}",
                              f"data.validation_fraction={fraction}", "benchmark.num_experiences=null", "device=cpu"])
    built = load_benchmark(cfg, "cpu")
    assert task_sizes(cfg) == ([int(t.y.shape[0]) for t in built.train], True)
    assert len(built.train) == CATALOG[name].default_experiences


def test_a_config_the_builders_refuse_has_no_task_sizes():
    for overrides in (["benchmark=permuted_mnist", "benchmark.class_order=[1,0,2,3,4,5,6,7,8,9]"],
                      ["benchmark.num_experiences=3"], ["benchmark.class_order=[0,0,2,3,4,5,6,7,8,9]"],
                      ["benchmark.name=split_unknown"]):
        assert task_sizes(compose_run_config([SYN, *overrides, "device=cpu"])) is None, overrides


@pytest.mark.slow
def test_the_config_checks_read_the_benchmark_facts_without_torch():
    code = "import sys, laftr_cl.config.compile_checks; print([m for m in ('torch', 'avalanche') if m in sys.modules])"
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_real_dataset_never_holds_more_than_its_bound():
    root = shared_dataset("fashion-mnist")
    cfg = compose_run_config([f"data.root={root}", "benchmark=split_fmnist", "device=cpu"])
    bound, exact = task_sizes(cfg)
    sizes = [int(t.y.shape[0]) for t in load_benchmark(cfg, "cpu").train]
    assert not exact and sizes == bound  # the full Fashion-MNIST: 6,000 examples of each class
