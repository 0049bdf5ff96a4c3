"""One interface for every FSD method: summarize a finished task, then estimate FSD_t(θ) from summaries.

A method is built by name, like laplace-torch's ``Laplace(model, ...)`` factory picks a class from
its string options::

    method = fsd_method("laftr", inputs="diag", estimator="bernoulli", metric="l2_prob")
    summary = method.summarize(model, (x, y), output_units=[0, 1], generator=g)   # after task t
    prepared = method.prepare(model, [summary])                                   # once per model and summaries
    value = method.estimate(model, prepared)                                      # a differentiable scalar

Every summary is sized by part (``nbytes()``, with a ``total``) and travels as plain tensors
(``state_dict()``; :meth:`FsdMethod.load_summary` restores it).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterable, Mapping, Protocol, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.registry import Registry


class Summary(Protocol):
    """What a method keeps of one task: sized by part, saved as plain tensors."""

    def nbytes(self) -> dict[str, int]: ...

    def state_dict(self) -> dict[str, Any]: ...


class FsdMethod(ABC):
    """An FSD estimate from one summary per finished task.

    Class attributes: ``name`` (the registry key) and ``summary_class`` (with ``from_state_dict``).
    Instance attribute ``metric``: the ρ whose FSD :meth:`estimate` approximates.
    """

    name: ClassVar[str]
    summary_class: ClassVar[Any]
    metric: str

    @abstractmethod
    def summarize(self, model: nn.Module, data: Any, *, output_units: Sequence[int] | None = None,
                  generator: torch.Generator | None = None, task_label: int | None = None) -> Summary:
        """The summary of a finished task at the model's θ_t.

        Args:
            model: the network at θ_t.
            data: ``(x [N, ...], y [N])`` tensors or an iterable of ``(x, y, ...)`` batches.
            output_units: O_t, the task's head, or None for all outputs.
            generator: the summary's random choices (stored inputs), or None for torch's default.
            task_label: the task's label, for a model whose forward takes ``task_labels`` (None: 0).
        """

    def prepare(self, model: nn.Module, summaries: Sequence[Summary]) -> Any:
        """What :meth:`estimate` reads, built once for ``model`` and ``summaries`` (LAFTR: the
        summaries stacked into a bank); here the summaries themselves."""
        return list(summaries)

    @abstractmethod
    def estimate(self, model: nn.Module, prepared: Any, *, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> Tensor:
        """FSD_t(θ) at the model's current θ for each prepared task, differentiable w.r.t. θ.

        Returns a scalar (``reduction`` ``mean`` or ``sum`` over tasks) or ``[T]`` (``none``).
        """

    def check_model(self, model: nn.Module, input_shape: Sequence[int], task_label: int | None = None) -> None:
        """Raises ValueError when this method cannot summarize ``model`` on inputs of ``input_shape``
        (e.g. an op LAFTR cannot linearize); a dry run, nothing is kept. Here: every model is fine."""
        return None

    def check(self, model: nn.Module, summaries: Sequence[Summary]) -> None:
        """Raises ValueError/RuntimeError when ``summaries`` do not fit ``model`` (another architecture)."""
        with torch.no_grad():
            self.estimate(model, self.prepare(model, summaries))

    def retain(self, earlier: dict[int, Summary]) -> dict[int, Summary]:
        """What is kept of the earlier tasks' summaries once a new task is summarized (all of it)."""
        return earlier

    @abstractmethod
    def stored_numbers(self, summary: Summary) -> int:
        """Numbers ``summary`` stores for its task besides θ_t and the head's unit indices."""

    @property
    def keeps_snapshot(self) -> bool:
        """Whether the summaries keep θ_t (every method but the coreset FSD)."""
        return True

    def summary_key(self) -> tuple:
        """The options that determine a summary: methods with equal keys share summaries."""
        return (self.name, tuple(sorted(self.options().items())))

    @abstractmethod
    def options(self) -> dict[str, Any]:
        """The options this method was built with (``fsd_method(self.name, **self.options())`` rebuilds it)."""

    def load_summary(self, state: Mapping[str, Any]) -> Summary:
        """A summary from its :meth:`Summary.state_dict`."""
        return self.summary_class.from_state_dict(state)


FSD_METHODS: Registry[type[FsdMethod]] = Registry("fsd method")


def fsd_method(name: str, **options: Any) -> FsdMethod:
    """The FSD method registered as ``name`` (``laftr``, ``liftr``, ``coreset``, ``ntk``, ``fisher``) built with
    ``options``."""
    return FSD_METHODS.get(name)(**options)


def summed_bytes(summaries: Iterable[Summary]) -> dict[str, int]:
    """Bytes of ``summaries`` added up part by part, with a ``total``."""
    parts: dict[str, int] = {}
    for summary in summaries:
        for part, size in summary.nbytes().items():
            if part != "total":
                parts[part] = parts.get(part, 0) + size
    parts["total"] = sum(parts.values())
    return parts
