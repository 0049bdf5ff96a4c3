"""Proximity terms D(θ, θ_s) of the proximal Bregman response function, one interface.

A term is built once from the trained network (at θ_s) and what it may keep of the training set,
then evaluated at any parameter dict θ: ``term(params) → scalar``, differentiable, zero with zero
gradient at θ_s and positive away from it. Evaluation goes through
``torch.func.functional_call``, so a solver can ``vmap`` it over a batch of parameter sets.

Registered builders (config ``proximity``), each ``build(model, (x, y), metric=..., generator=...,
**options)``:

* ``true_fsd``: the FSD over all training inputs (the PBRF's own term; the reference).
* ``laftr``: LAFTR's estimate from a :class:`~laftr_cl.fsd.TaskSummary` (any input model).
* ``fisher``: the quadratic ``½ Δθᵀ diag(G) Δθ``, G the Gauss-Newton matrix of the FSD at θ_s.
* ``subset``: the FSD over a stored random subset of the training inputs.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from laftr_cl.fsd import SummaryBank, TaskSummary, fsd, summarize, true_fsd
from laftr_cl.fsd.registry import Registry
from laftr_cl.influence.ggn import diagonal_ggn
from laftr_cl.influence.params import Params, detached_params, params_nbytes

Data = tuple[Tensor, Tensor]


class Proximity(ABC):
    """D(θ, θ_s) for one trained network. Subclasses implement :meth:`__call__` and :meth:`nbytes`.

    Attributes:
        model: the network; its own parameters stay at θ_s (they are never modified).
        anchor: θ_s, a detached parameter dict.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.anchor = detached_params(model)

    @abstractmethod
    def __call__(self, params: Params) -> Tensor:
        """D at ``params`` (same names and shapes as ``model.named_parameters()``): a scalar."""

    @abstractmethod
    def nbytes(self) -> int:
        """Bytes this term keeps beyond θ_s (which every term needs)."""


class _Applied(nn.Module):
    """``forward() = term(model)``, with ``model`` a submodule so functional_call can swap its parameters."""

    def __init__(self, model: nn.Module, term: Callable[[nn.Module], Tensor]) -> None:
        super().__init__()
        self.model = model
        self.term = term

    def forward(self) -> Tensor:
        return self.term(self.model)


class ModelTerm(Proximity):
    """A term computed by running the network: ``term(model)`` evaluated at swapped-in parameters."""

    def __init__(self, model: nn.Module, term: Callable[[nn.Module], Tensor]) -> None:
        super().__init__(model)
        self._applied = _Applied(model, term)

    def __call__(self, params: Params) -> Tensor:
        return functional_call(self._applied, {f"model.{name}": p for name, p in params.items()}, ())


class DataFSD(ModelTerm):
    """The FSD over stored inputs ``x [N, ...]``: mean of ρ(f(x; θ_s), f(x; θ)) (``true_fsd``).

    Keeps a frozen copy of the network at θ_s; under ``vmap`` its forward is computed once per call.
    """

    def __init__(self, model: nn.Module, x: Tensor, *, metric: str, batch_size: int = 1024) -> None:
        self.x = x
        reference = copy.deepcopy(model).requires_grad_(False)
        unused_labels = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        super().__init__(
            model, lambda m: true_fsd(m, reference, (x, unused_labels), metric=metric, batch_size=batch_size)
        )

    def nbytes(self) -> int:
        return self.x.numel() * self.x.element_size()


class LaftrFSD(ModelTerm):
    """LAFTR's FSD estimate from one task summary of the training set (``laftr_cl.fsd.fsd``).

    Inputs and gates are drawn from ``generator`` (on the model's device): with ``fixed_draws`` the
    generator is rewound before every call, so every call makes the same draws (one deterministic
    objective for the solver); otherwise each call draws afresh, as in continual training. Under
    ``vmap`` with ``randomness="same"`` every parameter set of a batch sees the same draws.
    """

    def __init__(self, model: nn.Module, summary: TaskSummary, *, metric: str, generator: torch.Generator,
                 fixed_draws: bool = True, **fsd_options: Any) -> None:
        self.summary = summary
        bank = SummaryBank(model, [summary])
        start = generator.get_state()

        def term(m: nn.Module) -> Tensor:
            if fixed_draws:
                generator.set_state(start)
            return fsd(m, bank, metric=metric, generator=generator, **fsd_options)

        super().__init__(model, term)

    def nbytes(self) -> int:
        parts = self.summary.nbytes()
        return parts["total"] - parts["snapshot"]


