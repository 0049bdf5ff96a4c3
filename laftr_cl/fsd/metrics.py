"""Output discrepancies ρ(u_t, u) between reference and current logits (config ``metric``).

Each metric maps logits ``[..., K]`` of the reference (θ_t) and of the current network (θ) to
``[...]``. Outputs that are padding (a task with fewer output units than the bank's widest one)
hold the same very negative logit in both networks: they add exactly 0 to every metric.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from laftr_cl.fsd.precision import as_float32, float32_region
from laftr_cl.fsd.registry import Registry

Metric = Callable[[Tensor, Tensor], Tensor]

METRICS: Registry[Metric] = Registry("metric")


@METRICS.register("l2_prob")
def l2_prob(reference_logits: Tensor, logits: Tensor) -> Tensor:
    """½‖softmax(u_t) − softmax(u)‖² over the last dim."""
    return 0.5 * (reference_logits.softmax(-1) - logits.softmax(-1)).pow(2).sum(-1)


@METRICS.register("kl")
def kl(reference_logits: Tensor, logits: Tensor) -> Tensor:
    """KL(softmax(u_t) ‖ softmax(u)) over the last dim, computed from the logit difference.

    With ``p = softmax(u_t)``, ``d = u − u_t`` and ``d̄ = Σ p d``: ``KL = log Σ p·exp(d − d̄)
    = log1p(Σ p·g(d − d̄))`` with ``g(x) = eˣ − 1 − x ≥ 0`` (as ``Σ p (d − d̄) = 0``). Every term
    is ≥ 0 and of order ``(d − d̄)²``, so near θ_t the value keeps float32's relative precision
    (the textbook ``Σ p (log p − log q)`` subtracts two O(1) numbers and returns ±1e-8 noise, sometimes
    negative, when ``u ≈ u_t``). Exactly 0 when ``u = u_t``; never negative.
    """
    probs = reference_logits.softmax(-1)
    difference = logits - reference_logits
    centred = difference - (probs * difference).sum(-1, keepdim=True)
    return torch.log1p((probs * _exp_minus_one_minus(centred)).sum(-1))


def _exp_minus_one_minus(x: Tensor) -> Tensor:
    """``eˣ − 1 − x`` elementwise, accurate for small ``|x|`` (its Taylor series below 1e-2)."""
    series = 0.5 * x * x * (1 + x / 3 * (1 + x / 4))
    return torch.where(x.abs() < 1e-2, series, torch.expm1(x) - x)


@METRICS.register("l2_logit")
def l2_logit(reference_logits: Tensor, logits: Tensor) -> Tensor:
    """½‖u_t − u‖² over the last dim (the metric ``estimator=exact`` computes in closed form)."""
    return 0.5 * (reference_logits - logits).pow(2).sum(-1)


def get_metric(name: str) -> Metric:
    """The metric registered as ``name`` (ValueError listing the choices otherwise), computed in
    float32 on float32 copies of the logits also under bf16 autocast (softmax differences)."""
    metric = METRICS.get(name)

    def in_float32(reference_logits: Tensor, logits: Tensor) -> Tensor:
        with float32_region(logits.device):
            return metric(as_float32(reference_logits), as_float32(logits))

    return in_float32


__all__ = ["METRICS", "Metric", "get_metric", "l2_prob", "kl", "l2_logit"]
