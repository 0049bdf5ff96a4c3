"""Benchmark name → builder, and the one entry point ``build_benchmark``.

A new benchmark is one function ``builder(settings: BenchmarkSettings) -> TensorBenchmark``
decorated with ``@register("name")`` in a module that ``laftr_cl.benchmarks`` imports on first use, plus
its entry in :data:`laftr_cl.benchmarks.catalog.CATALOG` (its classes, what the config checks read).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Callable

import torch

from laftr_cl.benchmarks.base import TensorBenchmark
from laftr_cl.benchmarks.settings import BenchmarkSettings, make_settings
from laftr_cl.benchmarks.validation import check_validation_fraction, hold_out_validation
from laftr_cl.fsd.registry import Registry

Builder = Callable[[BenchmarkSettings], TensorBenchmark]

BENCHMARKS: Registry[Builder] = Registry("benchmark")
"""Every registered benchmark, by config name."""
register = BENCHMARKS.register
"""Decorator adding a builder to ``BENCHMARKS`` under a name: ``@register("split_mnist")``."""


def build_benchmark(
    name: str,
    *,
    root: str,
    scenario: str | None = None,
    num_experiences: int | None = None,
    class_order: Sequence[int] | None = None,
    seed: int = 0,
    synthetic: Mapping | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
    validation_fraction: float = 0.0,
    preprocessing: str = "standardize",
) -> TensorBenchmark:
    """Builds benchmark ``name`` (see ``BENCHMARKS``) as tensors plus an Avalanche scenario.

    Args:
        name: ``split_mnist``, ``permuted_mnist``, ``split_fmnist``, ``split_cifar10``,
            ``split_cifar100`` or ``split_cifar110_6``.
        root: folder holding the datasets in torchvision's layout (``data.root``).
        scenario: ``task`` (task label = experience index, multi-head), ``class`` (task label
            0, one head) or ``domain`` (permuted MNIST only); None: the benchmark's default
            (``domain`` for permuted MNIST, ``task`` otherwise).
        num_experiences: None for the default (5 for MNIST/FMNIST/CIFAR-10 splits, 10 for
            permuted MNIST and CIFAR-100, 6 for split_cifar110_6); a split benchmark needs a
            divisor of its number of classes.
        class_order: a permutation of the class ids, cut into consecutive equal experiences;
            None is the natural order ``0, 1, …`` whatever the seed (no shuffling). Class ids are
            never remapped: experience ``i`` of ``class_order=[9, 8, …]`` holds classes 9 and 8.
        seed: draws the permutations of permuted MNIST and the synthetic data.
        synthetic: ``{train_per_class: int, test_per_class: int}`` (defaults 20 and 10): random
            data of the real benchmark's shapes and classes; no file is read.
        device: where the tensors live (the CPU when they would not fit on the GPU).
        download: let torchvision download missing files (needs network).
        validation_fraction: f in [0, 1); f > 0 holds out f of each experience's training
            examples (per class) and evaluates on them instead of the test set
            (:mod:`laftr_cl.benchmarks.validation`), for hyperparameter searches.
        preprocessing: ``standardize`` (per-dataset ``(x/255 − mean)/std``) or ``raw`` (pixels
            ``x/255`` in [0, 1]); synthetic data is mapped to (0, 1) by a sigmoid under ``raw``.

    Raises:
        ValueError: an unknown ``name`` or a setting the benchmark does not support.
        BenchmarkDataNotFoundError: (a ``FileNotFoundError``) the files are not under ``root``.
    """
    check_validation_fraction(validation_fraction)
    builder = BENCHMARKS.get(name)
    settings = make_settings(
        root=root,
        scenario=scenario,
        num_experiences=num_experiences,
        class_order=class_order,
        seed=seed,
        synthetic=synthetic,
        device=device,
        download=download,
        preprocessing=preprocessing,
    )
    return hold_out_validation(builder(settings), validation_fraction, seed)
