"""The state of a live run that a checkpoint holds, and putting it back into a fresh run.

:func:`capture_state` returns a dict of:

* ``model``, ``optimizer``: their ``state_dict()`` (Adam's moments carry across tasks: Avalanche
  resets them only before the first task).
* ``regularizer``: the plugin's state — ``LaftrPlugin.state_dict()`` (the task summaries), or for
  Avalanche's plugins the attributes their declaration lists (``RegularizerSpec.state``; EWC: parameters and
  Fisher per task; SI: ``ewc_data`` and ``syn_data``; MAS: parameters and importances; LwF: the
  previous model; replay: the buffer; DER: the buffer with its logits, read from the strategy);
  a combination's parts each under their name (:class:`~laftr_cl.training.parts.RegularizerParts`);
  None without a regularizer.
* ``plugins``: the state of the strategy's other stateful plugins (those with a ``checkpoint_name``,
  e.g. ``batchnorm=per_task``'s statistics), by that name.
* ``clock``: the strategy's iteration/epoch/experience counters (EWC keys its Fisher by them).
* ``evaluator``: each metric's attributes, so Avalanche's own forgetting/BWT keep the accuracies
  they compare against.
* ``rng``: Python ``random``, NumPy, torch CPU and CUDA generator states.
* ``results``: the accuracy matrix so far, the averages over seen tasks, the regularizer's memory
  and the wall time spent.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable

from avalanche.core import SupervisedPlugin
from avalanche.training.determinism.rng_manager import RNGManager

from laftr_cl.regularizers.specs import spec_of_plugin
from laftr_cl.run.results import ResultsRecorder


def checkpointable(plugin: Any) -> bool:
    """Whether the state of ``plugin`` (a regularizer, the parts of a combination, or None) can be
    saved and restored."""
    if hasattr(plugin, "checkpointable"):
        return plugin.checkpointable()
    return plugin is None or hasattr(plugin, "load_state_dict") or _attributes(plugin) is not None


def _attributes(plugin: Any) -> tuple[str, ...] | None:
    spec = spec_of_plugin(plugin)
    return spec.state if spec is not None and spec.state else None


def plugin_state(plugin: Any) -> dict[str, Any] | None:
    """The regularizer's state (see the module docstring); None for no plugin."""
    if plugin is None:
        return None
    if hasattr(plugin, "state_dict"):
        return plugin.state_dict()
    return {name: getattr(plugin, name) for name in _attributes(plugin)}


def load_plugin_state(plugin: Any, state: dict[str, Any] | None, model: Any) -> None:
    """Puts ``state`` (from :func:`plugin_state`) back; a LAFTR plugin first checks it fits ``model``."""
    if plugin is None:
        return
    if hasattr(plugin, "load_state_dict"):
        plugin.load_state_dict(state, model=model)
        return
    for name, value in state.items():  # a copy: the plugin mutates its state in place, and a
        setattr(plugin, name, copy.deepcopy(value))  # mid-task state is applied twice
    spec = spec_of_plugin(plugin)
    if spec is not None and spec.restore is not None:
        spec.restore(plugin)


def _stateful_plugins(strategy: Any, regularizer: Any) -> list[Any]:
    """The strategy's plugins besides the regularizer that keep checkpointed state (a ``checkpoint_name``)."""
    return [p for p in strategy.plugins if p is not regularizer and getattr(p, "checkpoint_name", None)]


def capture_state(strategy: Any, plugin: Any, recorder: ResultsRecorder) -> dict[str, Any]:
    """Everything of the run that later tasks depend on (see the module docstring)."""
    return {
        "model": strategy.model.state_dict(),
        "optimizer": strategy.optimizer.state_dict(),
        "regularizer": plugin_state(plugin),
        "plugins": {p.checkpoint_name: p.state_dict() for p in _stateful_plugins(strategy, plugin)},
        "clock": dict(vars(strategy.clock)),
        "evaluator": [(type(m).__name__, dict(vars(m))) for m in strategy.evaluator.metrics],
        "rng": RNGManager.__getstate__(),
        "results": {"matrix": recorder.matrix, "seen_average": recorder.seen_average,
                    "memory": recorder.memory, "elapsed_s": time.perf_counter() - recorder.start},
    }


def restore_training_state(state: dict[str, Any], strategy: Any, plugin: Any) -> None:
    """Model, optimizer, regularizer, clock and RNGs from :func:`capture_state`'s dict.

    Raises ValueError/RuntimeError when a part does not fit this run (e.g. summaries of another
    architecture, a model state with other shapes).
    """
    strategy.model.load_state_dict(state["model"])
    strategy.optimizer.load_state_dict(state["optimizer"])
    if hasattr(strategy, "optimized_param_id"):  # else Avalanche resets the optimizer state
        strategy.optimized_param_id = dict(strategy.model.named_parameters())
    load_plugin_state(plugin, state["regularizer"], strategy.model)
    for other in _stateful_plugins(strategy, plugin):
        other.load_state_dict(state["plugins"][other.checkpoint_name])
    vars(strategy.clock).update(state["clock"])
    RNGManager.__setstate__(state["rng"])


def restore_state(state: dict[str, Any], strategy: Any, plugin: Any, recorder: ResultsRecorder) -> None:
    """All of :func:`capture_state`'s dict: training state, evaluator metrics and results so far."""
    restore_training_state(state, strategy, plugin)
    metrics = strategy.evaluator.metrics
    names = [type(m).__name__ for m in metrics]
    if names != [name for name, _ in state["evaluator"]]:
        raise ValueError(f"it holds the metrics {[n for n, _ in state['evaluator']]}, this run has {names}")
    for metric, (_, attributes) in zip(metrics, state["evaluator"]):
        vars(metric).update(copy.deepcopy(attributes))
    results = state["results"]
    recorder.matrix, recorder.seen_average = list(results["matrix"]), list(results["seen_average"])
    recorder.memory = results["memory"]
    recorder.start = time.perf_counter() - results["elapsed_s"]


class EpochCheckpoint(SupervisedPlugin):
    """Calls ``save(tasks_done, epochs_done)`` after every ``every``-th epoch of a task but its last.

    Appended after Avalanche's clock, so the counters it reads include the epoch just finished.
    """

    def __init__(self, every: int, epochs_of_task: Callable[[int], int],
                 save: Callable[[int, int], None]) -> None:
        super().__init__()
        self.every, self.epochs_of_task, self.save = every, epochs_of_task, save

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        task, epochs = strategy.clock.train_exp_counter, strategy.clock.train_exp_epochs
        if epochs % self.every == 0 and epochs < self.epochs_of_task(task):
            self.save(task, epochs)


class RestoreAtTaskStart(SupervisedPlugin):
    """Re-applies a mid-task checkpoint once, after every other ``before_training_exp`` hook.

    Avalanche resets per-task state when a task starts (clock counters, the optimizer before the
    first task, SI's trajectories); a run resumed inside a task gets that state back here.
    Appended after the clock.
    """

    def __init__(self, apply: Callable[[], None]) -> None:
        super().__init__()
        self._apply: Callable[[], None] | None = apply

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        if self._apply is not None:
            self._apply()
            self._apply = None
