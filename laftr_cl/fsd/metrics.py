"""Output discrepancies ρ(u_t, u) between reference and current logits (spec §1, config ``metric``).

Each metric maps logits ``[..., K]`` of the reference (θ_t) and of the current network (θ) to
``[...]``. Outputs that are padding (a task with fewer output units than the bank's widest one)
hold the same very negative logit in both networks: they add exactly 0 to every metric.
"""
from __future__ import annotations

from typing import Callable

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
    """KL(softmax(u_t) ‖ softmax(u)) over the last dim."""
    reference_log_probs = reference_logits.log_softmax(-1)
    return (reference_log_probs.exp() * (reference_log_probs - logits.log_softmax(-1))).sum(-1)


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
