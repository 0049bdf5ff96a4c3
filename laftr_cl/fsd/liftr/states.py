"""The two kinds of state LIFTR propagates, and linear maps applied to them.

A *map* is linear in ``v [T, B, *f_in] → [T, B, *f_out]`` (T tasks; B draws, or rows of a covariance).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor

Map = Callable[[Tensor], Tensor]


@dataclass
class Moments:
    """``mean [T, *f]``; ``cov [T, F, F]`` (full) or ``var [T, *f]`` (diag): one of the two is set."""

    mean: Tensor
    cov: Tensor | None = None
    var: Tensor | None = None


def sandwich(fn: Map, cov: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``J C Jᵀ`` for the linear map ``fn`` = J on features ``shape`` and ``cov [T, F, F]`` → ``[T, F', F']``."""
    t, f = cov.shape[:2]
    right = fn(cov.reshape(t, f, *shape)).reshape(t, f, -1)  # C Jᵀ
    g = right.shape[-1]
    return fn(right.transpose(1, 2).reshape(t, g, *shape)).reshape(t, g, g)


def apply(fn: Map, mean: Tensor) -> Tensor:
    """``fn`` on a per-task value ``[T, *f]`` (one row)."""
    return fn(mean.unsqueeze(1)).squeeze(1)


def per_task(v: Tensor, weight: Tensor) -> Tensor:
    """``v [T, B, *p, i]`` times task t's ``weight [T, o, i]`` transposed → ``[T, B, *p, o]``."""
    t, i = v.shape[0], v.shape[-1]
    return (v.reshape(t, -1, i) @ weight.mT).reshape(*v.shape[:-1], weight.shape[1])
