"""The FSD baselines behind the FSD-method interface: the ``*_summarize``/``*_fsd`` pairs of
:mod:`laftr_cl.fsd.baselines` (coreset FSD, NTK FSD, the Fisher quadratic)."""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.baselines import coreset, ntk
from laftr_cl.fsd.baselines import fisher as quadratic
from laftr_cl.fsd.baselines.common import plain_network
from laftr_cl.fsd.methods.base import FSD_METHODS, FsdMethod
from laftr_cl.fsd.trace import takes_task_labels


def refuse_task_label_forward(model: nn.Module, method: str) -> None:
    """The baselines run the network's plain forward ``x → logits``; a model whose forward needs
    ``task_labels`` (Avalanche's ``MultiTaskModule``) is refused with the fix."""
    if takes_task_labels(plain_network(model)):
        raise ValueError(
            f"The {method} FSD runs the network's plain forward, but {type(model).__name__}.forward takes "
            "task_labels (one head per task): use regularizer=laftr, which runs each task through its own head, "
            "or one output layer masked per task (laftr_cl.models.TaskMaskedClassifier).")


class _StoredExamples(FsdMethod):
    """m stored inputs per task, chosen uniformly (``coreset_size``); ρ = ``metric``. A subclass names
    its ``summarize_fn``/``estimate_fn`` pair of :mod:`laftr_cl.fsd.baselines`."""

    summarize_fn: ClassVar[Callable[..., Any]]
    estimate_fn: ClassVar[Callable[..., Tensor]]

    def __init__(self, *, coreset_size: int, metric: str = "l2_prob", batch_size: int = 1000) -> None:
        self.coreset_size, self.metric, self.batch_size = coreset_size, metric, batch_size

    def summarize(self, model: nn.Module, data: Any, *, output_units: Sequence[int] | None = None,
                  generator: torch.Generator | None = None, task_label: int | None = None) -> Any:
        refuse_task_label_forward(model, self.name)
        return type(self).summarize_fn(model, data, coreset_size=self.coreset_size, output_units=output_units,
                                       generator=generator, batch_size=self.batch_size)

    def estimate(self, model: nn.Module, prepared: list[Any], *, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> Tensor:
        return type(self).estimate_fn(model, prepared, metric=self.metric, reduction=reduction)

    def stored_numbers(self, summary: Any) -> int:
        """The stored inputs (and, for the coreset FSD, θ_t's logits on them)."""
        return sum(t.numel() for k, t in summary.state_dict().items() if k not in ("snapshot", "output_units"))

    def options(self) -> dict[str, Any]:
        return {"coreset_size": self.coreset_size, "metric": self.metric, "batch_size": self.batch_size}


@FSD_METHODS.register("coreset")
class CoresetMethod(_StoredExamples):
    """The true discrepancy on m stored inputs and θ_t's logits on them (no parameters kept)."""

    name = "coreset"
    summary_class = coreset.CoresetSummary
    summarize_fn = staticmethod(coreset.coreset_summarize)
    estimate_fn = staticmethod(coreset.coreset_fsd)
    keeps_snapshot = False


@FSD_METHODS.register("ntk")
class NtkMethod(_StoredExamples):
    """The network linearized around θ_t, on m stored inputs."""

    name = "ntk"
    summary_class = ntk.NtkSummary
    summarize_fn = staticmethod(ntk.ntk_summarize)
    estimate_fn = staticmethod(ntk.ntk_fsd)


@FSD_METHODS.register("fisher")
class FisherMethod(FsdMethod):
    """EWC's quadratic ½ Δθᵀ diag(F_t) Δθ, F the ``empirical`` or ``true`` Fisher: the second-order
    expansion of the ``kl`` FSD (so ``metric`` is ``kl``)."""

    name = "fisher"
    summary_class = quadratic.FisherSummary
    metric = "kl"

    def __init__(self, *, fisher: str = "true", batch_size: int = 64) -> None:
        self.fisher, self.batch_size = fisher, batch_size

    def summarize(self, model: nn.Module, data: Any, *, output_units: Sequence[int] | None = None,
                  generator: torch.Generator | None = None, task_label: int | None = None) -> quadratic.FisherSummary:
        refuse_task_label_forward(model, self.name)
        return quadratic.fisher_summarize(model, data, fisher=self.fisher, output_units=output_units, batch_size=self.batch_size)

    def estimate(self, model: nn.Module, prepared: list[quadratic.FisherSummary], *, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> Tensor:
        return quadratic.fisher_fsd(model, prepared, reduction=reduction)

    def stored_numbers(self, summary: quadratic.FisherSummary) -> int:
        return sum(t.numel() for t in summary.diagonal.values())

    def options(self) -> dict[str, Any]:
        return {"fisher": self.fisher, "batch_size": self.batch_size}
