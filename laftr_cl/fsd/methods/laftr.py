"""LAFTR behind the FSD-method interface: :func:`laftr_cl.fsd.summarize` and :func:`laftr_cl.fsd.fsd`."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.api import fsd
from laftr_cl.fsd.bank import SummaryBank
from laftr_cl.fsd.estimators import require_gate_statistics
from laftr_cl.fsd.gated_view import GatedView
from laftr_cl.fsd.methods.base import FSD_METHODS, FsdMethod
from laftr_cl.fsd.summary import TaskSummary, summarize

STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
"""``storage_dtype`` options: the dtype firing rates and input statistics are kept in between tasks."""


def stored(summary: TaskSummary, storage_dtype: str | None) -> TaskSummary:
    """``summary`` with its gate statistics and input model cast to ``storage_dtype`` (θ_t stays as it is;
    None: ``summary`` as it was made, in the model's dtype).

    The bank casts them back to the model's dtype when it stacks them, so a ``float16`` summary halves
    the per-task bytes and changes the regularizer only by the rounding of rates and statistics.
    """
    made = next(t.dtype for t in summary.inputs.tensors().values() if t.is_floating_point())
    dtype = STORAGE_DTYPES[storage_dtype] if storage_dtype is not None else made
    if dtype == made:
        return summary
    second = summary.gate_second_moments
    return dataclasses.replace(summary, firing_rates=tuple(r.to(dtype) for r in summary.firing_rates),
                               gate_second_moments=None if second is None else tuple(
                                   None if q is None else q.to(dtype) for q in second),
                               inputs=summary.inputs.to(dtype=dtype))


@FSD_METHODS.register("laftr")
class LaftrMethod(FsdMethod):
    """Firing rates, an input model and θ_t per task; the FSD estimated by a gated pass (docs/method.md).

    Summary options are those of :func:`~laftr_cl.fsd.summarize` (``inputs``, ``rank``,
    ``coreset_size``, ``classwise``, ``rates``, ``batch_size``); estimate options those of
    :func:`~laftr_cl.fsd.fsd` (``estimator``, ``metric``, ``num_samples``, ``gate_draws``,
    ``same_dropout``, ``smooth_ops``, ``anchor``, ``class_weights``, ``bn_stats``).
    """

    name = "laftr"
    summary_class = TaskSummary

    def __init__(self, *, estimator: str = "bernoulli", metric: str = "l2_prob", num_samples: int = 40,
                 inputs: str = "full", rank: int | None = None, coreset_size: int | None = None,
                 classwise: bool = False, rates: str = "per_unit", gate_draws: str = "per_input", same_dropout: bool = False,
                 smooth_ops: str = "exact",
                 anchor: str = "per_task", class_weights: str = "uniform", bn_stats: str = "reference",
                 batch_size: int = 256, storage_dtype: str | None = None) -> None:
        if storage_dtype is not None and storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype={storage_dtype!r} is not a storage dtype: choose "
                             f"{' or '.join(STORAGE_DTYPES)} (the dtype of the kept firing rates and input statistics).")
        require_gate_statistics(estimator, kept=rates != "none")
        self.metric = metric
        self.storage_dtype = storage_dtype
        self.summary_options = dict(inputs=inputs, rank=rank, coreset_size=coreset_size, classwise=classwise,
                                    rates=rates, batch_size=batch_size)
        self.fsd_options = dict(estimator=estimator, metric=metric, num_samples=num_samples, gate_draws=gate_draws,
                                same_dropout=same_dropout, smooth_ops=smooth_ops, anchor=anchor,
                                class_weights=class_weights, bn_stats=bn_stats)

    def summarize(self, model: nn.Module, data: Any, *, output_units: Sequence[int] | None = None,
                  generator: torch.Generator | None = None, task_label: int | None = None) -> TaskSummary:
        summary = summarize(model, data, output_units=output_units, generator=generator, task_label=task_label,
                            **self.summary_options)
        return stored(summary, self.storage_dtype)

    def prepare(self, model: nn.Module, summaries: Sequence[TaskSummary]) -> SummaryBank:
        """The summaries stacked for one batched pass (checked against ``model``)."""
        return SummaryBank(model, list(summaries), anchor=self.fsd_options["anchor"],
                           class_weights=self.fsd_options["class_weights"])

    def estimate(self, model: nn.Module, prepared: SummaryBank, *, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> Tensor:
        return fsd(model, prepared, generator=generator, reduction=reduction, **self.fsd_options)

    def check_model(self, model: nn.Module, input_shape: Sequence[int], task_label: int | None = None) -> None:
        """Traces ``model``'s gated view (what :func:`summarize` reads): an op it cannot linearize raises here."""
        GatedView(model, input_shape, (task_label,))

    def check(self, model: nn.Module, summaries: Sequence[TaskSummary]) -> None:
        self.prepare(model, summaries)  # the bank checks rates, snapshot and input shapes, output units

    def retain(self, earlier: dict[int, TaskSummary]) -> dict[int, TaskSummary]:
        """With ``anchor="latest"`` only the newest summary keeps its snapshot θ_t."""
        if self.fsd_options["anchor"] == "latest":
            return {k: s.without_snapshot() for k, s in earlier.items()}
        return earlier

    def stored_numbers(self, summary: TaskSummary) -> int:
        gates = list(summary.firing_rates) + [q for q in summary.gate_second_moments or () if q is not None]
        return sum(r.numel() for r in gates) + sum(t.numel() for t in summary.inputs.tensors().values())

    def options(self) -> dict[str, Any]:
        return {**self.summary_options, **self.fsd_options, "storage_dtype": self.storage_dtype}

    def summary_key(self) -> tuple:
        return (self.name, tuple(sorted(self.summary_options.items())))
