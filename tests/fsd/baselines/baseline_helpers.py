"""Tiny float64 networks and data for the FSD-baseline tests."""
from __future__ import annotations

import copy

import torch
from torch import nn

import helpers


def tiny_mlp(seed: int = 0, sizes=(6, 8, 5, 4)) -> nn.Sequential:
    """:func:`helpers.tiny_mlp` with the baselines' default widths, float64."""
    return helpers.tiny_mlp(sizes, seed=seed)


def tiny_data(n: int = 40, dim: int = 6, classes=(0, 1), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``x [n, dim]`` float64 and ``y [n]`` drawn from ``classes``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    y = torch.tensor(classes)[torch.randint(len(classes), (n,), generator=generator)]
    return x, y


def moved(model: nn.Module, direction: list[torch.Tensor], scale: float) -> nn.Module:
    """A copy of ``model`` with θ ← θ + scale · direction."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p, d in zip(out.parameters(), direction):
            p.add_(scale * d)
    return out


def random_direction(model: nn.Module, seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in model.parameters()]
