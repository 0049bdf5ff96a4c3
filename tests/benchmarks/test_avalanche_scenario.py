"""The tensor-backed Avalanche scenario: datasets, collation, and real strategy runs."""
from __future__ import annotations

from typing import Callable

import pytest
import torch
from avalanche.benchmarks.utils import DataAttribute
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metrics import accuracy_metrics, bwt_metrics, forgetting_metrics
from avalanche.training import JointTraining, Naive
from avalanche.training.plugins import (
    EvaluationPlugin,
    EWCPlugin,
    LwFPlugin,
    MASPlugin,
    ReplayPlugin,
    SynapticIntelligencePlugin,
)
from torch import nn

from laftr_cl.benchmarks import TensorBenchmark, build_benchmark
from laftr_cl.benchmarks.avalanche_scenario import (
    ListAttribute,
    TensorBatch,
    collate_tensor_batch,
)
from laftr_cl.models import MLP, TaskMaskedClassifier

SPEC = {"train_per_class": 30, "test_per_class": 10}


@pytest.fixture(scope="module")
def split_mnist() -> TensorBenchmark:
    return build_benchmark("split_mnist", root="/nonexistent", seed=1, synthetic=SPEC)


def test_datasets_keep_targets_and_task_labels_through_copies(split_mnist: TensorBenchmark) -> None:
    first, second = (exp.dataset for exp in split_mnist.scenario.train_stream[1:3])
    for data in (first.train(), first.eval(), first.subset([0, 5, 7]), first.concat(second)):
        x, y, t = data[0]
        assert x.shape == (1, 28, 28) and isinstance(y, int) and t == 1
        assert data.targets.uniques <= {2, 3, 4, 5}
        assert data.targets_task_labels.uniques <= {1, 2}
        assert data.collate_fn is collate_tensor_batch
    assert first.concat(second).targets_task_labels.uniques == {1, 2}


def test_list_attribute_matches_avalanche_data_attribute() -> None:
    values = [3, 1, 3, 0, 1, 3]
    fast, plain = ListAttribute(values, "targets"), DataAttribute(values, "targets")
    assert fast.uniques == plain.uniques == {0, 1, 3}
    as_lists = [{k: list(v) for k, v in a.val_to_idx.items()} for a in (fast, plain)]
    assert as_lists[0] == as_lists[1]
    assert list(fast.subset([1, 2])) == [1, 3]


def test_collate_stacks_tensors_and_pins_only_cpu_tensors() -> None:
    batch = collate_tensor_batch([(torch.zeros(1, 2), 4, 1), (torch.ones(1, 2), 5, 1)])
    assert isinstance(batch, TensorBatch) and batch[0].shape == (2, 1, 2)
    assert batch[1].tolist() == [4, 5] and batch[1].dtype == torch.int64
    assert batch[2].tolist() == [1, 1]
    on_accelerator = TensorBatch([torch.zeros(2, device="meta")])  # stands for a CUDA tensor
    assert on_accelerator.pin_memory()[0] is on_accelerator[0]  # pinning it would raise


def _evaluator() -> EvaluationPlugin:
    return EvaluationPlugin(
        accuracy_metrics(experience=True, stream=True),
        forgetting_metrics(experience=True, stream=True),
        bwt_metrics(experience=True, stream=True),
        loggers=[],
    )


def _model(bm: TensorBenchmark) -> TaskMaskedClassifier:
    torch.manual_seed(0)
    task_classes = bm.task_classes if bm.scenario_kind == "task" else None
    return TaskMaskedClassifier(MLP(784, (32,), bm.num_classes), task_classes)


def _sgd(model: nn.Module) -> dict:
    return {
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.05),
        "criterion": nn.CrossEntropyLoss(),
        "evaluator": _evaluator(),
    }


def _stream_accuracy(metrics: dict) -> float:
    prefix = "Top1_Acc_Stream/eval_phase/test_stream"
    (value,) = [v for k, v in metrics.items() if k.startswith(prefix)]
    return value


PLUGINS: dict[str, Callable[[], SupervisedPlugin]] = {
    "replay": lambda: ReplayPlugin(mem_size=20),
    "ewc": lambda: EWCPlugin(ewc_lambda=1.0),
    "si": lambda: SynapticIntelligencePlugin(si_lambda=1.0),
    "lwf": lambda: LwFPlugin(),
    "mas": lambda: MASPlugin(lambda_reg=0.1),
}


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_naive_with_plugin_trains_and_evaluates(plugin: str, split_mnist: TensorBenchmark) -> None:
    strategy = Naive(
        **_sgd(_model(split_mnist)), plugins=[PLUGINS[plugin]()],
        train_mb_size=16, train_epochs=2, eval_mb_size=64,
    )
    untrained = _stream_accuracy(strategy.eval(split_mnist.scenario.test_stream))
    for experience in split_mnist.scenario.train_stream:
        strategy.train(experience)
        metrics = strategy.eval(split_mnist.scenario.test_stream)
    assert _stream_accuracy(metrics) > max(0.8, untrained + 0.2)  # 2-way tasks: chance is 0.5
    assert "StreamForgetting/eval_phase/test_stream" in metrics
    assert "StreamBWT/eval_phase/test_stream" in metrics


def test_replay_buffer_holds_tensor_samples_of_every_task(split_mnist: TensorBenchmark) -> None:
    replay = ReplayPlugin(mem_size=20)
    strategy = Naive(**_sgd(_model(split_mnist)), plugins=[replay], train_mb_size=16)
    for experience in split_mnist.scenario.train_stream:
        strategy.train(experience)
    buffer = replay.storage_policy.buffer
    assert len(buffer) == 20 and buffer.targets_task_labels.uniques == {0, 1, 2, 3, 4}
    for index in (0, 19):
        x, y, t = buffer[index]
        assert x.shape == (1, 28, 28) and y in split_mnist.task_classes[t]


def test_joint_training_on_the_class_scenario() -> None:
    bm = build_benchmark("split_mnist", root="/x", scenario="class", seed=1, synthetic=SPEC)
    strategy = JointTraining(
        **_sgd(_model(bm)), train_mb_size=32, train_epochs=4, eval_mb_size=100
    )
    strategy.train(bm.scenario.train_stream)
    accuracy = _stream_accuracy(strategy.eval(bm.scenario.test_stream))
    assert accuracy > 0.6  # 10 classes: chance is 0.1
