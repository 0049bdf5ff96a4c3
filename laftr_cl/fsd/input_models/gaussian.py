"""Gaussian input models: ``full``, ``diag``, ``lowrank`` (factorized once, at fit time)."""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.fsd.input_models.base import INPUT_MODELS, JITTER, InputModel
from laftr_cl.fsd.input_models.pca import covariance, principal_components

TRIANGULAR_BLOCKS = 4
"""Row blocks of ``L`` in :func:`times_lower_triangular` on CPU: 4 skips 3/8 of the dense product."""


def times_lower_triangular(eps: Tensor, scale_tril: Tensor) -> Tensor:
    """``eps @ Lᵀ`` for lower-triangular ``L = scale_tril [*, d, d]`` and ``eps [*, M, d]`` → ``[*, M, d]``.

    On CPU (d ≥ 256) the product skips most of L's zero upper triangle: output block i of the rows
    of L needs only the first ``hi_i`` columns, so it is ``eps[..., :hi_i] @ L[..., lo_i:hi_i, :hi_i]ᵀ``
    (measured in docs/results.md, "Regularizer step time"). On GPU one dense product costs less
    than several kernel launches, so it stays one ``matmul``.
    """
    d = scale_tril.shape[-1]
    if eps.is_cuda or d < 256:
        return eps @ scale_tril.mT
    edges = [round(i * d / TRIANGULAR_BLOCKS) for i in range(TRIANGULAR_BLOCKS + 1)]
    return torch.cat([eps[..., :hi] @ scale_tril[..., lo:hi, :hi].mT for lo, hi in zip(edges[:-1], edges[1:])], -1)


@INPUT_MODELS.register("full")
class FullGaussian(InputModel):
    """N(μ, Σ + 1e-4·I). Fields: ``loc [*, d]`` (the mean), ``scale_tril [*, d, d]`` (its Cholesky factor)."""

    name = "full"
    event_dims = {"loc": 1, "scale_tril": 2}

    @classmethod
    def fit(cls, x_flat, *, rank=None, coreset_size=None, generator=None):
        mean, cov = covariance(x_flat)
        cov = cov.double() + JITTER * torch.eye(cov.shape[0], dtype=torch.float64, device=cov.device)
        return cls(loc=mean, scale_tril=torch.linalg.cholesky(cov).to(x_flat.dtype))

    @property
    def mean(self) -> Tensor:
        return self.loc

    def sample(self, num, generator=None):
        eps = self._noise(generator).normal((*self.batch_shape, num, self.mean.shape[-1]))
        return self.mean.unsqueeze(-2) + times_lower_triangular(eps, self.scale_tril)

    def project(self, weight):
        return weight @ self.scale_tril


@INPUT_MODELS.register("diag")
class DiagGaussian(InputModel):
    """N(μ, diag(σ² + 1e-4)). Fields: ``loc [*, d]`` (the mean), ``std [*, d]``."""

    name = "diag"
    event_dims = {"loc": 1, "std": 1}

    @classmethod
    def fit(cls, x_flat, *, rank=None, coreset_size=None, generator=None):
        var = x_flat.var(0, unbiased=x_flat.shape[0] > 1)
        return cls(loc=x_flat.mean(0), std=(var + JITTER).sqrt())

    @property
    def mean(self) -> Tensor:
        return self.loc

    def sample(self, num, generator=None):
        eps = self._noise(generator).normal((*self.batch_shape, num, self.mean.shape[-1]))
        return self.mean.unsqueeze(-2) + eps * self.std.unsqueeze(-2)

    def project(self, weight):
        return weight * self.std.unsqueeze(-2)


@INPUT_MODELS.register("lowrank")
class LowRankGaussian(InputModel):
    """N(μ, V Vᵀ + diag(r²)): the top-k principal directions plus a diagonal residual.

    Fields: ``loc [*, d]`` (the mean), ``components [*, d, k]`` (the top-k eigenvectors of Σ scaled by the
    square roots of their eigenvalues), ``residual_std [*, d]`` (``sqrt(max(Σ_jj − (V Vᵀ)_jj, 0) + 1e-4)``,
    so the marginal variances equal those of ``diag``).
    """

    name = "lowrank"
    event_dims = {"loc": 1, "components": 2, "residual_std": 1}

    @classmethod
    def validate(cls, *, dim, rank, coreset_size):
        if rank is None or isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"inputs=lowrank needs an integer rank ≥ 1 (got rank={rank!r}): pass rank=k.")
        if dim is not None and rank > dim:
            raise ValueError(
                f"inputs=lowrank got rank={rank} but the inputs have d={dim} features: use 1 ≤ rank ≤ {dim} "
                "(or inputs=full)."
            )

    @classmethod
    def fit(cls, x_flat, *, rank=None, coreset_size=None, generator=None):
        """Top-k eigenpairs from :func:`.pca.principal_components` (exact ``eigh`` for d ≤ 1024, randomized
        subspace iteration above, never forming ``Σ [d, d]``); the residual uses the data's per-feature variances."""
        cls.validate(dim=x_flat.shape[-1], rank=rank, coreset_size=coreset_size)
        pcs = principal_components(x_flat, rank)
        components = pcs.directions * pcs.eigenvalues.sqrt()
        residual = (pcs.variances - components.pow(2).sum(-1)).clamp_min(0) + JITTER
        missing = rank - components.shape[-1]  # fewer examples than k: the other directions have variance 0
        return cls(
            loc=pcs.mean,
            components=torch.nn.functional.pad(components, (0, missing)).to(x_flat.dtype),
            residual_std=residual.sqrt().to(x_flat.dtype),
        )

    @property
    def mean(self) -> Tensor:
        return self.loc

    def sample(self, num, generator=None):
        noise = self._noise(generator)
        d, k = self.components.shape[-2:]
        low = noise.normal((*self.batch_shape, num, k)) @ self.components.mT
        residual = noise.normal((*self.batch_shape, num, d)) * self.residual_std.unsqueeze(-2)
        return self.mean.unsqueeze(-2) + low + residual

    def project(self, weight):
        return torch.cat([weight @ self.components, weight * self.residual_std.unsqueeze(-2)], dim=-1)

    @classmethod
    def _pad(cls, models):
        rank = max(m.components.shape[-1] for m in models)
        return [
            cls(
                loc=m.loc,
                components=torch.nn.functional.pad(m.components, (0, rank - m.components.shape[-1])),
                residual_std=m.residual_std,
            )
            for m in models
        ]
