"""The one pass over a task's data at θ_t that measures what LIFTR keeps of each step.

Per step (``F`` = features of the step's input, flattened; ``covariance`` ``full`` or ``diag``):

* ``linear``, ``conv``: the input's mean ``[*f]`` and covariance ``[F, F]`` (``full``) or variance ``[*f]`` (``diag``).
* ``activation``: ReLU: the firing rate P(s > 0) ``[*f]``; a smooth σ: the mean Jacobian E[σ'(s)]
  ``[*f]`` and its second moment E[σ'(s)²] ``[*f]``.
* ``attention``: see :mod:`laftr_cl.fsd.liftr.attention`.
* ``layernorm`` over ``d`` features at positions ``[*p]`` (``x̂ = (x − mean)·r``, ``r = 1/√(var + ε)``):
  the moments of ``x̂`` (as for ``linear``), E[r] ``[*p]`` and E[r·x̂x̂ᵀ] ``[*p, d, d]`` (``full``) or
  E[r·x̂²] ``[*p, d]`` (``diag``): the average Jacobian of the normalization is
  ``E[r]·(I − 11ᵀ/d) − E[r·x̂x̂ᵀ]/d``.

Sums are accumulated in float64 and returned in the model's dtype. Keys: ``<node>.<statistic>``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.fx as fx
from torch import Tensor

from laftr_cl.fsd.liftr.attention import record as record_attention
from laftr_cl.fsd.liftr.graph import Network, Step
from laftr_cl.fsd.liftr.interpret import run_graph

RECORDED = ("linear", "conv", "activation", "layernorm", "attention")
"""The step kinds that keep statistics."""


class Sums:
    """Running sums of named tensors over examples; :meth:`means` divides by the count."""

    def __init__(self) -> None:
        self.count = 0
        self.totals: dict[str, Tensor] = {}

    def add(self, key: str, value: Tensor) -> None:
        """Adds ``value`` (already summed over the batch) to the total of ``key``."""
        value = value.to(torch.float64)
        self.totals[key] = value if key not in self.totals else self.totals[key] + value

    def means(self) -> dict[str, Tensor]:
        return {k: v / self.count for k, v in self.totals.items()}


def _moments(sums: Sums, key: str, x: Tensor, covariance: str) -> None:
    """Adds Σx and Σxxᵀ (``full``) or Σx² (``diag``) of ``x [B, *f]`` under ``key``."""
    x = x.to(torch.float64)
    sums.add(f"{key}.mean", x.sum(0))
    flat = x.reshape(x.shape[0], -1)
    if covariance == "full":
        sums.add(f"{key}.cov", flat.T @ flat)
    else:
        sums.add(f"{key}.var", (x * x).sum(0))


def _centre(means: dict[str, Tensor], key: str) -> None:
    """Second moments → covariance (``.cov``) or variance (``.var``), in place."""
    mean = means[f"{key}.mean"]
    if f"{key}.cov" in means:
        flat = mean.reshape(-1)
        cov = means[f"{key}.cov"] - torch.outer(flat, flat)
        means[f"{key}.cov"] = 0.5 * (cov + cov.T)
    else:
        means[f"{key}.var"] = (means[f"{key}.var"] - mean * mean).clamp_min(0)


def _derivative(fn: Callable[[Tensor], Tensor], s: Tensor) -> Tensor:
    """σ'(s) elementwise, ``s [B, *f]`` (σ is pointwise, so the gradient of Σσ(s) is σ'(s))."""
    with torch.enable_grad():
        s = s.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(s).sum(), s)
    return grad


def record(step: Step, x: Tensor, sums: Sums, covariance: str) -> None:
    """Adds step ``step``'s statistics of its input batch ``x [B, *f]`` to ``sums``."""
    key = step.node.name
    if step.kind in ("linear", "conv"):
        _moments(sums, key, x, covariance)
    elif step.kind == "activation":
        if step.relu:
            sums.add(f"{key}.rate", (x > 0).sum(0))
        else:
            g = _derivative(step.fn, x).to(torch.float64)
            sums.add(f"{key}.jacobian", g.sum(0))
            sums.add(f"{key}.jacobian_sq", (g * g).sum(0))
    elif step.kind == "attention":
        record_attention(key, step.module, x, sums, _moments, covariance)
    elif step.kind == "layernorm":
        module = step.module
        x64 = x.to(torch.float64)
        var, mean = torch.var_mean(x64, dim=-1, unbiased=False, keepdim=True)
        r = torch.rsqrt(var + module.eps)
        normalized = (x64 - mean) * r
        _moments(sums, f"{key}.normalized", normalized, covariance)
        sums.add(f"{key}.inv_std", r.squeeze(-1).sum(0))
        if covariance == "full":
            outer = normalized.unsqueeze(-1) * normalized.unsqueeze(-2)
            sums.add(f"{key}.inv_std_outer", (r.unsqueeze(-1) * outer).sum(0))
        else:
            sums.add(f"{key}.inv_std_outer", (r * normalized * normalized).sum(0))


def finish(sums: Sums, network: Network, dtype: torch.dtype) -> dict[str, Tensor]:
    """The statistics' means (covariances centred), in ``dtype``."""
    means = sums.means()
    for step in network.steps:
        if step.kind in ("linear", "conv"):
            _centre(means, step.node.name)
        elif step.kind == "layernorm":
            _centre(means, f"{step.node.name}.normalized")
        elif step.kind == "attention":
            for part in ("", ".out", ".query", ".key", ".value", ".scores"):
                _centre(means, f"{step.node.name}{part}")
    return {k: v.to(dtype) for k, v in means.items()}


def run_recording(network: Network, x: Tensor, sums: Sums, covariance: str) -> Tensor:
    """The network's forward on ``x [B, *input_shape]`` (its traced graph, node by node), recording
    every step's statistics of its input; returns the logits ``[B, K]``."""
    steps = {step.node: step for step in network.steps if step.kind in RECORDED}

    def visit(node: fx.Node, args: tuple) -> None:
        if node in steps:
            record(steps[node], args[0], sums, covariance)

    return run_graph(network.model, network.trace, x, visit, overrides=network.overrides())


__all__ = ["Sums", "record", "finish", "run_recording"]
