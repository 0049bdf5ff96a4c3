"""Top principal components of a data matrix without forming its d × d covariance.

For CIFAR (d = 3072) a float64 ``eigh`` of the covariance costs 6.5 CPU-seconds per class (docs/results.md);
the randomized subspace iteration below (Halko, Martinsson & Tropp, 2011, Alg. 4.4 + 5.1) touches
the centred data ``A [N, d]`` only through products ``A @ [d, l]`` and ``Aᵀ @ [N, l]`` with
``l = k + OVERSAMPLE`` columns, so it costs ``O(N·d·l)`` per pass instead of ``O(N·d² + d³)``.
When ``l`` reaches ``min(N, d)`` the random range would be the whole row space anyway, and an exact
thin SVD (in float64) is both cheaper and exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

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
    """The top-k eigenpairs of the unbiased covariance of ``x_flat [N, d]``, and its exact diagonal.

    Attributes:
        mean: ``[d]`` in the data's dtype.
        variances: ``[d]`` float64, ``Σ_jj`` (unbiased; zero for N = 1), computed exactly from the data.
        eigenvalues: ``[k]`` float64, descending, ≥ 0, with ``k = min(rank, N, d)`` (a covariance of
            N examples has no more than N − 1 non-zero eigenvalues).
        directions: ``[d, k]`` float64, orthonormal columns (the eigenvectors).
    """

    mean: Tensor
    variances: Tensor
    eigenvalues: Tensor
    directions: Tensor


def principal_components(x_flat: Tensor, rank: int) -> PrincipalComponents:
    """Top ``rank`` principal components of ``x_flat [N, d]`` (1 ≤ rank ≤ d), never forming ``[d, d]``.

    The products with the data run in its own dtype (float32 for images, as the covariance was
    before); the small factorizations (QR of ``[*, l]``, the SVD of the ``[l, d]`` projection) and the
    per-feature variances are float64.
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


def exact_principal_components(x_flat: Tensor, rank: int) -> PrincipalComponents:
    """The same from a float64 ``eigh`` of the ``[d, d]`` covariance: the reference that tests and
    ``scripts/bench_summary.py`` compare against (``O(N·d² + d³)``: about 15 s for d = 3072)."""
    mean = x_flat.mean(0)
    centered = (x_flat - mean).double()
    cov = centered.mT @ centered / max(x_flat.shape[0] - 1, 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)
    keep = min(rank, x_flat.shape[0])
    return PrincipalComponents(
        mean=mean,
        variances=cov.diagonal(),
        eigenvalues=eigenvalues.flip(0)[:keep].clamp_min(0),
        directions=eigenvectors.flip(1)[:, :keep],
    )


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
