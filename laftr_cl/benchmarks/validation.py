"""A validation split held out of each experience's training data (``data.validation_fraction``).

Hyperparameter searches must never look at the test set: with a fraction f > 0 each
experience's training examples are split, class by class, into f for validation and 1 − f for
training, and the validation sets take the place of the test sets (the scenario's evaluation
stream). The test tensors are dropped from the returned benchmark.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from laftr_cl.benchmarks.avalanche_scenario import tensor_scenario
from laftr_cl.benchmarks.base import TaskTensors, TensorBenchmark
from laftr_cl.benchmarks.catalog import held_out_count


def check_validation_fraction(fraction: float) -> None:
    """ValueError naming ``data.validation_fraction`` unless 0 ≤ fraction < 1."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise ValueError(
            f"data.validation_fraction={fraction!r} must be a number in [0, 1): the share of each task's "
            "training examples held out for validation (0: evaluate on the test set), e.g. "
            "data.validation_fraction=0.1.")


def hold_out_validation(benchmark: TensorBenchmark, fraction: float, seed: int) -> TensorBenchmark:
    """``benchmark`` trained on ``1 − fraction`` of each experience's training data and evaluated
    on the held-out rest (``round(fraction · n_c)`` examples of each class c, at least one:
    :func:`~laftr_cl.benchmarks.catalog.held_out_count`).

    ``extra["eval_split"]`` is ``"validation"``. Raises ValueError when a class has too few
    training examples to leave some on both sides.
    """
    check_validation_fraction(fraction)
    if fraction == 0:
        return benchmark
    generator = torch.Generator().manual_seed(seed)
    train, validation = [], []
    for index, task in enumerate(benchmark.train):
        fit, held = _split(task, fraction, generator, index)
        train.append(fit)
        validation.append(held)
    return dataclasses.replace(
        benchmark, scenario=tensor_scenario(train, validation), train=train, test=validation,
        extra={**benchmark.extra, "eval_split": "validation", "validation_fraction": fraction})


def _split(task: TaskTensors, fraction: float, generator: torch.Generator,
           index: int) -> tuple[TaskTensors, TaskTensors]:
    labels = task.y.cpu()
    held: list[Tensor] = []
    for label in labels.unique().tolist():
        members = torch.nonzero(labels == label).flatten()
        count = held_out_count(fraction, members.numel())
        if count >= members.numel():
            raise ValueError(
                f"data.validation_fraction={fraction} leaves no training example of class {label} in "
                f"experience {index} ({members.numel()} examples): lower the fraction or use more data.")
        held.append(members[torch.randperm(members.numel(), generator=generator)[:count]])
    mask = torch.zeros(labels.numel(), dtype=torch.bool)
    mask[torch.cat(held)] = True
    mask = mask.to(task.y.device)
    return (TaskTensors(task.x[~mask], task.y[~mask], task.task_label),
            TaskTensors(task.x[mask], task.y[mask], task.task_label))
