"""Diagonal curvatures of the FSD, and EWC as a quadratic FSD estimate: FSD_t(θ) ≈ ½ Δθᵀ diag(F_t) Δθ.

One implementation, three names for what is kept on the diagonal:

* :func:`diagonal_ggn` — the Gauss-Newton matrix of an FSD metric ρ, G = mean_x Jᵀ H J with
  J = ∂u/∂θ of the head's logits u and H = ∂²ρ(u_s, u)/∂u² at u = u_s: the second-order
  expansion of the true FSD at θ_t (the term with ∂²u/∂θ² vanishes there since ∂ρ/∂u = 0).
* the *true* Fisher (``fisher="true"``): G for ρ = ``kl``, i.e. E_x Σ_c p_c g_c g_cᵀ with
  g_c = ∇_θ log p_c(x; θ_t), the Fisher information of the head's softmax.
* the *empirical* Fisher (``fisher="empirical"``): the observed label instead of the sum over
  classes, E_(x,y) g_y g_yᵀ.

Each is ``Σ_k (Jᵀ l_k)²`` per example for the columns l_k of a factor L (``L Lᵀ = H``; for the
empirical Fisher the one column ``p − e_y``), by vector-Jacobian products vectorized with
``torch.func.vmap``, not squared minibatch gradients.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, hessian, vjp, vmap

from laftr_cl.fsd.baselines.common import (
    FieldState,
    check_snapshot,
    gather_data,
    plain_network,
    select_head,
    with_total,
)
from laftr_cl.fsd.metrics import get_metric
from laftr_cl.fsd.reduction import check_reduction, reduce_tasks
from laftr_cl.fsd.tensors import detached_parameters, eval_mode, output_unit_index, tensor_bytes, unfused_attention

FISHERS = ("empirical", "true")


@dataclass(frozen=True, eq=False)
class FisherSummary(FieldState):
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
    if fisher == "true":
        diagonal = diagonal_ggn(net, x, metric="kl", output_units=output_units, batch_size=batch_size)
    else:
        units = output_unit_index(output_units, next(net.parameters()).device)
        diagonal = _diagonal_curvature(net, x, y, units, batch_size, lambda logits, labels: _label_factor(logits, labels, units))
    return FisherSummary(diagonal, detached_parameters(net), fisher)


def diagonal_ggn(model: nn.Module, x: Tensor, *, metric: str, output_units: Sequence[int] | None = None,
                 batch_size: int = 64) -> dict[str, Tensor]:
    """``diag(G)`` of the FSD metric ``metric`` at the model's current θ, one tensor per parameter.

    Args:
        model: the network at θ_t (or a wrapper with ``.net``), called as ``net(x [B, ...]) → logits [B, out]``.
        x: the inputs ``[N, ...]`` over which G is averaged (N ≥ 1).
        metric: ρ, one of ``laftr_cl.fsd.METRICS`` (``kl``: the true Fisher).
        output_units: O_t, or None for all outputs.
        batch_size: examples per vectorized chunk (memory grows as ``batch_size · K · P``).
    """
    if x.shape[0] == 0:
        raise ValueError("diagonal_ggn() got no inputs: pass the training inputs x [N, ...] with N ≥ 1.")
    net = plain_network(model)
    units = output_unit_index(output_units, next(net.parameters()).device)
    return _diagonal_curvature(net, x, None, units, batch_size, lambda logits, _: metric_hessian_factor(metric, logits))


def metric_hessian_factor(metric: str, logits: Tensor) -> Tensor:
    """A factor ``L`` with ``L Lᵀ = ∂²ρ(u_s, u)/∂u² at u = u_s``, per row: ``[B, K] → [B, K, K]``.

    Computed from the metric itself (``torch.func.hessian`` + an eigendecomposition, negative
    round-off eigenvalues clipped to 0), so it holds for every registered metric.
    """
    rho = get_metric(metric)
    curvature = vmap(hessian(lambda u, ref: rho(ref, u), argnums=0))(logits, logits)  # [B, K, K]
    eigenvalues, eigenvectors = torch.linalg.eigh(curvature)
    return eigenvectors * eigenvalues.clamp_min(0).sqrt().unsqueeze(-2)


Factor = Callable[[Tensor, Tensor | None], Tensor]
"""``(head logits [B, K], labels [B] or None) → L [B, K, C]``: the columns pulled back per example."""


def _diagonal_curvature(net: nn.Module, x: Tensor, y: Tensor | None, units: Tensor | None, batch_size: int,
                        factor: Factor) -> dict[str, Tensor]:
    """mean over ``x`` of ``Σ_c (Jᵀ l_c)²`` per parameter (eval mode), with ``L = factor(logits, y)``
    (attention unfused: ``vmap`` has no batching rule for PyTorch's fused attention kernels)."""
    param = next(net.parameters())
    params = {name: p.detach() for name, p in net.named_parameters()}
    total = {name: torch.zeros_like(p) for name, p in params.items()}

    def per_example(xi: Tensor, columns: Tensor) -> dict[str, Tensor]:
        _, pullback = vjp(lambda p: select_head(functional_call(net, p, (xi.unsqueeze(0),)).squeeze(0), units), params)
        (pulled,) = vmap(pullback)(columns.mT)  # one pulled-back column per l_c: [C, *shape]
        return {name: g.pow(2).sum(0) for name, g in pulled.items()}

    with eval_mode(net), unfused_attention():
        for start in range(0, x.shape[0], batch_size):
            chunk = x[start : start + batch_size].to(param.device, param.dtype)
            with torch.no_grad():
                columns = factor(select_head(net(chunk), units), None if y is None else y[start : start + batch_size])
            squares = vmap(per_example)(chunk, columns)
            for name in total:
                total[name] += squares[name].sum(0)
    return {name: t / x.shape[0] for name, t in total.items()}


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


def _label_factor(logits: Tensor, y: Tensor, units: Tensor | None) -> Tensor:
    """``p − e_y`` as one column per example ``[B, K, 1]``: ∇_u log p_y(u) up to sign, whose pull-back
    squared is the empirical Fisher's per-example term."""
    probs = logits.softmax(-1)
    position = _label_positions(y.to(logits.device), units, probs.shape[-1])
    return (probs - nn.functional.one_hot(position, probs.shape[-1]).to(probs.dtype)).unsqueeze(-1)


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
