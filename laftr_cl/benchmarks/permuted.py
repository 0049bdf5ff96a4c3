"""Permuted MNIST: the same 10 digits in every experience, under a fixed pixel permutation each."""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.benchmarks.avalanche_scenario import tensor_scenario
from laftr_cl.benchmarks.base import ScenarioKind, TaskTensors, TensorBenchmark
from laftr_cl.benchmarks.catalog import CATALOG
from laftr_cl.benchmarks.data import benchmark_data
from laftr_cl.benchmarks.registry import register
from laftr_cl.benchmarks.settings import BenchmarkSettings, resolve_scenario, task_labels
from laftr_cl.benchmarks.sources import SOURCES, load_sources

NAME = "permuted_mnist"
FACTS = CATALOG[NAME]
"""Its classes (one dataset's, all of them in every experience) and default number of experiences."""
SOURCE = SOURCES[FACTS.parts[0].dataset]
PERMUTED_SCENARIOS: tuple[ScenarioKind, ...] = ("domain",)
"""``domain``: one head, task label 0. ``task`` is refused (:data:`NO_TASK_SCENARIO`)."""
NO_TASK_SCENARIO = (
    "benchmark.scenario='task' is refused for 'permuted_mnist': every permuted task holds the same ten "
    "digits, so masking the output layer to each task's classes leaves all tasks on one shared head "
    "(results bit-identical to scenario=domain) - there are no per-task heads to select. Use "
    "benchmark.scenario=domain, or a split benchmark (e.g. benchmark=split_mnist) for task-incremental learning."
)


@register(NAME)
def permuted_mnist(settings: BenchmarkSettings) -> TensorBenchmark:
    """MNIST ``[N, 1, 28, 28]`` in ``num_experiences`` (default 10) pixel orders.

    Experience 0 is unpermuted; experience ``i ≥ 1`` applies permutation ``i`` of
    ``pixel_permutations(num_experiences, 784, seed)`` to train and test alike. Every experience
    has classes 0–9 (``task_classes[i] = [0, …, 9]``). ``extra["permutations"]`` holds the
    permutations, ``[num_experiences, 784]`` int64 on the CPU.
    """
    if settings.scenario == "task":
        raise ValueError(NO_TASK_SCENARIO)
    kind = resolve_scenario(NAME, settings.scenario, PERMUTED_SCENARIOS)
    if settings.class_order is not None:
        raise ValueError(
            f"benchmark.class_order={list(settings.class_order)} does not apply to {NAME!r}: "
            "every experience holds the same 10 digits. Set benchmark.class_order=null."
        )
    num_experiences = settings.num_experiences or FACTS.default_experiences
    data = benchmark_data(
        settings,
        FACTS.input_shape,
        FACTS.num_classes,
        lambda s: load_sources(s, NAME, SOURCE)[0],
    )
    permutations = pixel_permutations(num_experiences, data.x_train[0].numel(), settings.seed)
    labels = task_labels(kind, num_experiences)
    train = _permuted_experiences(data.x_train, data.y_train, permutations, labels)
    test = _permuted_experiences(data.x_test, data.y_test, permutations, labels)
    return TensorBenchmark(
        name=NAME,
        scenario=tensor_scenario(train, test),
        train=train,
        test=test,
        task_classes=[list(range(FACTS.num_classes)) for _ in range(num_experiences)],
        num_classes=FACTS.num_classes,
        input_shape=FACTS.input_shape,
        scenario_kind=kind,
        extra={"synthetic": settings.synthetic is not None, "permutations": permutations},
    )


def pixel_permutations(num_experiences: int, num_pixels: int, seed: int) -> Tensor:
    """``[num_experiences, num_pixels]`` int64: row 0 the identity, the others from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    rows = [torch.arange(num_pixels)]
    rows += [torch.randperm(num_pixels, generator=generator) for _ in range(num_experiences - 1)]
    return torch.stack(rows)


def _permuted_experiences(
    x: Tensor, y: Tensor, permutations: Tensor, labels: list[int]
) -> list[TaskTensors]:
    """One experience per row of ``permutations``: ``x`` permuted, ``y`` shared (not copied)."""
    return [TaskTensors(permute_pixels(x, p), y, t) for p, t in zip(permutations, labels)]


def permute_pixels(x: Tensor, permutation: Tensor) -> Tensor:
    """``x [N, C, H, W]`` with its ``C·H·W`` inputs reordered by ``permutation [C·H·W]``.

    ``out.flatten(1) = x.flatten(1)[:, permutation]``, computed as one ``gather`` (twice as fast
    as advanced indexing on the CPU).
    """
    flat = x.flatten(1)
    index = permutation.to(flat.device).expand_as(flat)
    return torch.gather(flat, 1, index).view_as(x)
