"""Class-split benchmarks: each experience holds its own classes (Split MNIST, FMNIST, CIFAR)."""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.benchmarks.avalanche_scenario import tensor_scenario
from laftr_cl.benchmarks.base import ClassificationData, ScenarioKind, TensorBenchmark
from laftr_cl.benchmarks.data import LoadReal, benchmark_data
from laftr_cl.benchmarks.registry import register
from laftr_cl.benchmarks.settings import (
    BenchmarkSettings,
    resolve_scenario,
    resolve_task_classes,
    task_labels,
)
from laftr_cl.benchmarks.sources import (
    CIFAR10,
    CIFAR100,
    FASHION_MNIST,
    MNIST,
    DatasetSource,
    load_sources,
)
from laftr_cl.benchmarks.splits import split_by_class

SPLIT_SCENARIOS: tuple[ScenarioKind, ...] = ("task", "class")
"""Scenarios of every split benchmark; the first is the default."""

CIFAR100_CLASSES_IN_CIFAR110_6 = 50
"""split_cifar110_6 uses CIFAR-100 classes 0–49, as global ids 10–59."""


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


def _split_source(
    name: str, source: DatasetSource, settings: BenchmarkSettings, default_experiences: int
) -> TensorBenchmark:
    """A split of one torchvision dataset over all its classes."""
    return build_split(
        name,
        settings,
        input_shape=source.input_shape,
        num_classes=source.num_classes,
        default_experiences=default_experiences,
        load_real=lambda s: load_sources(s, name, source)[0],
    )


@register("split_mnist")
def split_mnist(settings: BenchmarkSettings) -> TensorBenchmark:
    """MNIST ``[N, 1, 28, 28]`` as 5 experiences of digit pairs (0/1, 2/3, …, 8/9)."""
    return _split_source("split_mnist", MNIST, settings, default_experiences=5)


@register("split_fmnist")
def split_fmnist(settings: BenchmarkSettings) -> TensorBenchmark:
    """Fashion-MNIST ``[N, 1, 28, 28]`` as 5 experiences of class pairs (0/1, …, 8/9)."""
    return _split_source("split_fmnist", FASHION_MNIST, settings, default_experiences=5)


@register("split_cifar10")
def split_cifar10(settings: BenchmarkSettings) -> TensorBenchmark:
    """CIFAR-10 ``[N, 3, 32, 32]`` as 5 experiences of 2 classes."""
    return _split_source("split_cifar10", CIFAR10, settings, default_experiences=5)


@register("split_cifar100")
def split_cifar100(settings: BenchmarkSettings) -> TensorBenchmark:
    """CIFAR-100 ``[N, 3, 32, 32]`` as 10 experiences of 10 classes."""
    return _split_source("split_cifar100", CIFAR100, settings, default_experiences=10)


@register("split_cifar110_6")
def split_cifar110_6(settings: BenchmarkSettings) -> TensorBenchmark:
    """The LAFTR paper's 6-task Split CIFAR (60 classes, ``[N, 3, 32, 32]``).

    Experience 0 is all of CIFAR-10 (global ids 0–9); experiences 1–5 are CIFAR-100 classes
    0–9, 10–19, …, 40–49 as global ids 10–19, …, 50–59. (Avalanche's ``SplitCIFAR110`` instead
    spreads all 100 CIFAR-100 classes over the experiences.) ``class_order`` permutes the 60
    global ids before they are cut into ``num_experiences`` (default 6) chunks.
    """
    return build_split(
        "split_cifar110_6",
        settings,
        input_shape=CIFAR10.input_shape,
        num_classes=CIFAR10.num_classes + CIFAR100_CLASSES_IN_CIFAR110_6,
        default_experiences=6,
        load_real=_cifar110_6_data,
    )


def _cifar110_6_data(settings: BenchmarkSettings) -> ClassificationData:
    """CIFAR-10 (ids 0–9) then CIFAR-100 classes 0–49 (ids 10–59), each normalised with its own
    statistics."""
    cifar10, cifar100 = load_sources(settings, "split_cifar110_6", CIFAR10, CIFAR100)
    cifar100 = cifar100.to(cifar10.x_train.device)
    x_train, y_train = _append_cifar100(
        cifar10.x_train, cifar10.y_train, cifar100.x_train, cifar100.y_train
    )
    x_test, y_test = _append_cifar100(
        cifar10.x_test, cifar10.y_test, cifar100.x_test, cifar100.y_test
    )
    return ClassificationData(x_train, y_train, x_test, y_test)


def _append_cifar100(
    x10: Tensor, y10: Tensor, x100: Tensor, y100: Tensor
) -> tuple[Tensor, Tensor]:
    """CIFAR-10 samples, then the CIFAR-100 samples of classes 0–49 relabelled 10–59."""
    keep = y100 < CIFAR100_CLASSES_IN_CIFAR110_6
    return torch.cat([x10, x100[keep]]), torch.cat([y10, y100[keep] + CIFAR10.num_classes])
