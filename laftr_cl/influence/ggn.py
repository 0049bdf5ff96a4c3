"""The diagonal of the Gauss-Newton matrix of an FSD metric: the curvature of the diagonal-Fisher baseline.

For an output discrepancy ρ(u_s, u) (``laftr_cl.fsd.metrics``), the second-order expansion of the
true FSD at θ_s is ``½ Δθᵀ G Δθ`` with ``G = mean over x of Jᵀ H J``, where ``J = ∂u/∂θ [K, P]``
and ``H = ∂²ρ/∂u² [K, K]`` at ``u = u_s`` (the term with ∂²u/∂θ² vanishes there since ∂ρ/∂u = 0).
For ``kl`` this G is the Fisher information of the softmax likelihood; we keep its diagonal.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call, hessian, vjp, vmap

from laftr_cl.fsd.metrics import get_metric
from laftr_cl.influence.params import Params, detached_params


def metric_hessian_factor(metric: str, logits: Tensor) -> Tensor:
    """A factor ``L`` with ``L Lᵀ = ∂²ρ(u_s, u)/∂u² at u = u_s``, per row: ``[B, K] → [B, K, K]``.

    Computed from the metric itself (``torch.func.hessian`` + an eigendecomposition, negative
    round-off eigenvalues clipped to 0), so it holds for every registered metric.
    """
    rho = get_metric(metric)
    curvature = vmap(hessian(lambda u, ref: rho(ref, u), argnums=0))(logits, logits)  # [B, K, K]
    eigenvalues, eigenvectors = torch.linalg.eigh(curvature)
    return eigenvectors * eigenvalues.clamp_min(0).sqrt().unsqueeze(-2)


def diagonal_ggn(model: nn.Module, x: Tensor, *, metric: str, batch_size: int = 64) -> Params:
    """``diag(G)`` at the model's current parameters θ_s, one tensor per parameter (same shapes).

    Args:
        model: the network at θ_s, called as ``model(x [B, ...]) → logits [B, K]``.
        x: the training inputs ``[N, ...]`` over which G is averaged.
        metric: ρ, one of ``laftr_cl.fsd.METRICS``.
        batch_size: examples per vectorized chunk (memory grows as ``batch_size · K · P``).

    Per example, ``diag(Jᵀ H J) = Σ_k (Jᵀ l_k)²`` over the columns ``l_k`` of the factor of H: K
    vector-Jacobian products per example, vectorized with ``vmap``.
    """
    if x.shape[0] == 0:
        raise ValueError("diagonal_ggn() got no inputs: pass the training inputs x [N, ...] with N ≥ 1.")
    params = detached_params(model)
    total = {name: torch.zeros_like(p) for name, p in params.items()}

    def per_example(xi: Tensor, factor: Tensor) -> Params:
        _, pullback = vjp(lambda p: functional_call(model, p, (xi.unsqueeze(0),)).squeeze(0), params)
        (columns,) = vmap(pullback)(factor.mT)  # one pulled-back column per l_k: [K, *shape]
        return {name: g.pow(2).sum(0) for name, g in columns.items()}

    for start in range(0, x.shape[0], batch_size):
        chunk = x[start : start + batch_size]
        with torch.no_grad():
            factor = metric_hessian_factor(metric, model(chunk))
        squares = vmap(per_example)(chunk, factor)
        for name in total:
            total[name] += squares[name].sum(0)
    return {name: t / x.shape[0] for name, t in total.items()}
