"""Top principal components of a data matrix, without forming a large d × d covariance.

Up to ``EIGH_MAX_DIM`` features (MNIST's 784) the float64 ``eigh`` of the covariance is cheap and is
used exactly as before. For CIFAR (d = 3072) it costs 6.5 CPU-seconds per class (docs/results.md), so
above that the randomized subspace iteration below (Halko, Martinsson & Tropp, 2011, Alg. 4.4 + 5.1)
touches the centred data ``A [N, d]`` only through products ``A @ [d, l]`` and ``Aᵀ @ [N, l]`` with
``l = k + OVERSAMPLE`` columns: ``O(N·d·l)`` per pass instead of ``O(N·d² + d³)``. When ``l``
reaches ``min(N, d)`` the random range would be the whole row space anyway, and an exact thin SVD
(in float64) is both cheaper and exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

EIGH_MAX_DIM = 1024
"""Largest d for which :func:`principal_components` uses the exact ``eigh`` (0.1–0.3 s for d = 784)."""

OVERSAMPLE = 10
"""Extra columns of the random range beyond k (Halko et al. recommend 5–10)."""

POWER_ITERATIONS = 4
"""Passes of subspace iteration (q): the top-k subspace's error shrinks like ``(σ_{l+1} / σ_k)^(2q+1)``, so it
is accurate even for the slowly decaying spectra of images (99.97% of the exact top-k variance on Fashion-MNIST)."""

SEED = 0
"""Seed of the random test matrix: a summary does not depend on (or advance) the global RNG."""

CHUNK = 512
"""Rows of the data cast to float64 at a time (variances and the final projection ``Qᵀ A``)."""


@dataclass(frozen=True)
class PrincipalComponents:
    """The top-k eigenpairs of the unbiased covariance of ``x_flat [N, d]``, and its diagonal.

    Attributes:
        mean: ``[d]`` in the data's dtype.
        variances: ``[d]`` float64, ``Σ_jj`` (unbiased; zero for N = 1), computed from the data, not
            from the factorization.
        eigenvalues: ``[k]`` float64, descending, ≥ 0; ``k = rank``, or ``min(rank, N)`` on the randomized
            path (a covariance of N examples has at most N − 1 non-zero eigenvalues).
        directions: ``[d, k]`` float64, orthonormal columns (the eigenvectors).
    """

    mean: Tensor
    variances: Tensor
    eigenvalues: Tensor
    directions: Tensor


def covariance(x_flat: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``[d]`` and unbiased covariance ``[d, d]`` (biased for N = 1, i.e. zero) of ``x_flat [N, d]``."""
    mean = x_flat.mean(0)
    centered = x_flat - mean
    return mean, centered.T @ centered / max(x_flat.shape[0] - 1, 1)


def principal_components(x_flat: Tensor, rank: int) -> PrincipalComponents:
    """Top ``rank`` principal components of ``x_flat [N, d]`` (1 ≤ rank ≤ d): exact for d ≤ ``EIGH_MAX_DIM``,
    randomized above."""
    if x_flat.shape[1] <= EIGH_MAX_DIM:
        return exact_principal_components(x_flat, rank)
    return randomized_principal_components(x_flat, rank)


def exact_principal_components(x_flat: Tensor, rank: int) -> PrincipalComponents:
    """From a float64 ``eigh`` of the covariance (formed in the data's dtype), ``rank`` directions.

    ``O(N·d² + d³)``: the path for small d, and the reference tests and ``scripts/bench_summary.py``
    compare the randomized path against.
    """
    mean, cov = covariance(x_flat)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov.double())
    return PrincipalComponents(
        mean=mean,
        variances=cov.diagonal().double(),
        eigenvalues=eigenvalues[-rank:].flip(0).clamp_min(0),
        directions=eigenvectors[:, -rank:].flip(1),
    )


def randomized_principal_components(x_flat: Tensor, rank: int) -> PrincipalComponents:
    """The same by randomized subspace iteration, never forming ``[d, d]``.

    The products with the data run in its own dtype (float32 for images, as the covariance was
    before); the small factorizations (QR of ``[*, l]``, the SVD of the ``[l, d]`` projection) and the
    per-feature variances are float64. Returns ``min(rank, N)`` directions (exact thin SVD when
    ``rank + OVERSAMPLE ≥ min(N, d)``).
    """
    num, dim = x_flat.shape
    mean = x_flat.mean(0)
    centered = x_flat - mean
    scale = max(num - 1, 1)
    variances = sum(rows.double().pow(2).sum(0) for rows in centered.split(CHUNK)) / scale
    columns = min(rank + OVERSAMPLE, num, dim)
    if columns >= min(num, dim):
        _, singular, right = torch.linalg.svd(centered.double(), full_matrices=False)
    else:
        basis = _range(centered, columns)
        projected = sum(q.mT @ a.double() for q, a in zip(basis.split(CHUNK), centered.split(CHUNK)))
        _, singular, right = torch.linalg.svd(projected, full_matrices=False)
    eigenvalues = singular[:rank].pow(2) / scale
    directions = right[:rank].mT
    return PrincipalComponents(mean=mean, variances=variances, eigenvalues=eigenvalues, directions=directions)


def _range(centered: Tensor, columns: int) -> Tensor:
    """Orthonormal ``Q [N, columns]`` (float64) whose span holds the top left singular vectors of ``centered``."""
    generator = torch.Generator(device=centered.device).manual_seed(SEED)
    test = torch.randn(centered.shape[1], columns, generator=generator, device=centered.device, dtype=centered.dtype)
    basis = _orthonormal(centered @ test)
    for _ in range(POWER_ITERATIONS):
        basis = _orthonormal(centered @ _orthonormal(centered.mT @ basis))
    return _orthonormal(basis.double())


def _orthonormal(y: Tensor) -> Tensor:
    """An orthonormal basis of the columns of ``y [n, l]`` (reduced QR), in ``y``'s dtype."""
    return torch.linalg.qr(y).Q
