"""The FSD study's settings checked before any training: every later step run once, dry, on a slice.

:func:`check_before_training` runs what the study does after training — fit every method on task
A, estimate at a model, the true FSD of every target ρ, the checkpoint steps and the perturbation
sizes — on the untrained model and the first :data:`DRY_EXAMPLES` examples of task A. A setting
that cannot run (an option a method refuses, a metric that does not exist, a checkpoint count
larger than the steps of task B) is then refused in seconds, not after both tasks have trained.
Nothing of the dry run is kept, and the study's random generators are not touched.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Sequence

import torch
from omegaconf import DictConfig
from torch import nn

from laftr_cl.benchmarks.base import TaskTensors
from laftr_cl.fsd import true_fsd
from laftr_cl.study.fsd.methods import Method
from laftr_cl.study.fsd.trajectory import check_perturbations, checkpoint_steps

DRY_EXAMPLES = 512
"""Examples of task A the dry run fits and measures on."""


def check_before_training(cfg: DictConfig, model: nn.Module, task_a: TaskTensors, task_b: TaskTensors,
                          methods: Sequence[Method]) -> None:
    """Raises ValueError (the study's scripts print it as one paragraph) on a setting that would fail
    after training; see the module docstring."""
    total_b = cfg.train.epochs_b * math.ceil(task_b.y.shape[0] / cfg.train.batch_size)
    checkpoint_steps(total_b, cfg.checkpoints.count, cfg.checkpoints.spacing)
    check_perturbations(cfg.perturbations.count, cfg.perturbations.min_scale, cfg.perturbations.max_scale)
    dry = copy.deepcopy(model)
    data = (task_a.x[:DRY_EXAMPLES], task_a.y[:DRY_EXAMPLES])
    units = dry.output_units(task_a.task_label)
    cache: dict[Any, Any] = {}
    with torch.random.fork_rng():  # the study's own draws stay those of a run without this check
        for method in methods:
            try:
                method.fit(dry, data, units, cache).estimate(dry)
            except (ValueError, RuntimeError) as err:
                raise ValueError(f"The study's method {method.label!r} cannot run with these settings: {err} "
                                 "(checked before training; nothing was trained).") from None
        for target in sorted({method.target for method in methods}):
            try:
                with torch.no_grad():
                    true_fsd(dry, dry, data, metric=target, output_units=units, batch_size=cfg.fsd.truth_batch_size)
            except (ValueError, RuntimeError) as err:
                raise ValueError(f"The true FSD (ρ = {target}, fsd.truth_batch_size={cfg.fsd.truth_batch_size}) "
                                 f"cannot be computed: {err} (checked before training; nothing was trained).") from None
