"""Where the study evaluates the FSD: parameters met while training task B after task A, and
random perturbations of θ_A of growing size."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from laftr_cl.benchmarks.base import TaskTensors
from laftr_cl.study.training import train_classifier

SPACINGS = ("log", "linear")


@dataclass(frozen=True)
class Point:
    """One parameter setting θ at which every estimate is compared with the true FSD.

    Attributes:
        kind: ``trajectory`` (a checkpoint while training on B), ``perturbation`` (θ_A + noise) or
            ``statistics`` (θ_A's parameters with a checkpoint's BatchNorm running statistics).
        position: the training step on B, or the perturbation's relative size.
        state: the model's ``state_dict`` at θ (detached copies).
    """

    kind: str
    position: float
    state: dict[str, Tensor]


def train_task(model: nn.Module, task: TaskTensors, *, epochs: int, batch_size: int, lr: float,
               generator: torch.Generator, on_step: Callable[[int], None] | None = None) -> int:
    """Adam on ``task``'s cross-entropy (logits masked to its head by ``model``); returns the steps taken.

    ``on_step(step)`` is called after every step (``step`` counts from 1).
    """
    return train_classifier(model, task.x, task.y, epochs=epochs, batch_size=batch_size, lr=lr, generator=generator,
                            task_label=task.task_label, on_step=on_step)


def checkpoint_steps(total_steps: int, count: int, spacing: str) -> list[int]:
    """``count`` distinct steps in ``1 … total_steps``: geometric (``log``) or evenly spaced (``linear``)."""
    if spacing not in SPACINGS:
        raise ValueError(f"checkpoints.spacing={spacing!r}: choose one of {', '.join(SPACINGS)}.")
    if count < 1 or count > total_steps:
        raise ValueError(f"checkpoints.count={count} must be in [1, {total_steps}] (the steps of training on "
                         "task B): lower it or train B longer (train.epochs_b).")
    if spacing == "linear":
        return sorted({round(total_steps * (i + 1) / count) for i in range(count)})
    steps: list[int] = []
    for step in np.round(np.geomspace(1, total_steps, count)).astype(int).tolist():
        steps.append(max(step, steps[-1] + 1) if steps else step)  # distinct where rounding collides
    return steps


def train_b_with_checkpoints(model: nn.Module, task_b: TaskTensors, *, epochs: int, batch_size: int, lr: float,
                             count: int, spacing: str, generator: torch.Generator) -> list[Point]:
    """Trains ``model`` on B and returns ``count`` checkpoints along the way (the last is the end)."""
    total = epochs * math.ceil(task_b.y.shape[0] / batch_size)
    wanted = set(checkpoint_steps(total, count, spacing))
    points: list[Point] = []

    def keep(step: int) -> None:
        if step in wanted:
            points.append(Point("trajectory", float(step), _state(model)))

    train_task(model, task_b, epochs=epochs, batch_size=batch_size, lr=lr, generator=generator, on_step=keep)
    return points


def perturbations(model: nn.Module, *, count: int, min_scale: float, max_scale: float,
                  generator: torch.Generator) -> list[Point]:
    """θ_A + s · rms(θ_A) · ε per parameter tensor (ε standard normal), ``count`` sizes s geometric
    in [min_scale, max_scale]: relative perturbations of growing size."""
    check_perturbations(count, min_scale, max_scale)
    if count == 0:
        return []
    points = []
    for scale in np.geomspace(min_scale, max_scale, count):
        moved = copy.deepcopy(model)
        with torch.no_grad():
            for p in moved.parameters():
                noise = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
                p.add_(float(scale) * p.pow(2).mean().sqrt() * noise)
        points.append(Point("perturbation", float(scale), _state(moved)))
    return points


def check_perturbations(count: int, min_scale: float, max_scale: float) -> None:
    """ValueError naming the setting when ``perturbations.*`` cannot give ``count`` sizes."""
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"perturbations.count={count!r} must be an integer >= 0 (0: no perturbations).")
    if count and not 0 < min_scale <= max_scale:
        raise ValueError(f"perturbations.min_scale={min_scale} and max_scale={max_scale} need 0 < min <= max.")


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def statistics_only(reference: nn.Module, checkpoints: list[Point]) -> list[Point]:
    """One point per trajectory checkpoint with every parameter at θ_A and the checkpoint's buffers (the
    BatchNorm running statistics training on B moved): the drift no gradient can hold."""
    parameters = {name for name, _ in reference.named_parameters()}
    base = _state(reference)
    return [Point("statistics", point.position,
                  {k: (base[k] if k in parameters else v) for k, v in point.state.items()})
            for point in checkpoints if point.kind == "trajectory"]
