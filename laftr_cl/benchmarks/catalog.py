"""What each dataset and benchmark is, as plain data: the one place the builders and the config checks read.

* :data:`DATASETS`: each official dataset's image shape, classes and the training examples of its
  largest class;
* :data:`CATALOG`: each benchmark's class ids (the datasets they come from, in order), its default
  number of experiences and whether every experience holds every class;
* :func:`held_out_count`: how many training examples of a class the validation split holds out;
* :func:`resolve_task_classes`: the classes of each experience of a split benchmark.

The builders (:mod:`laftr_cl.benchmarks.split`, :mod:`~laftr_cl.benchmarks.permuted`,
:mod:`~laftr_cl.benchmarks.sources`, :mod:`~laftr_cl.benchmarks.validation`) build from these facts;
:mod:`laftr_cl.config.compile_checks` reads them to tell each task's size before any data is read. No
torch here: the command-line checks import it before Hydra starts.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetFacts:
    """An official dataset as torchvision reads it.

    Attributes:
        input_shape: ``(C, H, W)`` of one image.
        num_classes: its class ids are ``0 … num_classes − 1``.
        largest_class: training examples of its largest class in the official training split
            (MNIST's digit 1 has 6,742); the most a task can hold per class.
    """

    input_shape: tuple[int, int, int]
    num_classes: int
    largest_class: int


DATASETS = {
    "mnist": DatasetFacts((1, 28, 28), 10, 6742),
    "fashion_mnist": DatasetFacts((1, 28, 28), 10, 6000),
    "cifar10": DatasetFacts((3, 32, 32), 10, 5000),
    "cifar100": DatasetFacts((3, 32, 32), 100, 500),
}
"""Every dataset a benchmark reads, by name."""


@dataclass(frozen=True)
class Part:
    """The first ``classes`` class ids of dataset ``dataset`` (a key of :data:`DATASETS`)."""

    dataset: str
    classes: int


@dataclass(frozen=True)
class BenchmarkFacts:
    """A benchmark's classes and experiences.

    Attributes:
        parts: where its class ids come from, in order: the first part's classes are ids
            ``0 … parts[0].classes − 1``, the next part's follow (split_cifar110_6: CIFAR-10's 10
            classes as ids 0–9, then CIFAR-100's classes 0–49 as ids 10–59).
        default_experiences: the number of experiences when ``benchmark.num_experiences`` is null.
        every_class_each_task: every experience holds every class (permuted MNIST); otherwise the
            classes are cut into equal experiences.
    """

    parts: tuple[Part, ...]
    default_experiences: int
    every_class_each_task: bool = False

    @property
    def num_classes(self) -> int:
        """The number of class ids, ``sum(part.classes)``."""
        return sum(part.classes for part in self.parts)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one input (every part's dataset has the same)."""
        return DATASETS[self.parts[0].dataset].input_shape

    @property
    def class_datasets(self) -> list[str]:
        """The dataset of each class id, ``[num_classes]``."""
        return [part.dataset for part in self.parts for _ in range(part.classes)]


def _whole(dataset: str) -> tuple[Part]:
    return (Part(dataset, DATASETS[dataset].num_classes),)


CATALOG = {
    "split_mnist": BenchmarkFacts(_whole("mnist"), 5),
    "permuted_mnist": BenchmarkFacts(_whole("mnist"), 10, every_class_each_task=True),
    "split_fmnist": BenchmarkFacts(_whole("fashion_mnist"), 5),
    "split_cifar10": BenchmarkFacts(_whole("cifar10"), 5),
    "split_cifar100": BenchmarkFacts(_whole("cifar100"), 10),
    "split_cifar110_6": BenchmarkFacts((Part("cifar10", 10), Part("cifar100", 50)), 6),
}
"""Every benchmark, by config name (``benchmark.name``); each has its builder in ``BENCHMARKS``."""

SYNTHETIC_TRAIN_PER_CLASS = 20
"""Training examples per class of the synthetic data when ``data.synthetic`` does not say."""
SYNTHETIC_TEST_PER_CLASS = 10
"""Test examples per class of the synthetic data when ``data.synthetic`` does not say."""


def held_out_count(fraction: float, count: int) -> int:
    """Training examples of a class of ``count`` held out for validation under
    ``data.validation_fraction=fraction``: ``max(1, round(fraction · count))``, none when ``fraction`` is 0."""
    return max(1, round(fraction * count)) if fraction > 0 else 0


def resolve_task_classes(
    benchmark: str, num_classes: int, class_order: Sequence[int] | None, num_experiences: int
) -> list[list[int]]:
    """Cuts ``class_order`` (default ``0 … num_classes − 1``) into ``num_experiences`` equal chunks.

    Returns ``task_classes``: ``task_classes[i]`` = the class ids of experience ``i``.
    """
    natural = list(range(num_classes))
    order = natural if class_order is None else list(class_order)
    if not all(type(c) is int for c in order) or sorted(order) != natural:
        raise ValueError(
            f"benchmark.class_order={order} is not a permutation of {benchmark!r}'s classes "
            f"0..{num_classes - 1} (each id exactly once): fix it, or set "
            "benchmark.class_order=null for the natural order."
        )
    if num_classes % num_experiences:
        divisors = [n for n in range(1, num_classes + 1) if num_classes % n == 0]
        raise ValueError(
            f"benchmark.num_experiences={num_experiences} does not divide {benchmark!r}'s "
            f"{num_classes} classes into equal experiences: choose one of {divisors}."
        )
    size = num_classes // num_experiences
    return [order[i * size : (i + 1) * size] for i in range(num_experiences)]
