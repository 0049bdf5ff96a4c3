"""LIFTR behind the FSD-method interface: :func:`laftr_cl.fsd.liftr.liftr_summarize` and
:func:`laftr_cl.fsd.liftr.liftr_fsd` (per-layer statistics, the change propagated layer by layer)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.baselines.common import plain_network
from laftr_cl.fsd.liftr import LIFTR_COVARIANCES, LIFTR_MODES, LiftrBank, LiftrSummary, liftr_fsd, liftr_summarize
from laftr_cl.fsd.methods.base import FSD_METHODS, FsdMethod


@FSD_METHODS.register("liftr")
class LiftrMethod(FsdMethod):
    """Per-layer input moments, average Jacobians and θ_t per task; FSD_t(θ) = ½ E‖Δf[O_t]‖² (``l2_logit``).

    A wrapper whose forward takes task labels (``TaskMaskedClassifier``) is read through its ``.net``,
    each task restricted to its output units O_t.

    Args:
        mode: ``deterministic`` (means and covariances propagated in closed form) or ``stochastic``
            (``num_samples`` draws per task and step).
        covariance: ``full`` (each layer's input covariance ``[F, F]``) or ``diag`` (variances).
        num_samples: S draws per task per step (``stochastic``).
        batch_size: examples per forward pass of the summary pass.
    """

    name = "liftr"
    summary_class = LiftrSummary
    metric = "l2_logit"

    def __init__(self, *, mode: str = "deterministic", covariance: str = "full", num_samples: int = 32,
                 batch_size: int = 256) -> None:
        if mode not in LIFTR_MODES:
            raise ValueError(f"mode={mode!r} is not a LIFTR mode: choose {' or '.join(LIFTR_MODES)}.")
        if covariance not in LIFTR_COVARIANCES:
            raise ValueError(f"covariance={covariance!r} is not a LIFTR covariance: choose "
                             f"{' or '.join(LIFTR_COVARIANCES)}.")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples={num_samples!r} must be an integer >= 1 (draws per task per step).")
        self.mode, self.covariance, self.num_samples, self.batch_size = mode, covariance, num_samples, batch_size

    def summarize(self, model: nn.Module, data: Any, *, output_units: Sequence[int] | None = None,
                  generator: torch.Generator | None = None, task_label: int | None = None) -> LiftrSummary:
        return liftr_summarize(plain_network(model), data, covariance=self.covariance, output_units=output_units,
                               batch_size=self.batch_size)

    def prepare(self, model: nn.Module, summaries: Sequence[LiftrSummary]) -> LiftrBank:
        """The summaries stacked for one batched pass (checked against ``model``)."""
        return LiftrBank(plain_network(model), list(summaries), sampling=self.mode == "stochastic")

    def estimate(self, model: nn.Module, prepared: LiftrBank, *, generator: torch.Generator | None = None,
                 reduction: str = "mean") -> Tensor:
        return liftr_fsd(prepared, mode=self.mode, num_samples=self.num_samples, generator=generator,
                         reduction=reduction)

    def check(self, model: nn.Module, summaries: Sequence[LiftrSummary]) -> None:
        self.prepare(model, summaries)  # the bank checks statistics and snapshot against the model's steps

    def stored_numbers(self, summary: LiftrSummary) -> int:
        return sum(t.numel() for t in summary.statistics.values())

    def options(self) -> dict[str, Any]:
        return {"mode": self.mode, "covariance": self.covariance, "num_samples": self.num_samples,
                "batch_size": self.batch_size}

    def summary_key(self) -> tuple:
        return (self.name, self.covariance, self.batch_size)
