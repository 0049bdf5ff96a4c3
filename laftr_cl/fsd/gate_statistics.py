"""Per-unit gate statistics of a task's data (what a summary keeps of each gated activation) and the
law the ``bernoulli`` estimator draws gates from (``docs/transformers.md``, family (a)).

A binary gate (ReLU ``g ∈ {0, 1}``, LeakyReLU ``g ∈ {slope, 1}``) is described by its firing rate
``p = P(s > 0)``; a smooth gate (GELU, SiLU, tanh, ...) by ``m = E[g(s)]`` and ``q = E[g(s)²]``.
Draws: ``z = floor + height · 1[u < prob]``, ``u ~ U[0, 1)``, with

* binary: ``floor`` = the gate's low value, ``height = 1 − floor``, ``prob = p`` (exactly the gate's law;
  ReLU: ``z = 1[u < p]``, LAFTR's Bernoulli gates);
* smooth: ``floor = 0``, ``height = q / m``, ``prob = m² / q`` (a scaled Bernoulli with mean ``m`` and
  second moment ``q``, the task's own; ``prob ≤ 1`` by Cauchy–Schwarz).

So every gate's draws have the task's mean and variance per unit, which is all the closed form
(``estimator=exact``) reads: ``E[z] = m``, ``Var z = q − m²``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from laftr_cl.fsd.activations import Pointwise

TINY = 1e-30


@dataclass
class GateLaw:
    """What a step draws gate j from: ``prob [N, P, *units]``, ``height`` (same shape) or None for a binary
    gate (height ``1 − floor``), ``floor`` (0 for a smooth gate)."""

    prob: Tensor
    height: Tensor | None
    floor: float

    def draw(self, uniform: Tensor) -> Tensor:
        """Gates from ``uniform`` draws ``[N, P, S or 1, *units]`` (``prob`` broadcast over dim 2)."""
        z = (uniform < self.prob.unsqueeze(2)).to(uniform.dtype)
        if self.height is not None:
            return z * self.height.unsqueeze(2)
        if self.floor:
            return self.floor + (1 - self.floor) * z
        return z

    def moments(self) -> tuple[Tensor, Tensor]:
        """``(E[z], Var z)`` per unit, ``[N, P, *units]`` (ReLU: ``(p, p(1 − p))``)."""
        height = (1 - self.floor) if self.height is None else self.height
        return self.floor + height * self.prob, height**2 * self.prob * (1 - self.prob)


def gate_law(activation: Pointwise, mean: Tensor, second: Tensor | None) -> GateLaw:
    """The draw law of one gate from its statistics (``mean``: the firing rate of a binary gate)."""
    if activation.binary:
        return GateLaw(mean, None, float(activation.floor))
    if second is None:
        raise ValueError(f"A smooth gate ({activation.name}) needs its second moments E[g²] in the summary.")
    prob = torch.where(second > TINY, mean.pow(2) / second.clamp_min(TINY), torch.zeros_like(mean))
    height = torch.where(mean > TINY, second / mean.clamp_min(TINY), torch.zeros_like(mean))
    return GateLaw(prob.clamp(max=1.0), height, 0.0)


class GateCounts:
    """Sums over a task's data, per component: for each gate, ``1[s > 0]`` (binary) or ``g(s)`` and ``g(s)²``.

    ``add`` takes each gate's pre-activations ``s [B, *units]``; :meth:`statistics` divides by the counts.
    """

    def __init__(self, activations: list[Pointwise]) -> None:
        self.activations = activations
        self.first: list[Tensor] = []
        self.second: list[Tensor | None] = []

    def add(self, component: Tensor, pre_activations: list[Tensor], rows: int) -> None:
        if not self.first:
            self.first = [torch.zeros(0, s[0].numel(), dtype=torch.long if a.binary else s.dtype, device=s.device)
                          for a, s in zip(self.activations, pre_activations)]
            self.second = [None if a.binary else f.clone() for a, f in zip(self.activations, self.first)]
        for j, (a, s) in enumerate(zip(self.activations, pre_activations)):
            if a.binary:
                self.first[j] = _grow(self.first[j], rows).index_add_(0, component, (s > 0).flatten(1).long())
                continue
            g = a.gate(s).flatten(1)
            self.first[j] = _grow(self.first[j], rows).index_add_(0, component, g)
            self.second[j] = _grow(self.second[j], rows).index_add_(0, component, g * g)

    def statistics(self, present: Tensor, counts: Tensor, dtype: torch.dtype) -> tuple[list[Tensor], list[Tensor | None]]:
        """Per gate ``[C, units]``: firing rates or ``E[g]``, and ``E[g²]`` (None for binary gates)."""
        denominator = counts.unsqueeze(-1).to(dtype)
        means = [f[present].to(dtype) / denominator for f in self.first]
        seconds = [None if s is None else s[present].to(dtype) / denominator for s in self.second]
        return means, seconds


def _grow(t: Tensor, rows: int) -> Tensor:
    """``t`` with zero rows appended up to ``rows`` rows."""
    if t.shape[0] >= rows:
        return t
    return torch.cat([t, t.new_zeros(rows - t.shape[0], *t.shape[1:])])
