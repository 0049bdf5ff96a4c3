"""The input-model interface and registry (see :mod:`laftr_cl.fsd.input_models`)."""
from __future__ import annotations

from typing import ClassVar, Sequence, TypeVar

import torch
from torch import Tensor

from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.registry import Registry
from laftr_cl.fsd.tensors import tensor_bytes

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
        return tensor_bytes(self.tensors().values())

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


def input_model_class(name: str) -> type[InputModel]:
    """The class registered for ``inputs=name`` (ValueError listing the choices otherwise)."""
    return INPUT_MODELS.get(name)
