"""Synaptic Intelligence: Avalanche's plugin, with its weight copies made real on the CPU."""
from __future__ import annotations

from typing import Any, Sequence

from avalanche.training.plugins import SynapticIntelligencePlugin

from laftr_cl.regularizers.catalog import SI

DEFAULTS = SI.defaults()
"""The options' defaults, declared once in the ``si`` spec (the yaml sets the same values)."""


class SynapticIntelligence(SynapticIntelligencePlugin):
    """Avalanche 0.6's ``SynapticIntelligencePlugin``, correct on the CPU.

    Avalanche stores "copies" of the weights as ``param.detach().cpu().flatten()``. On a GPU that
    is a copy; on the CPU it is a view of the live parameter, so the optimizer step changes the
    "old" weights too: every path-integral increment ``g · (θ_new − θ_old)`` is 0, all importances
    stay 0 and SI silently trains like fine-tuning. Here the two stored weight sets that must
    outlive a step — the weights before each step and the weights at the start of the task —
    are cloned after Avalanche takes them.

    ``si_lambda`` and ``eps`` default to the ``si`` spec's values (Avalanche's own ``eps`` is 1e-7).
    """

    def __init__(self, si_lambda: float | Sequence[float] = DEFAULTS["si_lambda"], eps: float = DEFAULTS["eps"],
                 excluded_parameters: Sequence[str] | None = None, device: Any = "as_strategy") -> None:
        super().__init__(si_lambda=si_lambda, eps=eps, excluded_parameters=excluded_parameters, device=device)

    def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        super().before_training_exp(strategy, **kwargs)
        for start in self.ewc_data[0].values():
            start.data = start.data.clone()

    def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
        super().before_training_iteration(strategy, **kwargs)
        for old in self.syn_data["old_theta"].values():
            old.data = old.data.clone()
