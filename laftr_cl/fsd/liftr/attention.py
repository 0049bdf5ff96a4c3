"""LIFTR through ``nn.MultiheadAttention`` (self-attention ``attn(h, h, h)``, batch-first, H heads of width e).

At θ_t: ``q, k, v = h·W_{q,k,v}ᵀ + b`` (split into heads ``[H, L, e]``), scores ``s = q kᵀ/√e``,
pattern ``a = softmax(s)``, output ``z·W_oᵀ + b_o`` with ``z`` = the heads of ``a v`` merged. Kept per
task (``<node>`` prefixes): the moments of ``h`` and of ``z`` (as a linear layer's input), the mean and
variance of q, k, v ``[H, L, e]`` and of the scores ``[H, L, L]``, the mean pattern E[a] ``[H, L, L]``
and E[a_ij a_ik] ``[H, L, L, L]`` (``full``) or E[a_ij²] ``[H, L, L]`` (``diag``).

The change of the output, to first order, with ``Δq = W_q·dh + dW_q·h + db_q`` (so a change of W_Q or
W_K moves the scores, and through the softmax the output)::

    Δs = (Δq kᵀ + q Δkᵀ)/√e,   Δa_ij = a_ij (Δs_ij − Σ_k a_ik Δs_ik),   Δz = Δa v + a Δv,
    Δout = W_o·Δz + dW_o·z + db_o

``stochastic``: h and z drawn from their moments, q, k, v from N(mean, variance), the pattern as the
softmax of scores drawn from N(mean, variance). ``deterministic``: the expected Jacobians, q, k, v
and the pattern at their means and ``E[a_ij a_ik]`` in the softmax's (``diag``: ``E[a_ij]E[a_ik]`` off
the diagonal), h and z integrated over their moments in closed form.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from laftr_cl.fsd.liftr.states import per_task


def heads(x: Tensor, count: int) -> Tensor:
    """``[..., L, D]`` → ``[..., H, L, D/H]``."""
    return x.unflatten(-1, (count, -1)).transpose(-3, -2)


def merge(x: Tensor) -> Tensor:
    """``[..., H, L, e]`` → ``[..., L, H·e]``."""
    return x.transpose(-3, -2).flatten(-2)


def record(key: str, module: nn.MultiheadAttention, h: Tensor, sums, moments, covariance: str) -> None:
    """Adds the attention's statistics of its input batch ``h [B, L, D]`` to ``sums`` (``moments(sums, key,
    x, covariance)`` adds a value's Σx and Σxxᵀ or Σx²)."""
    moments(sums, key, h, covariance)
    h = h.to(torch.float64)
    d, count = module.embed_dim, module.num_heads
    weight, bias = module.in_proj_weight.to(torch.float64), module.in_proj_bias
    projected = h @ weight.T + (0 if bias is None else bias.to(torch.float64))
    q, k, v = (heads(projected[..., i * d:(i + 1) * d], count) for i in range(3))
    scores = q @ k.mT / (d // count) ** 0.5
    pattern = scores.softmax(-1)
    for name, value in (("query", q), ("key", k), ("value", v), ("scores", scores)):
        moments(sums, f"{key}.{name}", value, "diag")
    sums.add(f"{key}.pattern", pattern.sum(0))
    if covariance == "full":
        sums.add(f"{key}.pattern_outer", torch.einsum("bhij,bhik->hijk", pattern, pattern))
    else:
        sums.add(f"{key}.pattern_sq", (pattern * pattern).sum(0))
    moments(sums, f"{key}.out", merge(pattern @ v), covariance)


def softmax_jacobian(pattern: Tensor, second: Tensor) -> Tensor:
    """The expected Jacobian of a softmax row, ``C [T, H, L, L, L]`` with ``Δa_ij = Σ_k C_ijk Δs_ik``:
    ``E[a_ij] δ_jk − E[a_ij a_ik]``; ``second`` is E[a_ij a_ik] ``[T, H, L, L, L]`` or E[a_ij²] ``[T, H, L, L]``."""
    if second.dim() == pattern.dim():
        second = pattern.unsqueeze(-1) * pattern.unsqueeze(-2) + torch.diag_embed(second - pattern * pattern)
    return torch.diag_embed(pattern) - second


class AttentionStep:
    """The attention's maps for one pass: ``prop`` the :class:`~laftr_cl.fsd.liftr.propagate.Propagation`."""

    def __init__(self, prop, step) -> None:
        m, bank = step.module, prop.bank
        self.prop, self.module, self.key = prop, m, step.node.name
        self.count, self.scale = m.num_heads, (m.embed_dim // m.num_heads) ** -0.5
        path = bank.paths[id(m)]
        self.delta_w = m.in_proj_weight - bank.snapshot[f"{path}.in_proj_weight"]  # [T, 3D, D]
        bias = m.in_proj_bias
        self.delta_b = (bias - bank.snapshot[f"{path}.in_proj_bias"]) if bias is not None else None  # [T, 3D]
        out = m.out_proj
        self.delta_wo = out.weight - bank.snapshot[f"{path}.out_proj.weight"]  # [T, D, D]
        self.delta_bo = (out.bias - bank.snapshot[f"{path}.out_proj.bias"]) if out.bias is not None else \
            out.weight.new_zeros(bank.num_tasks, out.weight.shape[0])
        self.stats, self.derived = prop.stats, prop.derived

    def _split(self, projected: Tensor) -> list[Tensor]:
        d = self.module.embed_dim
        return [heads(projected[..., i * d:(i + 1) * d], self.count) for i in range(3)]

    def _block(self, projected: Tensor, squared: bool) -> Tensor:
        """Δout = W_o·Δz from the projections' changes ``[T, B, L, 3D]`` at the expected Jacobians
        (``squared``: every coefficient squared, the map of variances) → ``[T, B, L, D]``."""
        p = (lambda c: c * c) if squared else (lambda c: c)
        q, k, v = self._split(projected)
        key, stats = self.key, self.stats
        scores = (q @ p(stats[f"{key}.key.mean"]).unsqueeze(1).mT
                  + p(stats[f"{key}.query.mean"]).unsqueeze(1) @ k.mT) * p(self.scale)
        pattern_change = torch.einsum("thijk,tbhik->tbhij", p(self.derived[f"{key}.softmax_jacobian"]), scores)
        z = pattern_change @ p(stats[f"{key}.value.mean"]).unsqueeze(1) + p(stats[f"{key}.pattern"]).unsqueeze(1) @ v
        return merge(z) @ p(self.module.out_proj.weight).T

    def deterministic(self, dx, shape: tuple[int, ...]):
        prop, weight = self.prop, self.module.in_proj_weight
        y = prop._propagate(dx, lambda u: self._block(u @ weight.T, False),
                            lambda u: self._block(u @ (weight * weight).T, True), shape)
        bias = self.delta_b if self.delta_b is not None else weight.new_zeros(prop.bank.num_tasks, weight.shape[0])
        shift = self._block(bias[:, None, None, :].expand(-1, 1, shape[0], -1), False).squeeze(1)
        y = prop._plus_noise(y, self.key, lambda u: self._block(per_task(u, self.delta_w), False),
                             lambda u: self._block(per_task(u, self.delta_w.pow(2)), True), shift, shape)
        return self._out_noise(y, shape)

    def stochastic(self, dx, shape: tuple[int, ...]) -> Tensor:
        prop, key, samples = self.prop, self.key, self.prop.samples
        projected = per_task(prop._draw(key, samples), self.delta_w)
        if self.delta_b is not None:
            projected = projected + self.delta_b[:, None, None, :]
        if dx is not None:
            projected = projected + dx @ self.module.in_proj_weight.T
        dq, dk, dv = self._split(projected)
        q, k, v, scores = (prop._draw(f"{key}.{name}", samples) for name in ("query", "key", "value", "scores"))
        pattern = scores.softmax(-1)
        ds = (dq @ k.mT + q @ dk.mT) * self.scale
        da = pattern * (ds - (pattern * ds).sum(-1, keepdim=True))
        y = merge(da @ v + pattern @ dv) @ self.module.out_proj.weight.T
        return self._out_noise(y, shape)

    def _out_noise(self, y, shape: tuple[int, ...]):
        return self.prop._plus_noise(y, f"{self.key}.out", lambda u: per_task(u, self.delta_wo),
                                     lambda u: per_task(u, self.delta_wo.pow(2)), self.delta_bo.unsqueeze(1), shape)
