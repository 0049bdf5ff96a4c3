"""No host synchronisation inside a training iteration: every value that leaves the device during a
training epoch (``.item()``, ``float(t)``, ``.cpu()``, ``.tolist()``...) is counted."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import pytest
import torch
from avalanche.evaluation.metrics import accuracy_metrics, loss_metrics
from avalanche.training.plugins import EvaluationPlugin

from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.run.build import build_evaluator

HOST_READS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


@contextmanager
def counting_host_reads(monkeypatch: pytest.MonkeyPatch, host_tensors: set[int]) -> Iterator[list[str]]:
    """Counts every call of a method in :data:`HOST_READS` inside the block on any tensor but
    ``host_tensors`` (ids of tensors that live on the host on every device: Adam's step counts,
    which torch keeps on the CPU unless the optimizer is capturable)."""
    calls: list[str] = []
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            if id(self) not in host_tensors:
                calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    yield calls
    monkeypatch.undo()


def reads_in_second_task_epoch(strategy: Any, benchmark: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """Trains task 1, then counts the host reads inside task 2's training epoch (the loop only)."""
    train = benchmark.scenario.train_stream
    strategy.train(train[0])
    epoch = strategy.training_epoch
    seen: dict[str, Any] = {}

    def counted_epoch(**kwargs: Any) -> None:
        steps = {id(state["step"]) for state in strategy.optimizer.state.values()}
        with counting_host_reads(monkeypatch, steps) as calls:
            epoch(**kwargs)
        seen["calls"] = list(calls)

    strategy.training_epoch = counted_epoch
    strategy.train(train[1])
    return seen["calls"], strategy.clock.train_epoch_iterations


def test_a_laftr_training_epoch_reads_nothing_on_the_host(make_strategy, monkeypatch):
    strategy, benchmark = make_strategy(LaftrPlugin(num_samples=4, inputs="diag"), check_every=10**6)
    calls, iterations = reads_in_second_task_epoch(strategy, benchmark, monkeypatch)
    assert iterations > 5
    assert calls == []


def test_avalanche_metrics_would_read_every_iteration(make_strategy, monkeypatch):
    """The counter sees the syncs this project avoids: Avalanche 0.6's epoch accuracy and loss."""
    evaluator = EvaluationPlugin(accuracy_metrics(epoch=True), loss_metrics(epoch=True))
    strategy, benchmark = make_strategy(None, evaluator=evaluator, check_every=10**6)
    calls, iterations = reads_in_second_task_epoch(strategy, benchmark, monkeypatch)
    assert len(calls) >= 2 * iterations


def test_the_guard_reads_once_per_window(make_strategy, monkeypatch):
    strategy, benchmark = make_strategy(None, check_every=4)
    calls, iterations = reads_in_second_task_epoch(strategy, benchmark, monkeypatch)
    assert calls.count("cpu") == iterations // 4


def test_device_metrics_equal_avalanches(make_strategy):
    """Same names and values as Avalanche's accuracy and loss metrics, epoch and experience level."""
    results = []
    for evaluator in (build_evaluator([]), EvaluationPlugin(accuracy_metrics(epoch=True, experience=True, stream=True),
                                                            loss_metrics(epoch=True, experience=True, stream=True))):
        strategy, benchmark = make_strategy(None, evaluator=evaluator)
        train_metrics = strategy.train(benchmark.scenario.train_stream[0])
        eval_metrics = strategy.eval(benchmark.scenario.test_stream)
        results.append({k: v for k, v in {**train_metrics, **eval_metrics}.items()
                        if k.startswith(("Top1_Acc", "Loss"))})
    ours, theirs = results
    assert ours.keys() == theirs.keys() and len(ours) >= 6
    assert all(ours[k] == pytest.approx(theirs[k], rel=1e-5, abs=1e-6) for k in ours)
