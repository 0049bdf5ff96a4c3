"""FSD baselines with the FSD core's interfaces: a summary per task (``state_dict``, ``nbytes``)
made once after the task, and a differentiable estimate of FSD_t(θ) from the summaries.

* ``coreset``: m stored examples and θ_t's outputs on them; the true discrepancy on those
  (nonparametric: the reference point for memory-based function-space regularization).
* ``ntk``: m stored examples and θ_t; the network linearized in its parameters around θ_t.
* ``fisher``: EWC's quadratic ½ Δθᵀ diag(F) Δθ with the empirical or true diagonal Fisher.
"""
from laftr_cl.fsd.baselines.coreset import CoresetSummary, coreset_fsd, coreset_summarize
from laftr_cl.fsd.baselines.fisher import FISHERS, FisherSummary, fisher_fsd, fisher_summarize
from laftr_cl.fsd.baselines.ntk import NtkSummary, ntk_fsd, ntk_summarize

__all__ = [
    "CoresetSummary",
    "coreset_summarize",
    "coreset_fsd",
    "NtkSummary",
    "ntk_summarize",
    "ntk_fsd",
    "FisherSummary",
    "fisher_summarize",
    "fisher_fsd",
    "FISHERS",
]
