"""Cutting a whole dataset into experiences by class, with boolean masks."""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.benchmarks.base import ClassificationData, TaskTensors


def split_by_class(
    data: ClassificationData, task_classes: list[list[int]], task_labels: list[int]
) -> tuple[list[TaskTensors], list[TaskTensors]]:
    """Experience ``i`` holds the samples whose class is in ``task_classes[i]`` (train and test).

    Returns ``(train, test)``: per-experience tensors ``x [N_i, *input_shape]``, ``y [N_i]`` with
    ``task_label = task_labels[i]``; samples keep their order in ``data``.
    """
    return (
        _select(data.x_train, data.y_train, task_classes, task_labels),
        _select(data.x_test, data.y_test, task_classes, task_labels),
    )


def _select(
    x: Tensor, y: Tensor, task_classes: list[list[int]], task_labels: list[int]
) -> list[TaskTensors]:
    tasks = []
    for classes, task_label in zip(task_classes, task_labels):
        mask = torch.isin(y, torch.tensor(classes, device=y.device))
        tasks.append(TaskTensors(x[mask], y[mask], task_label))
    return tasks
