"""Avalanche strategies with the tensor fast path, built from the ``regularizer`` config."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from avalanche.core import SupervisedPlugin
from avalanche.training import JointTraining, Naive
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from laftr_cl.benchmarks.base import TaskTensors, TensorBenchmark
from laftr_cl.training.tensor_loader import TensorBatchLoader


class TensorLoaderMixin:
    """Serves an experience's minibatches from its tensors when the experience is unchanged.

    Looks the experience up in ``tensor_benchmark`` by stream name and position. When a plugin
    has changed the dataset (its length differs) or the experience is not one of the
    benchmark's, Avalanche's own loader is used, so behaviour never silently differs.
    """

    tensor_benchmark: TensorBenchmark | None = None

    def _experience_tensors(self) -> TaskTensors | None:
        bm = self.tensor_benchmark
        exp = self.experience
        if bm is None or not hasattr(exp, "current_experience"):
            return None
        stream = getattr(getattr(exp, "origin_stream", None), "name", None)
        split = {"train": bm.train, "test": bm.test}.get(stream)
        if split is None or exp.current_experience >= len(split):
            return None
        tensors = split[exp.current_experience]
        if len(self.adapted_dataset) != tensors.y.shape[0]:
            return None
        return tensors

    def make_train_dataloader(self, num_workers=0, shuffle=True, pin_memory=None,
                              persistent_workers=False, drop_last=False, **kwargs):
        tensors = self._experience_tensors()
        if tensors is None:
            return super().make_train_dataloader(
                num_workers=num_workers, shuffle=shuffle, pin_memory=pin_memory,
                persistent_workers=persistent_workers, drop_last=drop_last, **kwargs)
        self.dataloader = TensorBatchLoader(
            tensors.x, tensors.y, tensors.task_label, self.train_mb_size, shuffle, drop_last)

    def make_eval_dataloader(self, num_workers=0, shuffle=False, pin_memory=None,
                             persistent_workers=False, **kwargs):
        tensors = self._experience_tensors()
        if tensors is None:
            return super().make_eval_dataloader(
                num_workers=num_workers, shuffle=shuffle, pin_memory=pin_memory,
                persistent_workers=persistent_workers, **kwargs)
        self.dataloader = TensorBatchLoader(
            tensors.x, tensors.y, tensors.task_label, self.eval_mb_size, shuffle)


class TensorNaive(TensorLoaderMixin, Naive):
    """Avalanche's ``Naive`` (fine-tuning plus plugins) with the tensor fast path."""

    def __init__(self, *, tensor_benchmark: TensorBenchmark | None = None, **kwargs: Any):
        self.tensor_benchmark = tensor_benchmark
        super().__init__(**kwargs)


STRATEGIES = {"naive": TensorNaive, "joint": JointTraining}


def build_strategy(
    kind: str,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    plugins: Sequence[SupervisedPlugin],
    evaluator: EvaluationPlugin,
    benchmark: TensorBenchmark,
    device: torch.device,
    epochs: int,
    batch_size: int,
    eval_batch_size: int,
) -> Naive | JointTraining:
    """Instantiates the strategy named by ``regularizer.strategy`` (``naive`` or ``joint``)."""
    if kind not in STRATEGIES:
        raise ValueError(
            f"regularizer.strategy={kind!r} is not a strategy: choose one of {sorted(STRATEGIES)}.")
    extra = {"tensor_benchmark": benchmark} if kind == "naive" else {}
    return STRATEGIES[kind](
        model=model,
        optimizer=optimizer,
        criterion=nn.CrossEntropyLoss(),
        train_mb_size=batch_size,
        train_epochs=epochs,
        eval_mb_size=eval_batch_size,
        device=device,
        plugins=list(plugins),
        evaluator=evaluator,
        eval_every=-1,
        **extra,
    )