class DiagonalQuadratic(Proximity):
    """``½ Σ curvature ⊙ (θ − θ_s)²`` with a stored diagonal curvature (one number per parameter)."""

    def __init__(self, model: nn.Module, curvature: Params) -> None:
        super().__init__(model)
        self.curvature = curvature

    def __call__(self, params: Params) -> Tensor:
        return 0.5 * sum((self.curvature[n] * (params[n] - self.anchor[n]).pow(2)).sum() for n in self.anchor)

    def nbytes(self) -> int:
        return params_nbytes(self.curvature)


class NoProximity(Proximity):
    """D = 0: only the parameter proximity ``(λ/2)‖θ − θ_s‖²`` of the solver remains (a baseline)."""

    def __call__(self, params: Params) -> Tensor:
        return sum(0.0 * p.sum() for p in params.values())

    def nbytes(self) -> int:
        return 0


PROXIMITIES: Registry[Callable[..., Proximity]] = Registry("proximity")


@PROXIMITIES.register("true_fsd")
def build_true_fsd(model: nn.Module, data: Data, *, metric: str, generator: torch.Generator | None = None,
                   batch_size: int = 1024) -> Proximity:
    """The FSD over every training input: the PBRF's proximity term."""
    return DataFSD(model, data[0], metric=metric, batch_size=batch_size)


@PROXIMITIES.register("subset")
def build_subset(model: nn.Module, data: Data, *, metric: str, generator: torch.Generator | None = None,
                 size: int = 100) -> Proximity:
    """The FSD over ``size`` training inputs drawn without replacement with ``generator``."""
    if not 1 <= size <= data[0].shape[0]:
        raise ValueError(f"subset size={size} must be in [1, {data[0].shape[0]}] (the training set's size).")
    device = generator.device if generator is not None else "cpu"
    index = torch.randperm(data[0].shape[0], generator=generator, device=device)[:size].to(data[0].device)
    return DataFSD(model, data[0][index], metric=metric)


@PROXIMITIES.register("laftr")
def build_laftr(model: nn.Module, data: Data, *, metric: str, generator: torch.Generator | None = None,
                inputs: str = "full", rank: int | None = None, coreset_size: int | None = None,
                classwise: bool = False, **fsd_options: Any) -> Proximity:
    """LAFTR from a summary of the training set (``inputs``, ``rank``, ``coreset_size``, ``classwise``
    as in :func:`~laftr_cl.fsd.summarize`; ``estimator``, ``num_samples``, ... as in :func:`~laftr_cl.fsd.fsd`).
    Without a generator, one on the model's device is seeded from torch's global random state."""
    if generator is None:
        device = next(model.parameters()).device
        generator = torch.Generator(device=device).manual_seed(int(torch.randint(2**62, ())))
    summary = summarize(model, data, inputs=inputs, rank=rank, coreset_size=coreset_size,
                        classwise=classwise, generator=generator)
    return LaftrFSD(model, summary, metric=metric, generator=generator, **fsd_options)


@PROXIMITIES.register("fisher")
def build_fisher(model: nn.Module, data: Data, *, metric: str, generator: torch.Generator | None = None,
                 batch_size: int = 64) -> Proximity:
    """``½ Δθᵀ diag(G) Δθ`` with G the FSD's Gauss-Newton matrix at θ_s (the Fisher for ``kl``)."""
    return DiagonalQuadratic(model, diagonal_ggn(model, data[0], metric=metric, batch_size=batch_size))


@PROXIMITIES.register("none")
def build_none(model: nn.Module, data: Data, *, metric: str, generator: torch.Generator | None = None) -> Proximity:
    """No function-space term: the response is shaped by the loss gradient and λ alone."""
    return NoProximity(model)


def build_proximity(name: str, model: nn.Module, data: Data, *, metric: str,
                    generator: torch.Generator | None = None, **options: Any) -> Proximity:
    """The term registered as ``name`` for ``model`` at θ_s and its training data ``(x [N, ...], y [N])``."""
    return PROXIMITIES.get(name)(model, data, metric=metric, generator=generator, **options)
