"""The shape every function-space regularizer plugin shares (LAFTR's, and the FSD baselines').

``before_training_exp`` (first task only): a dry check that the method can summarize the model
(LAFTR traces it), so that a model it cannot read is refused before any training.
``after_training_exp``: summarize the experience just learned, at its final θ_t.
``before_backward``: ``loss += fsd_lambda · mean over earlier tasks of FSD_t(θ)``.
A subclass names its :class:`~laftr_cl.fsd.methods.FsdMethod` (how to summarize a task and how
to estimate the FSD from the summaries) and its log name.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metric_results import MetricValue
from torch import Tensor, nn
from torch.utils.data import DataLoader

from laftr_cl.config.errors import ConfigError
from laftr_cl.fsd.methods import FsdMethod, Summary, summed_bytes


def task_data(strategy: Any, batch_size: int) -> Any:
    """The current experience's training data: ``(x, y)`` tensors when the strategy serves them
    from tensors (:class:`~laftr_cl.training.strategy.TensorNaive`), else a DataLoader."""
    tensors = strategy._experience_tensors() if hasattr(strategy, "_experience_tensors") else None
    if tensors is not None:
        return tensors.x, tensors.y
    return DataLoader(strategy.experience.dataset.eval(), batch_size=batch_size)


def experience_task_label(strategy: Any) -> int:
    """The current experience's task label (0 when the benchmark has none)."""
    exp = strategy.experience
    return int(exp.task_label) if hasattr(exp, "task_label") else 0


def head_units(strategy: Any) -> list[int] | None:
    """The output units O_t the FSD of the current experience compares, or None (all outputs).

    Task-incremental (a head per task): the units of the experience's head. One head (class- and
    domain-incremental): every class seen so far, this experience's included — the classes θ_t was
    trained to tell apart; the units of classes not seen yet carry no function of θ_t worth keeping.
    None when those are all the outputs (domain-incremental, or the last task of a class split).
    """
    model = strategy.model
    units = model.output_units(experience_task_label(strategy)) if hasattr(model, "output_units") else None
    if units is not None or getattr(model, "multi_head", True):
        return units
    seen = sorted(int(c) for c in getattr(strategy.experience, "classes_seen_so_far", ()))
    return None if not seen or seen == list(range(getattr(model, "num_outputs", None) or 0)) else seen


def publish(strategy: Any, source: str, name: str, value: float) -> None:
    """Sends one scalar to the strategy's evaluator (and so to every logger), if it has one."""
    evaluator = getattr(strategy, "evaluator", None)
    if evaluator is not None:
        evaluator.publish_metric_value(MetricValue(source, name, value, strategy.clock.train_iterations))


