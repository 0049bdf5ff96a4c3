"""The benchmark object every builder returns: an Avalanche scenario plus its decoded tensors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from laftr_cl.fsd.tensors import tensor_bytes

ScenarioKind = Literal["task", "class", "domain"]


@dataclass(frozen=True)
class ClassificationData:
    """A whole dataset's decoded tensors, before it is cut into experiences.

    Attributes:
        x_train, x_test: ``[N, *input_shape]`` float32, normalised.
        y_train, y_test: ``[N]`` int64 class ids.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def nbytes(self) -> int:
        """Bytes held by the four tensors."""
        return tensor_bytes((self.x_train, self.y_train, self.x_test, self.y_test))

    def to(self, device: torch.device) -> ClassificationData:
        """The same tensors on ``device`` (no copy when already there)."""
        return ClassificationData(
            self.x_train.to(device),
            self.y_train.to(device),
            self.x_test.to(device),
            self.y_test.to(device),
        )


@dataclass
class TaskTensors:
    """One experience's data, decoded once.

    Attributes:
        x: ``[N, *input_shape]`` float32, already normalised (and permuted, for permuted MNIST).
        y: ``[N]`` int64 global class ids (0 … num_classes − 1).
        task_label: the experience's task label (its index in task-incremental scenarios, 0
            otherwise).
    """

    x: Tensor
    y: Tensor
    task_label: int


@dataclass
class TensorBenchmark:
    """A continual-learning benchmark whose experiences are backed by tensors.

    Attributes:
        name: config name, e.g. ``"split_mnist"``.
        scenario: the Avalanche ``CLScenario`` (``train_stream``, ``test_stream``) built from
            tensor-backed datasets; experience ``i`` of each stream holds ``train[i]``/``test[i]``.
        train, test: per-experience tensors, in stream order.
        task_classes: ``task_classes[i]`` = the global class ids of experience ``i``.
        num_classes: number of output units the model needs.
        input_shape: shape of one input, e.g. ``(1, 28, 28)``.
        scenario_kind: ``task`` (multi-head), ``class`` (one head) or ``domain`` (one head,
            same classes every experience).
    """

    name: str
    scenario: object
    train: list[TaskTensors]
    test: list[TaskTensors]
    task_classes: list[list[int]]
    num_classes: int
    input_shape: tuple[int, ...]
    scenario_kind: ScenarioKind
    extra: dict = field(default_factory=dict)

    @property
    def num_experiences(self) -> int:
        return len(self.train)
