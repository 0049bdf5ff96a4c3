"""Continual-learning benchmarks as tensors plus tensor-backed Avalanche scenarios.

``build_benchmark(name, root=..., ...)`` → ``TensorBenchmark``; ``BENCHMARKS`` lists the names.
Importing the builder modules below registers them.
"""
from laftr_cl.benchmarks import permuted, split  # noqa: F401  (register the builders)
from laftr_cl.benchmarks.base import ClassificationData, TaskTensors, TensorBenchmark
from laftr_cl.benchmarks.errors import BenchmarkDataNotFoundError
from laftr_cl.benchmarks.registry import BENCHMARKS, build_benchmark, register

__all__ = [
    "BENCHMARKS",
    "BenchmarkDataNotFoundError",
    "ClassificationData",
    "TaskTensors",
    "TensorBenchmark",
    "build_benchmark",
    "register",
]
