"""Class-split benchmarks: each experience holds its own classes (Split MNIST, FMNIST, CIFAR).

Each benchmark's classes and default number of experiences are its entry of
:data:`laftr_cl.benchmarks.catalog.CATALOG`.
"""
from __future__ import annotations

import torch

from laftr_cl.benchmarks.avalanche_scenario import tensor_scenario
from laftr_cl.benchmarks.base import ClassificationData, ScenarioKind, TensorBenchmark
from laftr_cl.benchmarks.catalog import CATALOG, DATASETS, Part, resolve_task_classes
from laftr_cl.benchmarks.data import LoadReal, benchmark_data
from laftr_cl.benchmarks.registry import register
from laftr_cl.benchmarks.settings import (
    BenchmarkSettings,
    resolve_scenario,
    task_labels,
)
from laftr_cl.benchmarks.sources import SOURCES, load_sources
from laftr_cl.benchmarks.splits import split_by_class

SPLIT_SCENARIOS: tuple[ScenarioKind, ...] = ("task", "class")
"""Scenarios of every split benchmark; the first is the default."""


def build_split(
    name: str,
    settings: BenchmarkSettings,
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    default_experiences: int,
    load_real: LoadReal,
) -> TensorBenchmark:
    """Cuts the classes into equal experiences (``settings.class_order`` order) and builds them.

    Settings are checked before any file is read. Task labels are the experience index in the
    ``task`` scenario and 0 in the ``class`` scenario.
    """
    kind = resolve_scenario(name, settings.scenario, SPLIT_SCENARIOS)
    num_experiences = settings.num_experiences or default_experiences
    task_classes = resolve_task_classes(name, num_classes, settings.class_order, num_experiences)
    data = benchmark_data(settings, input_shape, num_classes, load_real)
    train, test = split_by_class(data, task_classes, task_labels(kind, num_experiences))
    return TensorBenchmark(
        name=name,
        scenario=tensor_scenario(train, test),
        train=train,
        test=test,
        task_classes=task_classes,
        num_classes=num_classes,
        input_shape=input_shape,
        scenario_kind=kind,
        extra={"synthetic": settings.synthetic is not None},
    )


def _split_catalogued(name: str, settings: BenchmarkSettings) -> TensorBenchmark:
    """Benchmark ``name`` of :data:`~laftr_cl.benchmarks.catalog.CATALOG`: its datasets' classes,
    joined as its parts say, cut into equal experiences."""
    facts = CATALOG[name]
    sources = [SOURCES[part.dataset] for part in facts.parts]
    return build_split(
        name,
        settings,
        input_shape=facts.input_shape,
        num_classes=facts.num_classes,
        default_experiences=facts.default_experiences,
        load_real=lambda s: _join_parts(load_sources(s, name, *sources), facts.parts),
    )


def _join_parts(loaded: list[ClassificationData], parts: tuple[Part, ...]) -> ClassificationData:
    """One dataset of the first ``part.classes`` classes of each loaded dataset, in order, their ids
    shifted past the previous parts' (``loaded[i]`` is ``parts[i]``'s dataset). A single part of all its
    dataset's classes is that dataset itself (no copy)."""
    if len(parts) == 1 and parts[0].classes == DATASETS[parts[0].dataset].num_classes:
        return loaded[0]
    device = loaded[0].x_train.device
    train, test, offset = ([], []), ([], []), 0
    for data, part in zip(loaded, parts):
        data = data.to(device)
        for (xs, ys), x, y in ((train, data.x_train, data.y_train), (test, data.x_test, data.y_test)):
            keep = y < part.classes
            xs.append(x[keep])
            ys.append(y[keep] + offset)
        offset += part.classes
    return ClassificationData(torch.cat(train[0]), torch.cat(train[1]), torch.cat(test[0]), torch.cat(test[1]))


@register("split_mnist")
def split_mnist(settings: BenchmarkSettings) -> TensorBenchmark:
    """MNIST ``[N, 1, 28, 28]`` as 5 experiences of digit pairs (0/1, 2/3, …, 8/9)."""
    return _split_catalogued("split_mnist", settings)


@register("split_fmnist")
def split_fmnist(settings: BenchmarkSettings) -> TensorBenchmark:
    """Fashion-MNIST ``[N, 1, 28, 28]`` as 5 experiences of class pairs (0/1, …, 8/9)."""
    return _split_catalogued("split_fmnist", settings)


@register("split_cifar10")
def split_cifar10(settings: BenchmarkSettings) -> TensorBenchmark:
    """CIFAR-10 ``[N, 3, 32, 32]`` as 5 experiences of 2 classes."""
    return _split_catalogued("split_cifar10", settings)


@register("split_cifar100")
def split_cifar100(settings: BenchmarkSettings) -> TensorBenchmark:
    """CIFAR-100 ``[N, 3, 32, 32]`` as 10 experiences of 10 classes."""
    return _split_catalogued("split_cifar100", settings)


@register("split_cifar110_6")
def split_cifar110_6(settings: BenchmarkSettings) -> TensorBenchmark:
    """The LAFTR paper's 6-task Split CIFAR (60 classes, ``[N, 3, 32, 32]``).

    Experience 0 is all of CIFAR-10 (global ids 0–9); experiences 1–5 are CIFAR-100 classes
    0–9, 10–19, …, 40–49 as global ids 10–19, …, 50–59, each dataset normalised with its own
    statistics. (Avalanche's ``SplitCIFAR110`` instead spreads all 100 CIFAR-100 classes over the
    experiences.) ``class_order`` permutes the 60 global ids before they are cut into
    ``num_experiences`` (default 6) chunks.
    """
    return _split_catalogued("split_cifar110_6", settings)
