"""Minibatches by indexing tensors: the fast path for tensor-backed experiences."""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor


class TensorBatchLoader:
    """Yields ``(x [B, ...], y [B], t [B])`` minibatches straight from tensors.

    Replaces a ``DataLoader`` over an Avalanche dataset (one ``__getitem__`` and a collate per
    sample) by one index op per minibatch. Shuffling draws a ``randperm`` on the tensors' device
    from ``generator`` (or torch's global generator), so a seeded run is reproducible.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        task_label: int,
        batch_size: int,
        shuffle: bool,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
        self.x, self.y = x, y
        self.t = torch.full_like(y, task_label)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = self.x.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        n = self.x.shape[0]
        stop = n - n % self.batch_size if self.drop_last else n
        if not self.shuffle:
            for start in range(0, stop, self.batch_size):
                end = min(start + self.batch_size, n)
                yield self.x[start:end], self.y[start:end], self.t[start:end]
            return
        order = torch.randperm(n, device=self.x.device, generator=self.generator)
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.x[idx], self.y[idx], self.t[idx]
