"""The studies' one trainer (Adam on cross-entropy, minibatches of tensors) and its read-outs."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def train_classifier(model: nn.Module, x: Tensor, y: Tensor, *, epochs: int, batch_size: int, lr: float,
                     generator: torch.Generator, task_label: int | None = None,
                     on_step: Callable[[int], None] | None = None) -> int:
    """``epochs`` passes of Adam over ``x [N, ...]``, ``y [N]`` in minibatches drawn with ``generator``
    (on the CPU); returns the steps taken and leaves the model in eval mode.

    Args:
        task_label: passed to the model with each batch (``model(x, task_label)``, e.g. a
            :class:`~laftr_cl.models.TaskMaskedClassifier` masking its logits to the task's head);
            None calls ``model(x)``.
        on_step: called after every step with the step count (from 1).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    step = 0
    for _ in range(epochs):
        for batch in torch.randperm(x.shape[0], generator=generator).to(y.device).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            logits = model(x[batch]) if task_label is None else model(x[batch], task_label)
            F.cross_entropy(logits, y[batch]).backward()
            optimizer.step()
            step += 1
            if on_step is not None:
                on_step(step)
    model.eval()
    return step


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` classified as ``y``."""
    return float((model(x).argmax(-1) == y).float().mean())


@torch.no_grad()
def example_losses(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of each example, ``[N]``."""
    return F.cross_entropy(model(x), y, reduction="none")
