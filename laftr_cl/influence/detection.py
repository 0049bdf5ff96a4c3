"""Mislabeled-example detection: the fraction of flipped labels found against the fraction checked.

Examples are checked in decreasing order of a score (ties in index order). After checking the top
``k`` of ``N``, the curve is at ``(k/N, found_k/F)`` with ``F`` flipped examples in all, from (0, 0)
to (1, 1). Its area (trapezoid rule, exact for this piecewise-linear curve) is 0.5 in expectation
for a random order, ``1 − f/2`` for a perfect one (f = F/N: the flipped all come first) and ``f/2``
for the worst (they all come last).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class DetectionCurve:
    """Attributes: checked, found: ``[N + 1]`` fractions (float64), area: the area under ``found(checked)``."""

    checked: Tensor
    found: Tensor
    area: float

    def found_at(self, fraction_checked: float) -> float:
        """Fraction of flipped labels found after checking ``⌈fraction_checked · N⌉`` examples."""
        if not 0 <= fraction_checked <= 1:
            raise ValueError(f"fraction_checked must be in [0, 1] (got {fraction_checked}).")
        count = self.checked.numel() - 1
        return float(self.found[min(count, math.ceil(fraction_checked * count - 1e-9))])


def detection_curve(scores: Tensor, flipped: Tensor) -> DetectionCurve:
    """The curve for ``scores [N]`` (larger: checked first) and the true ``flipped [N]`` (bool) mask."""
    if scores.shape != flipped.shape or scores.dim() != 1:
        raise ValueError(f"detection_curve() needs scores [N] and flipped [N] (got {list(scores.shape)}, {list(flipped.shape)}).")
    total = int(flipped.sum())
    if total == 0:
        raise ValueError("No example is flipped: raise the fraction of flipped labels (e.g. flip_fraction=0.1).")
    order = torch.sort(scores.detach().cpu().to(torch.float64), descending=True, stable=True).indices
    hits = flipped.cpu()[order].to(torch.float64)
    found = torch.cat([torch.zeros(1, dtype=torch.float64), hits.cumsum(0) / total])
    checked = torch.arange(scores.numel() + 1, dtype=torch.float64) / scores.numel()
    return DetectionCurve(checked=checked, found=found, area=float(torch.trapezoid(found, checked)))


def random_curve(flipped: Tensor, *, num_orders: int, generator: torch.Generator) -> DetectionCurve:
    """The mean curve (and area) of ``num_orders`` uniformly random orders: the random baseline, whose
    expectation is the diagonal (area 0.5)."""
    if num_orders < 1:
        raise ValueError(f"random_orders must be ≥ 1 (got {num_orders}).")
    curves = [detection_curve(torch.rand(flipped.shape[0], generator=generator), flipped) for _ in range(num_orders)]
    found = torch.stack([c.found for c in curves]).mean(0)
    return DetectionCurve(checked=curves[0].checked, found=found, area=float(torch.trapezoid(found, curves[0].checked)))