class FsdRegularizerPlugin(SupervisedPlugin):
    """λ · mean over earlier tasks of an FSD estimate, from one summary per finished task.

    ``method`` (a :class:`~laftr_cl.fsd.methods.FsdMethod`) says how to summarize a task and how to
    estimate the FSD; ``seed`` starts ``self.generator``, which draws the summaries' random choices
    (stored inputs) and travels in checkpoints. Subclasses build the method and set ``log_name``.
    Logs ``<log_name>/train_phase/Exp<k>`` (the epoch's mean FSD term, before λ) and
    ``<bytes_log_name>`` (default ``<log_name>_summary_bytes``); ``memory_bytes()`` sizes the
    summaries by part for ``results.json``; :meth:`state_dict`/:meth:`load_state_dict` carry them
    through checkpoints.
    """

    log_name: ClassVar[str]
    bytes_log_name: ClassVar[str | None] = None
    summary_name: ClassVar[str | None] = None  # how errors name the summaries (default: ``log_name``)

    def __init__(self, method: FsdMethod, fsd_lambda: float, summary_batch_size: int = 1000, seed: int = 0) -> None:
        super().__init__()
        if fsd_lambda < 0:
            raise ValueError(f"regularizer.plugin.fsd_lambda={fsd_lambda} must be >= 0.")
        self.method = method
        self.fsd_lambda = fsd_lambda
        self.summary_batch_size = summary_batch_size
        self.generator = torch.Generator().manual_seed(seed)  # the summaries' random choices
        self.summaries: dict[int, Summary] = {}
        self._prepared: Any = None  # the method's view of the summaries, rebuilt when they change
        self._epoch_total: Tensor | None = None
        self._epoch_steps = 0
        self._model_checked = False

    def summarize_task(self, model: nn.Module, data: Any, output_units: list[int] | None,
                       task_label: int | None = None) -> Summary:
        """The summary of a finished task from its training data, at the model's θ_t."""
        return self.method.summarize(model, data, output_units=output_units, generator=self.generator,
                                     task_label=task_label)

    def estimate(self, model: nn.Module, summaries: list[Summary]) -> Tensor:
        """Mean over ``summaries`` of the FSD estimate at the model's θ (a scalar)."""
        return self.method.estimate(model, self.method.prepare(model, summaries))

    def check_model(self, model: nn.Module, input_shape: tuple[int, ...], task_label: int = 0) -> None:
        """Checks, once, that the method can summarize ``model`` on inputs of ``input_shape`` (no batch
        dimension); the run calls it before anything is trained or logged.

        Raises:
            ConfigError: it cannot (e.g. LAFTR on a network with an op it cannot linearize).
        """
        if self._model_checked:
            return
        try:
            self.method.check_model(model, tuple(input_shape), task_label)
        except ValueError as err:
            raise ConfigError(f"{err} (Checked before training the first task: nothing was trained.)",
                              "model") from err
        self._model_checked = True

    # ------------------------------------------------------------------ training hooks
    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """:meth:`check_model` on the first task's inputs, when the run has not called it."""
        if self._model_checked:
            return
        data = task_data(strategy, self.summary_batch_size)
        x = data[0] if isinstance(data, tuple) else next(iter(data))[0]
        self.check_model(strategy.model, tuple(x.shape[1:]), experience_task_label(strategy))

    def before_backward(self, strategy: Any, **kwargs: Any) -> None:
        value = self.penalty(strategy.model)
        if value is not None:
            strategy.loss += self.fsd_lambda * value
            self.record_penalty(value)

    def prepare(self, model: nn.Module) -> None:
        """Builds the method's view of the summaries for ``model`` (LAFTR: stacks them into a bank),
        once per task; done before a step is compiled or captured."""
        if self.summaries and self._prepared is None:
            self._prepared = self.method.prepare(model, list(self.summaries.values()))

    def penalty(self, model: nn.Module) -> Tensor | None:
        """The step's term before λ (0-d), or None when no task is summarized yet or λ = 0."""
        if not self.summaries or self.fsd_lambda == 0:
            return None
        self.prepare(model)
        return self.method.estimate(model, self._prepared)

    def record_penalty(self, value: Tensor) -> None:
        """Adds one step's term to the epoch's mean (on the device; read once per epoch)."""
        detached = value.detach()
        self._epoch_total = detached if self._epoch_total is None else self._epoch_total + detached
        self._epoch_steps += 1

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if self._epoch_steps:
            exp = strategy.experience.current_experience
            mean = (self._epoch_total / self._epoch_steps).item()
            publish(strategy, type(self).__name__, f"{self.log_name}/train_phase/Exp{exp:03d}", mean)
        self._epoch_total, self._epoch_steps = None, 0

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        """Summarizes the experience just learned, at the final θ_t, in eval mode."""
        summary = self.summarize_task(strategy.model, task_data(strategy, self.summary_batch_size),
                                      head_units(strategy), experience_task_label(strategy))
        self.summaries = self.method.retain(self.summaries)
        self.summaries[strategy.experience.current_experience] = summary
        self._prepared = None
        publish(strategy, type(self).__name__, self.bytes_log_name or f"{self.log_name}_summary_bytes",
                self.memory_bytes()["total"])

    # ------------------------------------------------------------------ state
    def memory_bytes(self) -> dict[str, int]:
        """Bytes of all summaries by part, with a ``total``."""
        return summed_bytes(self.summaries.values())

    def state_dict(self) -> dict[str, Any]:
        """The summaries as plain tensors, keyed by experience id, and the state of the generator
        that draws them (a resumed run then draws what an uninterrupted one would)."""
        return {"summaries": {k: s.state_dict() for k, s in self.summaries.items()},
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], model: nn.Module | None = None) -> None:
        """Restores :meth:`state_dict`; with ``model``, first checks the summaries fit it.

        Raises:
            ValueError: with ``model``, the summaries do not fit it (they were made for another architecture).
        """
        summaries = {int(k): self.method.load_summary(s) for k, s in state["summaries"].items()}
        if model is not None and summaries:
            try:
                self.method.check(model, list(summaries.values()))
            except (ValueError, RuntimeError) as err:
                name = self.summary_name or self.log_name
                raise ValueError(f"The {name} summaries of tasks {sorted(summaries)} do not fit the "
                                 f"model {type(model).__name__}: {err}") from err
        self.summaries = summaries
        self._prepared = None
        if "generator" in state:
            self.generator.set_state(state["generator"])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_prepared"] = None  # rebuilt from the summaries on the next step
        return state
