"""Input models: what a task summary keeps of the task's inputs (spec §4, config ``inputs``).

Each model is fitted once, when the summary is made, on the flattened inputs ``x_flat [N, d]``;
all factorizations happen then, never per step. Every tensor field carries leading *batch*
dimensions, so the same class represents one model (batch ``[]``), the per-class models of a
classwise summary (batch ``[C]``) and the stacked models of a bank (batch ``[N, P]``); sampling
and second moments then work for the whole batch in one call.

Shared interface: ``fit``, ``sample``, ``mean``, ``project`` (second moments for ``exact``),
``nbytes``, ``state_dict`` / ``from_state_dict``, ``stack``, ``reshape_batch``, ``to``.
"""
from __future__ import annotations

from typing import ClassVar, Sequence, TypeVar

import torch
from torch import Tensor

from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.registry import Registry

JITTER = 1e-4
"""Added to every Gaussian model's variances (the reference code's ``Σ + 1e-4·I``)."""

M = TypeVar("M", bound="InputModel")


class InputModel:
    """Base class. Subclasses list their tensor fields and how many trailing (non-batch) dims each has.

    Attributes:
        event_dims: field name → number of trailing dimensions that are not batch dimensions.
    """

    name: ClassVar[str]
    event_dims: ClassVar[dict[str, int]]

    def __init__(self, **fields: Tensor) -> None:
        if set(fields) != set(self.event_dims):
            raise ValueError(f"inputs={self.name} needs the fields {sorted(self.event_dims)}, got {sorted(fields)}.")
        for key, value in fields.items():
            setattr(self, key, value)

    # ----------------------------------------------------------------- fitting
    @classmethod
    def validate(cls, *, dim: int | None, rank: int | None, coreset_size: int | None) -> None:
        """Raise a ValueError for options this model cannot use (``dim`` may be unknown: None)."""

    @classmethod
    def fit(
        cls: type[M],
        x_flat: Tensor,
        *,
        rank: int | None = None,
        coreset_size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> M:
        """Fit on ``x_flat [N, d]`` (N ≥ 1). ``rank`` is used by ``lowrank``, ``coreset_size`` and
        ``generator`` (choice of the stored inputs) by ``coreset``; other models ignore them."""
        raise NotImplementedError

    # ----------------------------------------------------------------- using
    @property
    def batch_shape(self) -> torch.Size:
        """Leading batch dimensions shared by all fields."""
        key, dims = next(iter(self.event_dims.items()))
        shape = getattr(self, key).shape
        return shape[: len(shape) - dims]

    @property
    def mean(self) -> Tensor:
        """Mean of the flattened inputs, ``[*batch, d]``."""
        raise NotImplementedError

    def sample(self, num: int, generator: Noise | torch.Generator | None = None) -> Tensor:
        """``num`` draws per model: ``[*batch, num, d]`` (``[num, d]`` for one model)."""
        raise NotImplementedError

    def project(self, weight: Tensor) -> Tensor:
        """``weight @ F`` where ``Σ = F Fᵀ`` is the model's covariance: ``[..., h, d] → [..., h, r]``.

        Leading dims of ``weight`` broadcast against the batch shape. ``exact`` gets every second
        moment it needs from this, without forming ``Σ``.
        """
        raise NotImplementedError

    def _noise(self, generator: Noise | torch.Generator | None) -> Noise:
        floating = next(t for t in self.tensors().values() if t.is_floating_point())
        return Noise.wrap(generator, floating.device, floating.dtype)

    # ----------------------------------------------------------------- storage
    def tensors(self) -> dict[str, Tensor]:
        return {key: getattr(self, key) for key in self.event_dims}

    def nbytes(self) -> int:
        """Bytes held by the model's tensors."""
        return sum(t.numel() * t.element_size() for t in self.tensors().values())

    def state_dict(self) -> dict[str, Tensor]:
        """The model's tensors by field name (restored exactly by :meth:`from_state_dict`)."""
        return dict(self.tensors())

    @classmethod
    def from_state_dict(cls: type[M], state: dict[str, Tensor]) -> M:
        return cls(**state)

    def to(self: M, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> M:
        """A copy on ``device`` with floating fields cast to ``dtype`` (integer fields keep theirs)."""
        moved = {}
        for key, value in self.tensors().items():
            cast = dtype if (dtype is not None and value.is_floating_point()) else value.dtype
            moved[key] = value.to(device=device, dtype=cast)
        return type(self)(**moved)

    @classmethod
    def stack(cls: type[M], models: Sequence[M]) -> M:
        """Models with equal batch shapes → one model with a new leading batch dim ``[len(models), *batch]``."""
        return cls.concat([m.reshape_batch((1, *m.batch_shape)) for m in models])

    @classmethod
    def concat(cls: type[M], models: Sequence[M]) -> M:
        """Concatenate models along their first batch dim (fields padded to a common size first)."""
        if not models or any(type(m) is not cls for m in models):
            raise ValueError(f"{cls.__name__}.concat() needs one or more {cls.__name__} objects.")
        models = cls._pad(models)
        return cls(**{key: torch.cat([getattr(m, key) for m in models]) for key in cls.event_dims})

    def take(self: M, index: Tensor) -> M:
        """The models at ``index`` (int64 ``[G]``) along the first batch dim: batch ``[G, *rest]``."""
        return type(self)(**{key: value[index] for key, value in self.tensors().items()})

    @classmethod
    def _pad(cls, models: Sequence[M]) -> Sequence[M]:
        """Make field shapes equal before stacking (models of variable size override this)."""
        return models

    def reshape_batch(self: M, shape: Sequence[int]) -> M:
        """The same models with the batch dims reshaped to ``shape``."""
        return type(self)(
            **{
                key: value.reshape(*shape, *value.shape[value.dim() - self.event_dims[key] :])
                for key, value in self.tensors().items()
            }
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch={list(self.batch_shape)}, d={self.mean.shape[-1]})"


INPUT_MODELS: Registry[type[InputModel]] = Registry("inputs")


def _covariance(x_flat: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``[d]`` and unbiased covariance ``[d, d]`` (biased for N = 1, i.e. zero) of ``x_flat [N, d]``."""
    mean = x_flat.mean(0)
    centered = x_flat - mean
    return mean, centered.T @ centered / max(x_flat.shape[0] - 1, 1)


@INPUT_MODELS.register("full")
class FullGaussian(InputModel):
    """N(μ, Σ + 1e-4·I). Fields: ``loc [*, d]`` (the mean), ``scale_tril [*, d, d]`` (its Cholesky factor)."""

    name = "full"
    event_dims = {"loc": 1, "scale_tril": 2}

    @classmethod
    def fit(cls, x_flat, *, rank=None, coreset_size=None, generator=None):
        mean, cov = _covariance(x_flat)
        cov = cov.double() + JITTER * torch.eye(cov.shape[0], dtype=torch.float64, device=cov.device)
        return cls(loc=mean, scale_tril=torch.linalg.cholesky(cov).to(x_flat.dtype))

    @property
    def mean(self) -> Tensor:
        return self.loc

    def sample(self, num, generator=None):
        eps = self._noise(generator).normal((*self.batch_shape, num, self.mean.shape[-1]))
        return self.mean.unsqueeze(-2) + eps @ self.scale_tril.mT

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

    Fields: ``loc [*, d]`` (the mean), ``components [*, d, k]`` (eigenvectors of Σ scaled by the square
    roots of their eigenvalues), ``residual_std [*, d]`` (``sqrt(max(Σ_jj − (V Vᵀ)_jj, 0) + 1e-4)``,
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
        cls.validate(dim=x_flat.shape[-1], rank=rank, coreset_size=coreset_size)
        mean, cov = _covariance(x_flat)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov.double())
        top_values = eigenvalues[-rank:].flip(0).clamp_min(0)
        components = eigenvectors[:, -rank:].flip(1) * top_values.sqrt()
        residual = (cov.diagonal().double() - components.pow(2).sum(-1)).clamp_min(0) + JITTER
        return cls(
            loc=mean,
            components=components.to(x_flat.dtype),
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


@INPUT_MODELS.register("coreset")
class Coreset(InputModel):
    """m stored inputs, drawn uniformly with replacement (the empirical distribution of the coreset).

    Fields: ``points [*, m, d]`` (rows past ``count`` are zero padding), ``count [*]`` (int64, the
    number of real rows). For ``exact`` its mean and covariance are the coreset's empirical
    (population, 1/m) moments, i.e. exactly the moments of what :meth:`sample` draws.
    (The reference code instead uses the first S stored inputs, without resampling.)
    """

    name = "coreset"
    event_dims = {"points": 2, "count": 0}

    @classmethod
    def validate(cls, *, dim, rank, coreset_size):
        if (
            coreset_size is None
            or isinstance(coreset_size, bool)
            or not isinstance(coreset_size, int)
            or coreset_size < 1
        ):
            raise ValueError(
                f"inputs=coreset needs an integer coreset_size m ≥ 1 (got coreset_size={coreset_size!r}): "
                "pass coreset_size=m."
            )

    @classmethod
    def fit(cls, x_flat, *, rank=None, coreset_size=None, generator=None):
        """Keeps ``min(coreset_size, N)`` inputs chosen uniformly without replacement."""
        cls.validate(dim=x_flat.shape[-1], rank=rank, coreset_size=coreset_size)
        device = generator.device if generator is not None else x_flat.device
        order = torch.randperm(x_flat.shape[0], generator=generator, device=device)[:coreset_size]
        points = x_flat[order.to(x_flat.device)].clone()
        return cls(points=points, count=torch.tensor(points.shape[0], device=x_flat.device))

    def _valid(self) -> Tensor:
        """``[*, m, 1]`` mask of the real rows."""
        rows = torch.arange(self.points.shape[-2], device=self.points.device)
        return (rows < self.count.unsqueeze(-1)).unsqueeze(-1)

    @property
    def mean(self) -> Tensor:
        return (self.points * self._valid()).sum(-2) / self.count.unsqueeze(-1).to(self.points.dtype)

    def sample(self, num, generator=None):
        uniform = self._noise(generator).uniform((*self.batch_shape, num))
        index = (uniform * self.count.unsqueeze(-1).to(uniform.dtype)).long()
        index = torch.minimum(index, self.count.unsqueeze(-1) - 1)
        d = self.points.shape[-1]
        return self.points.gather(-2, index.unsqueeze(-1).expand(*index.shape, d))

    def project(self, weight):
        centered = (self.points - self.mean.unsqueeze(-2)) * self._valid()
        factor = centered.mT / self.count.to(self.points.dtype).sqrt()[..., None, None]
        return weight @ factor

    @classmethod
    def _pad(cls, models):
        size = max(m.points.shape[-2] for m in models)
        return [
            cls(points=torch.nn.functional.pad(m.points, (0, 0, 0, size - m.points.shape[-2])), count=m.count)
            for m in models
        ]


def input_model_class(name: str) -> type[InputModel]:
    """The class registered for ``inputs=name`` (ValueError listing the choices otherwise)."""
    return INPUT_MODELS.get(name)


__all__ = [
    "JITTER",
    "INPUT_MODELS",
    "InputModel",
    "FullGaussian",
    "DiagGaussian",
    "LowRankGaussian",
    "Coreset",
    "input_model_class",
]
