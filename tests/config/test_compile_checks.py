"""The tasks' sizes the config checks know before any data is read (``laftr_cl.config.compile_checks``) are the
sizes the benchmark builders give: exactly for synthetic data, at least as large for the real datasets."""
from __future__ import annotations

import pytest

from helpers import compose_run_config, shared_dataset
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


def test_a_real_dataset_never_holds_more_than_its_bound():
    root = shared_dataset("fashion-mnist")
    cfg = compose_run_config([f"data.root={root}", "benchmark=split_fmnist", "device=cpu"])
    bound, exact = task_sizes(cfg)
    sizes = [int(t.y.shape[0]) for t in load_benchmark(cfg, "cpu").train]
    assert not exact and sizes == bound  # the full Fashion-MNIST: 6,000 examples of each class
