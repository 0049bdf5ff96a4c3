"""The benchmark facts the config checks read (``laftr_cl.benchmarks.catalog``) are what the builders build and
what each ``configs/benchmark/<name>.yaml`` says."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from laftr_cl.benchmarks import BENCHMARKS, build_benchmark
from laftr_cl.benchmarks.catalog import CATALOG, held_out_count
from laftr_cl.config.root import CONFIG_DIR


def test_every_registered_benchmark_is_catalogued():
    assert set(BENCHMARKS) == set(CATALOG)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_a_built_benchmark_is_what_its_catalog_entry_says(name, tiny):
    facts, built = CATALOG[name], build_benchmark(name, root="/nonexistent", synthetic=tiny)
    assert (built.num_classes, built.input_shape) == (facts.num_classes, facts.input_shape)
    assert built.num_experiences == facts.default_experiences
    assert len(facts.class_datasets) == facts.num_classes
    every = all(sorted(classes) == list(range(facts.num_classes)) for classes in built.task_classes)
    assert every == facts.every_class_each_task


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_the_benchmark_config_files_restate_the_catalog(name):
    cfg = OmegaConf.load(Path(CONFIG_DIR) / "benchmark" / f"{name}.yaml")
    facts = CATALOG[name]
    assert cfg.name == name and cfg.num_experiences == facts.default_experiences
    assert cfg.num_classes == facts.num_classes
    assert (cfg.in_channels, cfg.input_size) == (facts.input_shape[0], math.prod(facts.input_shape))


@pytest.mark.parametrize("fraction, per_class", [(0.1, 7), (0.3, 5), (0.5, 3), (0.01, 20)])
def test_the_validation_split_holds_out_what_the_catalog_counts(fraction, per_class):
    built = build_benchmark("split_mnist", root="/nonexistent", validation_fraction=fraction,
                            synthetic={"train_per_class": per_class, "test_per_class": 1})
    held = held_out_count(fraction, per_class)
    assert held >= 1 and [int(t.y.shape[0]) for t in built.test] == [2 * held] * 5
    assert [int(t.y.shape[0]) for t in built.train] == [2 * (per_class - held)] * 5


def test_every_public_name_of_the_package_resolves():
    import laftr_cl.benchmarks as benchmarks

    assert all(getattr(benchmarks, name) is not None for name in benchmarks.__all__)
    assert set(benchmarks.__all__) <= set(dir(benchmarks))
