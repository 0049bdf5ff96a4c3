"""Training and test tensors for the influence studies, and label flipping."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor

from laftr_cl.fsd.tensors import random_rows


@dataclass(frozen=True)
class Split:
    """Attributes: x_train ``[N, *input_shape]``, y_train ``[N]``, x_test ``[M, ...]``, y_test ``[M]``, num_classes."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int


def load_split(benchmark: str, *, root: str, num_train: int, num_test: int, seed: int,
               synthetic: Mapping[str, Any] | None = None) -> Split:
    """``num_train`` training and ``num_test`` test examples of a whole dataset (all classes, one task),
    each a seeded random subset.

    Args:
        benchmark: a split benchmark of ``laftr_cl.benchmarks`` (``split_mnist``, ``split_fmnist``), read
            as one experience with every class.
        root: the dataset folder (``data.root``), e.g. ``../shared/datasets/fashion-mnist``.
        synthetic: ``{train_per_class, test_per_class}`` for random data of the right shape (no files).
    """
    from laftr_cl.benchmarks import build_benchmark  # imports Avalanche: only when data is loaded

    bench = build_benchmark(benchmark, root=root, num_experiences=1, scenario="class", seed=seed,
                            synthetic=None if synthetic is None else dict(synthetic))
    train, test = bench.train[0], bench.test[0]
    generator = torch.Generator().manual_seed(seed)
    return Split(
        *_subset(train.x, train.y, num_train, "num_train", generator),
        *_subset(test.x, test.y, num_test, "num_test", generator),
        num_classes=bench.num_classes,
    )


def _subset(x: Tensor, y: Tensor, size: int, setting: str, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    if not 1 <= size <= x.shape[0]:
        raise ValueError(f"{setting}={size} must be in [1, {x.shape[0]}] (the examples available).")
    index = random_rows(x.shape[0], size, generator)
    return x[index], y[index]


def flip_labels(y: Tensor, fraction: float, num_classes: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Labels with ``round(fraction · N)`` of them, chosen at random, changed to another class drawn
    uniformly; returns ``(noisy labels [N], flipped [N] bool)``."""
    if not 0 < fraction < 1 or num_classes < 2:
        raise ValueError(f"flip_fraction must be in (0, 1) and there must be ≥ 2 classes (got {fraction}, {num_classes}).")
    count = max(1, round(fraction * y.shape[0]))
    chosen = random_rows(y.shape[0], count, generator)
    shift = torch.randint(1, num_classes, (count,), generator=generator)
    noisy = y.clone()
    noisy[chosen] = (y[chosen] + shift) % num_classes
    flipped = torch.zeros(y.shape[0], dtype=torch.bool)
    flipped[chosen] = True
    return noisy, flipped
