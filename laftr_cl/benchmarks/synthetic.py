"""Random stand-in data with a benchmark's shapes and classes: tests and timing without files."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from laftr_cl.benchmarks.base import ClassificationData
from laftr_cl.benchmarks.settings import SyntheticSpec

CLASS_SEPARATION = 12.0
"""Expected distance between two class means, in units of the per-input noise std: classes are
learnable from a few samples per class, yet overlap enough that losses do not reach exactly 0."""


def synthetic_data(
    input_shape: tuple[int, ...], num_classes: int, spec: SyntheticSpec, seed: int
) -> ClassificationData:
    """Gaussian classes: ``x = mean[y] + noise``, ``noise ~ N(0, I)``, ``mean[c] ~ N(0, σ²I)``.

    ``σ = CLASS_SEPARATION / √(2·d)`` for ``d`` inputs, so the classes are as far apart for
    CIFAR's shape as for MNIST's, and each input has mean ≈ 0 and std ≈ 1 like the normalised real
    data. Means are shared by train and test; samples are shuffled (classes interleaved, as in the
    real files). Drawn on the CPU from ``seed`` alone.

    Returns:
        ``x_train [num_classes·train_per_class, *input_shape]``, ``x_test
        [num_classes·test_per_class, *input_shape]`` float32, labels ``y_* [N]`` int64.
    """
    generator = torch.Generator().manual_seed(seed)
    scale = CLASS_SEPARATION / math.sqrt(2 * math.prod(input_shape))
    means = scale * torch.randn((num_classes, *input_shape), generator=generator)
    x_train, y_train = _draw(means, spec.train_per_class, generator)
    x_test, y_test = _draw(means, spec.test_per_class, generator)
    return ClassificationData(x_train, y_train, x_test, y_test)


def _draw(means: Tensor, per_class: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``per_class`` samples of each class of ``means [C, *input_shape]``, in random order."""
    labels = torch.arange(means.shape[0]).repeat_interleave(per_class)
    labels = labels[torch.randperm(len(labels), generator=generator)]
    noise = torch.randn((len(labels), *means.shape[1:]), generator=generator)
    return means[labels].add_(noise), labels
