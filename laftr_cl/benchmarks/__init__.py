"""Continual-learning benchmarks as tensors plus tensor-backed Avalanche scenarios.

``build_benchmark(name, root=..., ...)`` → ``TensorBenchmark``; ``BENCHMARKS`` lists the names.
What each benchmark is (its classes, datasets, default experiences) is plain data in
:mod:`laftr_cl.benchmarks.catalog`, which imports no torch.

The builders are imported on first use of a name below (PEP 562), and importing them registers every
benchmark in ``BENCHMARKS``; so ``import laftr_cl.benchmarks.catalog`` (the command-line checks do,
before Hydra starts) loads neither torch nor Avalanche.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from laftr_cl.benchmarks.errors import BenchmarkDataNotFoundError

_EXPORTS = {
    "BENCHMARKS": "laftr_cl.benchmarks.registry",
    "build_benchmark": "laftr_cl.benchmarks.registry",
    "register": "laftr_cl.benchmarks.registry",
    "ClassificationData": "laftr_cl.benchmarks.base",
    "TaskTensors": "laftr_cl.benchmarks.base",
    "TensorBenchmark": "laftr_cl.benchmarks.base",
}
"""Each public name's module, imported (with every builder) on first use."""

__all__ = [
    "BENCHMARKS",
    "BenchmarkDataNotFoundError",
    "ClassificationData",
    "TaskTensors",
    "TensorBenchmark",
    "build_benchmark",
    "register",
]

if TYPE_CHECKING:
    from laftr_cl.benchmarks.base import ClassificationData, TaskTensors, TensorBenchmark
    from laftr_cl.benchmarks.registry import BENCHMARKS, build_benchmark, register


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from laftr_cl.benchmarks import permuted, split  # noqa: F401  (register the builders)

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
