"""What a run does with BatchNorm's running statistics between tasks (config group ``batchnorm``).

Running statistics are buffers: every training forward pass moves them towards the current task's
batch statistics, and no regularizer's gradient can hold them, so a network evaluated on an old
task normalizes with statistics of the newest tasks. Three choices (docs/batchnorm.md):

* ``track`` (PyTorch's default, no plugin): the statistics follow every task.
* ``freeze`` (:class:`FreezeBatchNormStats`): from the second task on, BatchNorm layers run in eval
  mode while training, normalizing with (and keeping) the statistics the first task left. Any
  scenario.
* ``per_task`` (:class:`TaskBatchNormStats`): each task's running mean and variance (2·C numbers
  per BatchNorm layer) are kept when it is learned and put back while that task is evaluated.
  Task-incremental scenarios only: it needs the task label at test time.

Both are Avalanche plugins that compose with any regularizer; ``per_task`` keeps state, which
travels in checkpoints through :meth:`TaskBatchNormStats.state_dict` (``checkpoint_name``).
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from avalanche.core import SupervisedPlugin
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from laftr_cl.config.checks import ConfigError

STATISTICS = ("running_mean", "running_var")


def batchnorm_layers(model: nn.Module) -> dict[str, _BatchNorm]:
    """The model's BatchNorm layers that keep running statistics, by module path."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats and m.running_mean is not None}


def read_statistics(model: nn.Module) -> dict[str, Tensor]:
    """Detached copies of every BatchNorm running mean and variance (``<layer>.running_mean`` → ``[C]``)."""
    return {f"{name}.{stat}": getattr(m, stat).detach().clone()
            for name, m in batchnorm_layers(model).items() for stat in STATISTICS}


def write_statistics(model: nn.Module, statistics: dict[str, Tensor]) -> None:
    """Copies ``statistics`` (from :func:`read_statistics`) into the model's buffers, in place."""
    for name, m in batchnorm_layers(model).items():
        for stat in STATISTICS:
            getattr(m, stat).copy_(statistics[f"{name}.{stat}"])


class FreezeBatchNormStats(SupervisedPlugin):
    """``batchnorm=freeze``: after the first task, BatchNorm trains in eval mode.

    From the second experience on (the strategy's clock has counted one finished experience), every
    epoch starts by putting the BatchNorm layers in eval mode: they normalize with the running
    statistics of the end of the first task and stop updating them; γ and β still train. The state
    is the clock's, which checkpoints already keep.
    """

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if strategy.clock.train_exp_counter >= 1:
            for layer in batchnorm_layers(strategy.model).values():
                layer.eval()


class TaskBatchNormStats(SupervisedPlugin):
    """``batchnorm=per_task``: each task is evaluated with its own BatchNorm running statistics.

    ``after_training_exp`` keeps the statistics the task was learned with under its task label;
    ``before_eval_exp`` puts them in the model while that task's test data is evaluated (a task not
    learned yet runs with the live statistics) and ``after_eval`` puts the live ones back, so
    training continues from the statistics it left. LAFTR's summaries already hold θ_t's statistics,
    so with ``regularizer.plugin.bn_stats=reference`` the regularizer sees each task with the
    statistics it is evaluated with.

    Attributes:
        statistics: task label → ``{"<layer>.running_mean" | "<layer>.running_var": [C]}``.
    """

    checkpoint_name: ClassVar[str] = "batchnorm_per_task"

    def __init__(self) -> None:
        super().__init__()
        self.statistics: dict[int, dict[str, Tensor]] = {}
        self._live: dict[str, Tensor] | None = None

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        self.statistics[_task_label(strategy.experience)] = read_statistics(strategy.model)

    def before_eval(self, strategy: Any, **kwargs: Any) -> None:
        self._live = read_statistics(strategy.model)

    def before_eval_exp(self, strategy: Any, **kwargs: Any) -> None:
        kept = self.statistics.get(_task_label(strategy.experience), self._live)
        with torch.no_grad():
            write_statistics(strategy.model, kept)

    def after_eval(self, strategy: Any, **kwargs: Any) -> None:
        with torch.no_grad():
            write_statistics(strategy.model, self._live)
        self._live = None

    def memory_bytes(self) -> dict[str, int]:
        """Bytes of the kept statistics: 2·C numbers per BatchNorm layer per learned task."""
        return {"batchnorm_stats": sum(t.numel() * t.element_size()
                                       for stats in self.statistics.values() for t in stats.values())}

    def state_dict(self) -> dict[str, Any]:
        return {"statistics": {k: dict(v) for k, v in self.statistics.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.statistics = {int(k): {n: t.clone() for n, t in v.items()} for k, v in state["statistics"].items()}


def _task_label(experience: Any) -> int:
    labels = list(getattr(experience, "task_labels", [0]))
    if len(labels) != 1:
        raise ValueError(f"batchnorm=per_task keeps statistics per task label, but experience "
                         f"{experience.current_experience} mixes task labels {labels}.")
    return int(labels[0])


def check_batchnorm(cfg: DictConfig, model: nn.Module) -> None:
    """Refuses, before training, a ``batchnorm`` choice that cannot act on this run.

    Raises ConfigError when a plugin is chosen for a model without BatchNorm running statistics,
    with ``regularizer=joint`` (one task: nothing to freeze or keep per task), or ``per_task``
    without task labels at test time or with LAFTR's ``bn_stats=current`` or ``anchor=latest`` (both would
    regularize old tasks with statistics they are not evaluated with).
    """
    choice = cfg.batchnorm.name
    if cfg.batchnorm.plugin is None:
        return
    if not batchnorm_layers(model):
        raise ConfigError(
            f"batchnorm={choice} acts on BatchNorm running statistics, but model={cfg.model.name} has no BatchNorm "
            "layer that keeps them: leave batchnorm=track (the default) for this model, or pick a model with "
            "BatchNorm (model=bn_cnn, model=resnet18).", "batchnorm", "batchnorm=track")
    if cfg.regularizer.name == "joint":
        raise ConfigError(
            f"batchnorm={choice} changes what happens to the running statistics between tasks, but "
            "regularizer=joint trains all tasks at once as one: leave batchnorm=track for it.",
            "batchnorm", "batchnorm=track")
    if choice != "per_task":
        return
    if cfg.benchmark.scenario != "task":
        raise ConfigError(
            f"batchnorm=per_task evaluates each task with its own BatchNorm statistics, which needs the task "
            f"label of every test input, but benchmark.scenario={cfg.benchmark.scenario} gives none. Use it with "
            "benchmark.scenario=task, or use batchnorm=freeze (any scenario).", "batchnorm", "batchnorm=freeze")
    plugin = cfg.regularizer.get("plugin") or {}
    if plugin.get("anchor") == "latest":
        raise ConfigError(
            "batchnorm=per_task evaluates each old task with the statistics it was learned with, but "
            "regularizer.plugin.anchor=latest regularizes every task against the newest snapshot, and so with the "
            "newest task's statistics: use regularizer.plugin.anchor=per_task with batchnorm=per_task.",
            "regularizer.plugin.anchor", "regularizer.plugin.anchor=per_task")
    if plugin.get("bn_stats") == "current":
        raise ConfigError(
            "batchnorm=per_task evaluates each old task with the statistics it was learned with, but "
            "regularizer.plugin.bn_stats=current makes LAFTR compare against the live statistics, which that "
            "task never sees: use regularizer.plugin.bn_stats=reference with batchnorm=per_task.",
            "regularizer.plugin.bn_stats", "regularizer.plugin.bn_stats=reference")
