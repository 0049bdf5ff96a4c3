"""Avalanche scenario over per-experience tensors: no files, no PIL, no per-sample transforms.

Each experience becomes a ``TaskAwareSupervisedClassificationDataset`` over one tensor dataset,
with the ``targets`` and ``targets_task_labels`` data attributes Avalanche's strategies, loaders
and metrics read; ``benchmark_from_datasets`` → ``with_task_labels`` → ``with_classes_timeline``
then gives experiences ``task_label``/``task_labels`` and ``classes_in_this_experience``.
"""
from __future__ import annotations

from functools import cached_property
from typing import Iterable, Sequence

import torch
from avalanche.benchmarks.scenarios import (
    CLScenario,
    benchmark_from_datasets,
    with_classes_timeline,
    with_task_labels,
)
from avalanche.benchmarks.utils import (
    ConstantSequence,
    DataAttribute,
    TaskAwareSupervisedClassificationDataset,
)
from torch import Tensor
from torch.utils.data import Dataset

from laftr_cl.benchmarks.base import TaskTensors


class TensorPairs(Dataset):
    """``(x[i], y[i])`` with ``x [N, *input_shape]`` a tensor (any device), ``y`` Python ints."""

    def __init__(self, x: Tensor, targets: list[int]) -> None:
        self.x = x
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.x[index], self.targets[index]


class ListAttribute(DataAttribute):
    """A ``DataAttribute`` over a Python list; ``uniques`` and ``val_to_idx`` read off the list.

    Avalanche's generic versions look each sample up through its ``FlatData`` (~5 µs a sample:
    3 s for the 700k targets of permuted MNIST, spent in ``with_classes_timeline``). Subsets and
    concatenations are plain ``DataAttribute``s again.
    """

    def __init__(self, values: list[int], name: str) -> None:
        super().__init__(values, name)
        self._values = values

    @cached_property
    def uniques(self) -> set[int]:  # type: ignore[override]
        return set(self._values)

    @cached_property
    def val_to_idx(self) -> dict[int, list[int]]:  # type: ignore[override]
        indices: dict[int, list[int]] = {}
        for index, value in enumerate(self._values):
            indices.setdefault(value, []).append(index)
        return indices


class TensorBatch(list):
    """A collated mini-batch ``[x [B, ...], y [B], t [B]]``.

    Avalanche strategies on CUDA default to ``pin_memory=True``; the DataLoader then calls this
    batch's ``pin_memory``, which pins CPU tensors and leaves tensors already on a GPU as they
    are (pinning those would raise).
    """

    def pin_memory(self) -> TensorBatch:
        return TensorBatch(t.pin_memory() if t.device.type == "cpu" else t for t in self)


def collate_tensor_batch(samples: Sequence[Sequence[Tensor | int]]) -> TensorBatch:
    """Samples ``(x, y, t)`` → ``TensorBatch``: tensors stacked, ints as int64 ``[B]`` (CPU)."""
    return TensorBatch(
        torch.stack(field) if isinstance(field[0], Tensor) else torch.tensor(field)
        for field in zip(*samples)
    )


def tensor_experience_dataset(task: TaskTensors) -> TaskAwareSupervisedClassificationDataset:
    """Yields ``(x [*input_shape], y: int, t: int)``; ``targets``/``targets_task_labels`` set."""
    targets = task.y.tolist()
    return TaskAwareSupervisedClassificationDataset(
        [TensorPairs(task.x, targets)],
        data_attributes=[
            ListAttribute(targets, "targets"),
            DataAttribute(
                ConstantSequence(task.task_label, len(targets)),
                "targets_task_labels",
                use_in_getitem=True,
            ),
        ],
        collate_fn=collate_tensor_batch,
    )


def tensor_scenario(train: Iterable[TaskTensors], test: Iterable[TaskTensors]) -> CLScenario:
    """``train_stream``/``test_stream`` with experience ``i`` backed by ``train[i]``/``test[i]``."""
    scenario = benchmark_from_datasets(
        train=[tensor_experience_dataset(task) for task in train],
        test=[tensor_experience_dataset(task) for task in test],
    )
    return with_classes_timeline(with_task_labels(scenario))
