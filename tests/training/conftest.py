"""Shared set-up of the training tests: one torch thread (tiny tensors on a loaded 2-core box) and
a tiny real Avalanche strategy over synthetic Permuted MNIST."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.run.build import build_evaluator
from laftr_cl.training.guards import TrainingGuard
from laftr_cl.training.strategy import build_strategy


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_strategy() -> Callable[..., tuple[Any, Any]]:
    """``make_strategy(plugin, device=..., evaluator=..., **strategy_options)`` → (strategy, benchmark):
    an MLP 784-32-10 on 3 synthetic Permuted MNIST tasks of 100 images, batch 16, the NaN guard first."""

    def make(plugin: Any = None, *, device: str = "cpu", evaluator: Any = None, check_every: int = 1,
             **options: Any) -> tuple[Any, Any]:
        torch.manual_seed(0)
        device = torch.device(device)
        benchmark = build_benchmark("permuted_mnist", root="unused", num_experiences=3, seed=0, device=device,
                                    synthetic={"train_per_class": 10, "test_per_class": 4})
        model = TaskMaskedClassifier(MLP(784, [32], 10), None).to(device)
        guard = TrainingGuard(check_every=check_every, max_regularizer_ratio=1e3, strength="test", checkpoint_path=None)
        strategy = build_strategy(
            "naive", model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
            plugins=[guard] + ([plugin] if plugin is not None else []),
            evaluator=evaluator if evaluator is not None else build_evaluator([]), benchmark=benchmark,
            device=device, epochs=1, batch_size=16, eval_batch_size=50, **options)
        return strategy, benchmark

    return make
