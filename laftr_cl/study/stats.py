"""The studies' statistics: agreement between an estimate and the reference — Pearson and Spearman
correlations, the ratio of magnitudes, the fraction of matching signs, the median relative error
(all in float64; inputs are tensors or sequences of numbers)."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor


def pearson(a: Tensor | Sequence[float], b: Tensor | Sequence[float]) -> float:
    """Pearson correlation of ``a`` and ``b`` (any equal shapes, flattened), clipped to [−1, 1] against
    round-off; NaN if either is constant."""
    a, b = _pair(a, b)
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.pow(2).sum() * b.pow(2).sum()).sqrt()
    return float((a @ b / denominator).clamp(-1, 1)) if denominator > 0 else float("nan")


def average_ranks(values: Tensor | Sequence[float]) -> Tensor:
    """Ranks ``1 … n`` of a 1-d tensor, tied values sharing the mean of their ranks (float64)."""
    values = torch.as_tensor(values, dtype=torch.float64)
    order = values.argsort(stable=True)
    ranks = torch.empty(values.numel(), dtype=torch.float64)
    ranks[order] = torch.arange(1, values.numel() + 1, dtype=torch.float64)
    _, group, counts = torch.unique(values, return_inverse=True, return_counts=True)
    sums = torch.zeros(counts.numel(), dtype=torch.float64).index_add_(0, group, ranks)
    return (sums / counts)[group]


def spearman(a: Tensor | Sequence[float], b: Tensor | Sequence[float]) -> float:
    """Spearman correlation (Pearson of average ranks) of ``a`` and ``b``, flattened."""
    a, b = _pair(a, b)
    return pearson(average_ranks(a), average_ranks(b))


def mean_over_rows(correlation: Callable[[Tensor, Tensor], float], a: Tensor, b: Tensor) -> float:
    """For ``[R, C]`` matrices: the mean over rows of ``correlation(a[i], b[i])`` (e.g. ``pearson``);
    rows where either is constant are skipped (NaN if all are). Pass ``a.T, b.T`` for columns."""
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"mean_over_rows() needs two [R, C] matrices (got {list(a.shape)}, {list(b.shape)}).")
    values = torch.tensor([correlation(a[i], b[i]) for i in range(a.shape[0])], dtype=torch.float64)
    values = values[~values.isnan()]
    return float(values.mean()) if values.numel() else float("nan")


def median_norm_ratio(a: Tensor, b: Tensor) -> float:
    """For ``[R, C]`` matrices: the median over rows of ``‖a[i]‖ / ‖b[i]‖`` (rows where ``b[i] = 0`` are
    skipped; NaN if all are). 1: the estimate ``a`` moves the reference's ``b`` by the right amount."""
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"median_norm_ratio() needs two [R, C] matrices (got {list(a.shape)}, {list(b.shape)}).")
    a, b = a.detach().cpu().to(torch.float64), b.detach().cpu().to(torch.float64)
    norms = b.norm(dim=1)
    keep = norms > 0
    return float((a.norm(dim=1)[keep] / norms[keep]).median()) if keep.any() else float("nan")


def sign_agreement(a: Tensor, b: Tensor) -> float:
    """The fraction of entries where ``a`` and ``b`` have the same sign (zero counts as its own sign)."""
    a, b = _pair(a, b)
    return float((a.sign() == b.sign()).to(torch.float64).mean())


def median_relative_error(estimates: Sequence[float], truths: Sequence[float]) -> float:
    """Median over points of |estimate − truth| / truth (points with truth 0 left out; NaN if none remain)."""
    pairs = [(e, t) for e, t in zip(estimates, truths) if t > 0]
    if not pairs:
        return math.nan
    return float(torch.tensor([abs(e - t) / t for e, t in pairs], dtype=torch.float64).quantile(0.5))


def _pair(a: Tensor | Sequence[float], b: Tensor | Sequence[float]) -> tuple[Tensor, Tensor]:
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"Correlations need tensors of one shape (got {list(a.shape)} and {list(b.shape)}).")
    if a.numel() < 2:
        raise ValueError("Correlations need at least 2 values.")
    return a.detach().flatten().cpu().to(torch.float64), b.detach().flatten().cpu().to(torch.float64)
