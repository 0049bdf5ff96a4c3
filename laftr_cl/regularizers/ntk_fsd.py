"""The network linearized in its parameters around θ_t, evaluated on m stored examples per task.
A thin adapter over :mod:`laftr_cl.fsd.baselines.ntk`: ``ntk_summarize(...)`` after each task,
``ntk_fsd(...)`` in the loss.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from laftr_cl.fsd.baselines import NtkSummary, ntk_fsd, ntk_summarize
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin


class NtkFsdPlugin(FsdRegularizerPlugin):
    """``loss = CE + fsd_lambda · mean_{t<k} mean_{x in coreset_t} ρ(f(x; θ_t), f(x; θ_t) + J_t(x)(θ − θ_t))``
    on the task's head O_t.

    Keeps per task ``coreset_size`` inputs drawn uniformly from its training data and θ_t.
    ``seed`` draws the stored inputs.
    """

    log_name = "NtkFSD"
    summary_class = NtkSummary

    def __init__(self, fsd_lambda: float = 1.0, coreset_size: int = 40, metric: str = "l2_prob",
                 seed: int = 0, summary_batch_size: int = 1000) -> None:
        super().__init__(fsd_lambda, summary_batch_size, seed)
        self.coreset_size, self.metric = coreset_size, metric

    def summarize_task(self, model: nn.Module, data: Any, output_units: list[int] | None) -> NtkSummary:
        return ntk_summarize(model, data, coreset_size=self.coreset_size, output_units=output_units,
                             generator=self.generator, batch_size=self.summary_batch_size)

    def estimate(self, model: nn.Module, summaries: list[NtkSummary]) -> Tensor:
        return ntk_fsd(model, summaries, metric=self.metric)
