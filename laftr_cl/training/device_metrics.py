"""Accuracy and loss metrics that add up on the device and are read once per epoch or experience.

Avalanche 0.6's ``accuracy_metrics`` and ``loss_metrics`` copy a number to the host after every
minibatch: ``Accuracy.update`` does ``float(torch.sum(...))`` and ``Mean.update`` does
``float(value)`` on the loss, so each training iteration waits for the GPU twice. The metrics here
have the same names, reset and emit points (``Top1_Acc_Epoch``, ``Loss_Epoch``, ``Top1_Acc_Exp``,
``Loss_Exp``, ``Top1_Acc_Stream``, ``Loss_Stream``: the names ``results.json`` and every logger
read) and the same values (correct predictions / examples; mean loss per example), but each
update only adds a 0-d tensor on the device; ``result()`` reads it once.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from avalanche.evaluation.metric_definitions import GenericPluginMetric, Metric
from torch import Tensor

_POINTS = {"epoch": ("epoch", "epoch", "train"), "experience": ("experience", "experience", "eval"),
           "stream": ("stream", "stream", "eval")}
"""Metric level → (reset_at, emit_at, mode), as Avalanche's Epoch*/Experience*/Stream* metrics."""

_SUFFIX = {"epoch": "Epoch", "experience": "Exp", "stream": "Stream"}


class DeviceMean(Metric[float]):
    """A weighted mean kept as one 0-d float64 tensor on the values' device and a host count."""

    def __init__(self) -> None:
        self._total: Tensor | None = None
        self._count = 0

    def update(self, total: Tensor, count: int) -> None:
        """Adds ``total`` (0-d, the sum over ``count`` examples) without leaving the device."""
        total = total.detach().to(torch.float64)
        self._total = total if self._total is None else self._total + total
        self._count += count

    def result(self) -> float:
        """The mean (one host read); 0.0 before any update, as Avalanche's ``Mean``."""
        if self._total is None or self._count == 0:
            return 0.0
        return self._total.item() / self._count

    def reset(self) -> None:
        self._total, self._count = None, 0


class _DeviceMetric(GenericPluginMetric[float, DeviceMean]):
    prefix: ClassVar[str]

    def __init__(self, level: str) -> None:
        reset_at, emit_at, mode = _POINTS[level]
        super().__init__(DeviceMean(), reset_at=reset_at, emit_at=emit_at, mode=mode)
        self._name = f"{self.prefix}_{_SUFFIX[level]}"

    def __str__(self) -> str:
        return self._name


class DeviceAccuracy(_DeviceMetric):
    """Top-1 accuracy: correct predictions (argmax of ``mb_output``) / examples."""

    prefix = "Top1_Acc"

    def update(self, strategy: Any) -> None:
        output, target = strategy.mb_output, strategy.mb_y
        predicted = output.argmax(dim=1) if output.dim() > 1 else output
        labels = target.argmax(dim=1) if target.dim() > 1 else target
        self._metric.update((predicted == labels).sum(), len(labels))


class DeviceLoss(_DeviceMetric):
    """Mean loss per example: ``mean(strategy.loss) · batch size`` summed, / examples."""

    prefix = "Loss"

    def update(self, strategy: Any) -> None:
        count = len(strategy.mb_y)
        self._metric.update(strategy.loss.detach().float().mean() * count, count)


def device_metrics(levels: tuple[str, ...] = ("epoch", "experience", "stream")) -> list[_DeviceMetric]:
    """Accuracy and loss metrics at each of ``levels`` (``epoch``, ``experience``, ``stream``)."""
    return [cls(level) for cls in (DeviceAccuracy, DeviceLoss) for level in levels]
