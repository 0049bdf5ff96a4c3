"""Multi-head output by masking: one output unit per class, each task sees only its own units."""
from __future__ import annotations

from typing import Sequence

import torch
from avalanche.models import MultiTaskModule
from torch import Tensor, nn

MASKED_LOGIT = -1.0e4
"""Logit given to another task's classes: softmax sends it to 0 and stays finite in fp16."""


class TaskMaskedClassifier(MultiTaskModule):
    """Wraps a network whose last layer has one unit per class of the whole benchmark.

    With ``task_classes`` (task-incremental, "multi-head"), the logits of an input of task ``t``
    are masked to ``task_classes[t]``: the rows of the last ``Linear`` that belong to task ``t``
    are its head, and as class sets are disjoint this equals one separate head per task. The
    masking is a gather and a ``masked_fill`` (no host synchronisation), so mixed-task batches
    (replay) cost the same as single-task ones. With ``task_classes=None`` (class- or
    domain-incremental) all outputs are returned: a single head.

    The FSD core traces this module as a whole with each task's label (the mask is a constant
    output mask of that task's graph), so summaries must record their task label.

    Attributes:
        net: the wrapped network (any module mapping ``x`` to logits over all classes).
        num_outputs: the units of its last ``Linear`` (one per class of the benchmark), or None.
    """

    def __init__(self, net: nn.Module, task_classes: Sequence[Sequence[int]] | None = None) -> None:
        super().__init__()
        self.net = net
        self.multi_head = task_classes is not None
        linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
        self.num_outputs = linear[-1].out_features if linear else None
        if task_classes is not None:
            num_outputs = _num_outputs(net)
            mask = torch.zeros(len(task_classes), num_outputs, dtype=torch.bool)
            for task, classes in enumerate(task_classes):
                if any(c < 0 or c >= num_outputs for c in classes):
                    raise ValueError(
                        f"Task {task} has classes {list(classes)} but the model has "
                        f"{num_outputs} outputs: set model.num_outputs to the benchmark's "
                        "number of classes."
                    )
                mask[task, list(classes)] = True
            self.register_buffer("task_mask", mask, persistent=False)
        else:
            self.task_mask = None

    def output_units(self, task: int) -> list[int] | None:
        """The output units of ``task``'s head, or None (all outputs) for a single head."""
        if self.task_mask is None:
            return None
        return torch.nonzero(self.task_mask[task]).flatten().tolist()

    def forward(self, x: Tensor, task_labels: Tensor | int | None | str = "single") -> Tensor | dict[int, Tensor]:
        """``x [B, ...]``, ``task_labels [B]`` (or an int) → logits ``[B, num_outputs]``.

        ``task_labels=None`` follows Avalanche's ``MultiTaskModule`` contract (used by LwF):
        a dict from each task seen in training to that task's logits. Called without task labels
        (Avalanche's DER stores its buffer's logits so), a single head returns its logits; a
        multi-head model cannot answer and raises.
        """
        if isinstance(task_labels, str):
            if self.task_mask is not None:
                raise TypeError("A multi-head model needs the task labels of its inputs.")
            return self.net(x)
        if task_labels is None:
            return self.forward_all_tasks(x)
        logits = self.net(x)
        if self.task_mask is None:
            return logits
        if isinstance(task_labels, int):
            keep = self.task_mask[task_labels].expand_as(logits)
        else:
            keep = self.task_mask[task_labels.to(self.task_mask.device)]
        return logits.masked_fill(~keep, MASKED_LOGIT)

    def forward_single_task(self, x: Tensor, task_label: int) -> Tensor:
        return self.forward(x, task_label)

    def forward_all_tasks(self, x: Tensor) -> dict[int, Tensor]:
        """One pass of the network, masked once per task seen in training."""
        logits = self.net(x)
        if self.task_mask is None:
            return {task: logits for task in self.known_train_tasks_labels}
        return {
            task: logits.masked_fill(~self.task_mask[task], MASKED_LOGIT)
            for task in self.known_train_tasks_labels
        }


def _num_outputs(net: nn.Module) -> int:
    last_linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not last_linear:
        raise ValueError("The model has no nn.Linear output layer; multi-head masking needs one.")
    return last_linear[-1].out_features
