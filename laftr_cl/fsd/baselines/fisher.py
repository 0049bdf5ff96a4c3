"""EWC as a quadratic FSD estimate: FSD_t(θ) ≈ ½ (θ − θ_t)ᵀ diag(F_t) (θ − θ_t).

With the *true* Fisher of the head's predictive distribution, F = E_x Σ_c p_c(x) g_c g_cᵀ with
g_c = ∇_θ log p_c(x; θ_t), the quadratic is the second-order expansion of the KL FSD
(ρ = ``kl``) around θ_t; EWC keeps only its diagonal. The *empirical* Fisher uses the observed
label instead of the sum over classes: F = E_(x,y) g_y g_yᵀ. Both are computed here from
per-example gradients (``torch.func.vmap`` of ``grad``), not from squared minibatch gradients.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from laftr_cl.fsd.baselines.common import (
    check_reduction,
    check_snapshot,
    detached_parameters,
    eval_mode,
    gather_data,
    head_index,
    plain_network,
    reduce_tasks,
    select_head,
    tensor_bytes,
    with_total,
)

FISHERS = ("empirical", "true")


@dataclass(frozen=True, eq=False)
class FisherSummary:
    """What the Fisher quadratic keeps of task t: one importance and one θ_t value per parameter.

    Attributes:
        diagonal: parameter name → diag(F_t), the parameter's shape (units: squared nats per
            squared parameter unit).
        snapshot: parameter name → θ_t, detached.
        fisher: ``empirical`` or ``true``.
    """

    diagonal: dict[str, Tensor]
    snapshot: dict[str, Tensor]
    fisher: str = "true"

    def nbytes(self) -> dict[str, int]:
        """Bytes by part: ``importances`` (diag F), ``snapshot`` (θ_t), ``total``."""
        return with_total({"importances": tensor_bytes(self.diagonal.values()),
                           "snapshot": tensor_bytes(self.snapshot.values())})

    def state_dict(self) -> dict[str, Any]:
        return {"diagonal": self.diagonal, "snapshot": self.snapshot, "fisher": self.fisher}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "FisherSummary":
        return cls(state["diagonal"], state["snapshot"], state["fisher"])


def fisher_summarize(
    model: nn.Module,
    data: Any,
    *,
    fisher: str = "true",
    output_units: Sequence[int] | None = None,
    batch_size: int = 64,
) -> FisherSummary:
    """diag(F_t) over all of the task's data at θ_t (eval mode), from per-example gradients.

    Args:
        model: the network at θ_t (or a wrapper with ``.net``).
        data: ``(x [N, ...], y [N])`` or an iterable of ``(x, y, ...)`` batches; ``y`` holds
            global class ids, which must be among ``output_units`` (``fisher="empirical"`` only).
        fisher: ``true`` (expectation over the head's predicted classes, K gradients per example)
            or ``empirical`` (the observed label, one gradient per example).
        output_units: O_t, or None for all outputs: the softmax is over the task's head.
        batch_size: examples per vectorized gradient pass (memory: ``batch_size`` × #parameters floats).
    """
    if fisher not in FISHERS:
        raise ValueError(f"Unknown fisher={fisher!r}: choose one of {', '.join(FISHERS)}.")
    net = plain_network(model)
    x, y = gather_data(data, batch_size)
    param = next(net.parameters())
    units = head_index(output_units, param.device)
    params = {name: p.detach() for name, p in net.named_parameters()}
    log_prob = _weighted_log_prob(net, units)
    per_example = vmap(grad(log_prob), in_dims=(None, 0, 0))
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    with eval_mode(net):
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            xb = xb.to(param.device, param.dtype)
            for weight, one_hot in _class_terms(net, xb, yb, units, fisher):
                grads = per_example(params, xb, one_hot)
                for name, g in grads.items():
                    total[name] += torch.einsum("b,b...->...", weight, g.pow(2))
    diagonal = {name: t / x.shape[0] for name, t in total.items()}
    return FisherSummary(diagonal, detached_parameters(net), fisher)


def fisher_fsd(model: nn.Module, summaries: Sequence[FisherSummary], *, reduction: str = "mean") -> Tensor:
    """½ Σ_p F_t,p (θ_p − θ_t,p)² per task t, at the model's current θ (differentiable).

    Returns a scalar (``reduction`` ``mean`` or ``sum`` over tasks) or ``[T]`` (``none``).
    """
    check_reduction(reduction)
    if not summaries:
        raise ValueError("fisher_fsd() needs at least one FisherSummary (made by fisher_summarize()).")
    net = plain_network(model)
    params = dict(net.named_parameters())
    values = []
    for summary in summaries:
        check_snapshot(net, summary.snapshot, "Fisher summary's snapshot")
        values.append(0.5 * sum(
            (summary.diagonal[k].to(p) * (p - summary.snapshot[k].to(p)).pow(2)).sum() for k, p in params.items()))
    return reduce_tasks(torch.stack(values), reduction)


def _weighted_log_prob(net: nn.Module, units: Tensor | None) -> Callable[[dict[str, Tensor], Tensor, Tensor], Tensor]:
    """``(params, x [*input_shape], one_hot [K]) → log p_c(x)`` for the class c that ``one_hot`` marks."""

    def log_prob(params: dict[str, Tensor], x: Tensor, one_hot: Tensor) -> Tensor:
        logits = functional_call(net, params, (x.unsqueeze(0),)).squeeze(0)
        return (select_head(logits, units).log_softmax(-1) * one_hot).sum()

    return log_prob


def _class_terms(net: nn.Module, x: Tensor, y: Tensor, units: Tensor | None,
                 fisher: str) -> list[tuple[Tensor, Tensor]]:
    """``(weight [B], one_hot [B, K])`` pairs whose weighted squared gradients sum to the batch's
    Fisher diagonal: the label with weight 1 (empirical), or every class c with weight p_c (true)."""
    with torch.no_grad():
        probs = select_head(net(x), units).softmax(-1)
    num_classes = probs.shape[-1]
    if fisher == "true":
        eye = torch.eye(num_classes, device=x.device, dtype=x.dtype)
        return [(probs[:, c], eye[c].expand_as(probs)) for c in range(num_classes)]
    position = _label_positions(y.to(x.device), units, num_classes)
    return [(torch.ones_like(probs[:, 0]), nn.functional.one_hot(position, num_classes).to(x.dtype))]


def _label_positions(y: Tensor, units: Tensor | None, num_classes: int) -> Tensor:
    """Each label's position among the head's units ``[B]``; ValueError for a label outside the head."""
    if units is None:
        position = y.long()
        bad = (position < 0) | (position >= num_classes)
    else:
        match = y.long().unsqueeze(1) == units.unsqueeze(0)
        position, bad = match.long().argmax(1), ~match.any(1)
    if bool(bad.any()):
        raise ValueError(f"fisher='empirical' got labels {sorted(set(y[bad].tolist()))} outside the task's "
                         f"output units {None if units is None else units.tolist()}: pass the task's output_units.")
    return position
