"""Function-space regularization on a memory: the true output discrepancy on m stored examples
per task (the nonparametric reference point for LAFTR). A thin adapter over
:mod:`laftr_cl.fsd.baselines.coreset`: ``coreset_summarize(...)`` after each task, ``coreset_fsd(...)``
in the loss.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from laftr_cl.fsd.baselines import CoresetSummary, coreset_fsd, coreset_summarize
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin


class CoresetFsdPlugin(FsdRegularizerPlugin):
    """``loss = CE + fsd_lambda · mean_{t<k} mean_{x in coreset_t} ρ(f(x; θ_t)[O_t], f(x; θ)[O_t])``.

    Keeps per task ``coreset_size`` inputs drawn uniformly from its training data and the logits
    of θ_t on them (no parameters). ``seed`` draws the coresets.
    """

    log_name = "CoresetFSD"
    summary_class = CoresetSummary

    def __init__(self, fsd_lambda: float = 1.0, coreset_size: int = 40, metric: str = "l2_prob",
                 seed: int = 0, summary_batch_size: int = 1000) -> None:
        super().__init__(fsd_lambda, summary_batch_size, seed)
        self.coreset_size, self.metric = coreset_size, metric

    def summarize_task(self, model: nn.Module, data: Any, output_units: list[int] | None) -> CoresetSummary:
        return coreset_summarize(model, data, coreset_size=self.coreset_size, output_units=output_units,
                                 generator=self.generator, batch_size=self.summary_batch_size)

    def estimate(self, model: nn.Module, summaries: list[CoresetSummary]) -> Tensor:
        return coreset_fsd(model, summaries, metric=self.metric)
