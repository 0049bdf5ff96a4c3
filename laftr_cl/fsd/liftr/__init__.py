"""LIFTR: the function-space distance to an earlier task from per-layer statistics (torch only).

After task t, one pass over its data at θ_t keeps, per layer, statistics of the layer's input (mean and
covariance or variance; for activations and normalizations their average Jacobians) and θ_t of the
layers with parameters (:func:`liftr_summarize`). Later, the change of the output is propagated layer
by layer through the network linearized around θ_t, each layer's input drawn from (``stochastic``) or
integrated over (``deterministic``) its stored statistics; FSD_t(θ) = ½ E‖Δf[O_t]‖² (:func:`liftr_fsd`)::

    summary = liftr_summarize(model, (x, y), covariance="full")   # after task t
    bank = LiftrBank(model, [summary])                             # once per set of summaries
    loss = ce + lam * liftr_fsd(bank, mode="deterministic")        # task k > t

Modules: ``graph`` + ``graph_rules`` + ``steps`` (the network's steps, read from its torch.fx trace),
``interpret`` (running the traced graph), ``statistics`` (the pass at θ_t), ``summary`` (what is kept),
``bank`` (summaries stacked for one batched pass), ``states`` + ``propagate`` + ``attention`` (the two
estimators). The maths: ``docs/transformers.md``, section "Family (b): per-layer moment propagation (LIFTR)".
"""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.fsd.liftr.bank import LiftrBank
from laftr_cl.fsd.liftr.graph import Network
from laftr_cl.fsd.liftr.propagate import LIFTR_MODES, Propagation
from laftr_cl.fsd.liftr.summary import LIFTR_COVARIANCES, LiftrSummary, liftr_summarize
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.precision import float32_region

REDUCTIONS = ("mean", "sum", "none")


def liftr_fsd(bank: LiftrBank, *, mode: str = "deterministic", num_samples: int = 32,
              generator: torch.Generator | Noise | None = None, reduction: str = "mean") -> Tensor:
    """FSD_t(θ) ≈ ½ E‖Δf[O_t]‖² for every task of ``bank`` at the model's current θ, in one pass.

    Args:
        bank: the stacked summaries (its ``network`` reads the live parameters).
        mode: ``deterministic`` (moments in closed form) or ``stochastic`` (``num_samples`` draws per task).
        generator: the stochastic draws (on the model's device), or None for the device's default.
        reduction: ``mean`` or ``sum`` over tasks (a scalar), or ``none`` (``[T]``).

    Runs with autocast off (under ``train.precision=bf16`` too): in the parameters' dtype.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"Unknown reduction={reduction!r}: choose one of {', '.join(REDUCTIONS)}.")
    like = bank.output_mask
    with float32_region(like.device):  # covariances and small changes: never in bf16
        values = Propagation(bank, mode, num_samples, Noise.wrap(generator, like.device, like.dtype)).fsd()
    return values.mean() if reduction == "mean" else values.sum() if reduction == "sum" else values



__all__ = ["liftr_summarize", "liftr_fsd", "LiftrSummary", "LiftrBank", "Network", "LIFTR_MODES",
           "LIFTR_COVARIANCES", "REDUCTIONS"]
