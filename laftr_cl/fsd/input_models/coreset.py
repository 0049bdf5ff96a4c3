"""The ``coreset`` input model: m stored inputs of the task."""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.fsd.input_models.base import INPUT_MODELS, InputModel
from laftr_cl.fsd.tensors import random_rows


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
        order = random_rows(x_flat.shape[0], coreset_size, generator, device=x_flat.device)
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
