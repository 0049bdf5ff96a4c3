"""Avalanche strategies with the tensor fast path, built from the ``regularizer`` config."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from avalanche.core import SupervisedPlugin
from avalanche.training import JointTraining, Naive
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from laftr_cl.benchmarks.base import TaskTensors, TensorBenchmark
from laftr_cl.config import options
from laftr_cl.config.checks import ConfigError
from laftr_cl.config.compile_checks import check_full_batches
from laftr_cl.fsd.registry import Registry
from laftr_cl.training.compiled_step import (
    TrainStep,
    check_step_settings,
    is_step_penalty,
    run_compiled_epoch,
)
from laftr_cl.training.precision import autocast, check_precision
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
    """Avalanche's ``Naive`` (fine-tuning plus plugins) with the tensor fast path, an optional
    compiled step (``compile``: ``none | compile | cudagraph``, see
    :mod:`~laftr_cl.training.compiled_step`) and bf16 autocast (``precision``: ``fp32 | bf16``)."""

    def __init__(self, *, tensor_benchmark: TensorBenchmark | None = None, compile: str = "none",
                 precision: str = "fp32", **kwargs: Any):
        self.tensor_benchmark = tensor_benchmark
        self.compile_mode, self.precision = compile, precision
        self._train_step: TrainStep | None = None
        super().__init__(**kwargs)

    def make_train_dataloader(self, num_workers=0, shuffle=True, pin_memory=None,
                              persistent_workers=False, drop_last=False, **kwargs):
        # a compiled step has one shape: the last partial minibatch of each epoch is dropped
        super().make_train_dataloader(num_workers=num_workers, shuffle=shuffle, pin_memory=pin_memory,
                                      persistent_workers=persistent_workers,
                                      drop_last=drop_last or self.compile_mode != "none", **kwargs)

    def _before_training_exp(self, **kwargs: Any) -> None:
        self._train_step = None  # the regularizer's summaries changed: compile / capture anew
        super()._before_training_exp(**kwargs)

    def training_epoch(self, **kwargs: Any) -> None:
        if self.compile_mode == "none":
            return super().training_epoch(**kwargs)
        if self._train_step is None:
            self._train_step = TrainStep(
                self.model, self.optimizer, self._criterion, [p for p in self.plugins if is_step_penalty(p)],
                mode=self.compile_mode, precision=self.precision, device=self.device)
        run_compiled_epoch(self, self._train_step, **kwargs)

    # bf16 autocast of the eager loop: forward, loss, and the regularizers' before_backward
    def forward(self):
        with autocast(self.device, self.precision):
            return super().forward()

    def criterion(self):
        with autocast(self.device, self.precision):
            return super().criterion()

    def _before_backward(self, **kwargs: Any) -> None:
        with autocast(self.device, self.precision):
            super()._before_backward(**kwargs)


STRATEGIES: Registry[type[Naive] | type[JointTraining]] = Registry("regularizer.strategy")
"""The class of each option in :data:`laftr_cl.config.options.STRATEGIES` (the names and their meaning live there)."""
for _name, _cls in {"naive": TensorNaive, "joint": JointTraining}.items():
    assert _name in options.STRATEGIES, f"{_name} is not declared in laftr_cl.config.options.STRATEGIES"
    STRATEGIES.add(_name, _cls)


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
    compile: str = "none",
    precision: str = "fp32",
    owner: Any = None,
) -> Any:
    """Instantiates the strategy named by ``regularizer.strategy`` (``naive`` or ``joint``), or with
    ``owner`` (the ``plugin`` config of a regularizer that owns the loop: DER, ER-ACE, iCaRL) that
    strategy, with ``plugins`` inside it.

    ``compile`` and ``precision`` are ``train.compile`` and ``train.precision``; a setting that
    cannot run (a compiled step with a plugin that acts inside the step, ``cudagraph`` on a CPU,
    a compiled ``joint`` or DER, a compiled step on a task smaller than one minibatch) raises
    :class:`~laftr_cl.config.checks.ConfigError`.
    """
    try:
        check_precision(precision)
        check_step_settings(compile, device, plugins)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if kind != "naive" and (compile != "none" or precision != "fp32"):
        raise ConfigError(f"regularizer.strategy={kind} trains with Avalanche's own loop: leave "
                          "train.compile=none and train.precision=fp32 for it.")
    check_full_batches(compile, [int(task.y.shape[0]) for task in benchmark.train], batch_size)
    if owner is not None:
        from hydra.utils import instantiate

        return instantiate(owner, model=model, optimizer=optimizer, criterion=nn.CrossEntropyLoss(),
                           train_mb_size=batch_size, train_epochs=epochs, eval_mb_size=eval_batch_size,
                           device=device, plugins=list(plugins), evaluator=evaluator, eval_every=-1,
                           tensor_benchmark=benchmark)
    strategy = STRATEGIES.get(kind)
    extra = {"tensor_benchmark": benchmark, "compile": compile, "precision": precision} if kind == "naive" else {}
    return strategy(
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
