"""Reading task data given either as tensors or as an iterable of batches."""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import Tensor


def iterate_batches(data: Any, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(x [B, ...], y [B])`` batches (see :func:`iterate_task_batches`)."""
    for x, y, _ in iterate_task_batches(data, batch_size):
        yield x, y


def iterate_task_batches(data: Any, batch_size: int) -> Iterator[tuple[Tensor, Tensor, Tensor | None]]:
    """Yield ``(x [B, ...], y [B], t [B] or None)`` batches.

    ``data`` is a tuple ``(x [N, ...], y [N])`` of tensors (cut into ``batch_size`` chunks) or any
    other iterable of batches ``(x, y, ...)`` such as a DataLoader; ``t`` is a batch's third item
    (Avalanche's loaders give ``(x, y, task_labels)``), None when it has none.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer ≥ 1 (got {batch_size!r}).")
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"data=(x, y) needs as many labels as inputs: x has {x.shape[0]}, y has {y.shape[0]}.")
        for start in range(0, x.shape[0], batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size], None
        return
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                "data must be a tuple (x, y) of tensors or an iterable of (x, y, ...) batches; "
                f"got a batch of type {type(batch).__name__}."
            )
        task = torch.as_tensor(batch[2]) if len(batch) > 2 else None
        yield torch.as_tensor(batch[0]), torch.as_tensor(batch[1]), task
