"""The proximal Bregman response of training examples, solved with a proximity term D.

For a training example z = (x, y) of a set of N, the response is

    θ*(z) = argmin_θ  D(θ, θ_s) − ε · CE(f(x; θ), y) + (λ/2) ‖θ − θ_s‖²

(Bae et al., 2022, with D the FSD averaged over the training set; ε = 1/N removes z's share of the
training loss). It is solved by K steps of heavy-ball gradient descent on the offset δ = θ − θ_s,
starting at δ = 0. Plain gradient steps keep the response linear in ε while it is small (ε → 0
leaves θ_s unchanged) and identical for every D with the same K and step size; Adam's normalized
steps would not. Queries are solved together with ``torch.func.vmap`` (``randomness="same"``:
a stochastic D draws the same inputs and gates for every query of a chunk at a step).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from laftr_cl.influence.params import Params, shifted, squared_norm
from laftr_cl.influence.proximity import Proximity


@dataclass(frozen=True)
class SolverSettings:
    """How each response is solved.

    Attributes:
        epsilon: ε, the weight of the example's loss (``1/N`` is the PBRF's removal of one example).
        l2: λ, the weight of the parameter proximity ``(λ/2)‖θ − θ_s‖²`` (> 0 keeps it well posed).
        steps: K, gradient steps from θ_s.
        lr: η, the step size.
        momentum: μ of the heavy-ball update ``v ← μ v + ∇, δ ← δ − η v`` (0: plain descent).
        chunk_size: queries solved together in one vectorized pass.
    """

    epsilon: float
    l2: float = 1e-3
    steps: int = 50
    lr: float = 0.1
    momentum: float = 0.9
    chunk_size: int = 32

    def __post_init__(self) -> None:
        if self.steps < 0 or self.chunk_size < 1:
            raise ValueError(f"solver.steps must be ≥ 0 and solver.chunk_size ≥ 1 (got {self.steps}, {self.chunk_size}).")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.l2 < 0:
            raise ValueError(
                f"solver.lr must be > 0, solver.momentum in [0, 1) and solver.l2 ≥ 0 "
                f"(got lr={self.lr}, momentum={self.momentum}, l2={self.l2})."
            )


def response_objective(proximity: Proximity, offset: Params, x: Tensor, y: Tensor, settings: SolverSettings) -> Tensor:
    """``D(θ_s + δ) − ε · CE(f(x; θ_s + δ), y) + (λ/2)‖δ‖²`` for one example ``x [*input_shape]``, ``y []``."""
    return _smooth_part(proximity, offset, x, y, settings.epsilon) + 0.5 * settings.l2 * squared_norm(offset)


def _smooth_part(proximity: Proximity, offset: Params, x: Tensor, y: Tensor, epsilon: float) -> Tensor:
    """``D(θ_s + δ) − ε · CE(f(x; θ_s + δ), y)``: the objective without its parameter proximity."""
    params = shifted(proximity.anchor, offset)
    logits = functional_call(proximity.model, params, (x.unsqueeze(0),))
    return proximity(params) - epsilon * F.cross_entropy(logits, y.unsqueeze(0))


def solve_responses(proximity: Proximity, x: Tensor, y: Tensor, settings: SolverSettings) -> Params:
    """The response offsets ``δ_q = θ*(z_q) − θ_s`` of the queries ``x [Q, ...]``, ``y [Q]``.

    Returns a parameter dict of ``[Q, *shape]`` tensors. The model runs in eval mode (its mode is
    restored). Raises ValueError when a response is not finite (the step size is too large for D).
    """
    model = proximity.model
    training = model.training
    model.eval()
    try:
        chunks = [_solve_chunk(proximity, x[i : i + settings.chunk_size], y[i : i + settings.chunk_size], settings)
                  for i in range(0, x.shape[0], settings.chunk_size)]
    finally:
        model.train(training)
    return {name: torch.cat([c[name] for c in chunks]) for name in proximity.anchor}


def _solve_chunk(proximity: Proximity, x: Tensor, y: Tensor, settings: SolverSettings) -> Params:
    """Heavy-ball steps on ``[C, *shape]`` offsets; the parameter proximity's gradient λδ is added
    in closed form (in place, like the updates: each step touches the ``[C, P]`` tensors few times)."""
    gradient = vmap(grad(lambda d, xi, yi: _smooth_part(proximity, d, xi, yi, settings.epsilon)), randomness="same")
    offset = {n: p.new_zeros(x.shape[0], *p.shape) for n, p in proximity.anchor.items()}
    velocity = {n: torch.zeros_like(d) for n, d in offset.items()}
    for _ in range(settings.steps):
        step = gradient(offset, x, y)
        for n in offset:
            velocity[n].mul_(settings.momentum).add_(step[n]).add_(offset[n], alpha=settings.l2)
            offset[n].sub_(velocity[n], alpha=settings.lr)
    if not all(torch.isfinite(d).all() for d in offset.values()):
        raise ValueError(
            f"A response diverged (non-finite parameters): lower solver.lr (now {settings.lr}) or "
            f"solver.momentum (now {settings.momentum})."
        )
    return offset


def loss_changes(model: nn.Module, offsets: Params, x: Tensor, y: Tensor, *, chunk_size: int = 64) -> Tensor:
    """``[Q, M]``: ``CE(θ_s + δ_q; x_j, y_j) − CE(θ_s; x_j, y_j)`` for test points ``x [M, ...]``, ``y [M]``.

    Computed in float64 (the changes are small differences of losses), with the model in eval mode.
    """
    net, anchor = _float64_copy(model)
    x = x.to(torch.float64)
    base = F.cross_entropy(net(x), y, reduction="none")

    def changed(offset: Params) -> Tensor:
        return F.cross_entropy(functional_call(net, shifted(anchor, offset), (x,)), y, reduction="none") - base

    rows = [vmap(changed)(_to64(_take(offsets, i, chunk_size))) for i in range(0, _count(offsets), chunk_size)]
    return torch.cat(rows)


def self_loss_changes(model: nn.Module, offsets: Params, x: Tensor, y: Tensor) -> Tensor:
    """``[Q]``: the change of query q's own loss, ``CE(θ_s + δ_q; x_q, y_q) − CE(θ_s; x_q, y_q)``, in float64."""
    net, anchor = _float64_copy(model)
    x = x.to(torch.float64)

    def changed(offset: Params, xi: Tensor, yi: Tensor) -> Tensor:
        xi, yi = xi.unsqueeze(0), yi.unsqueeze(0)
        after = F.cross_entropy(functional_call(net, shifted(anchor, offset), (xi,)), yi)
        return after - F.cross_entropy(functional_call(net, anchor, (xi,)), yi)

    return vmap(changed)(_to64(offsets), x, y)


def _float64_copy(model: nn.Module) -> tuple[nn.Module, Params]:
    net = copy.deepcopy(model).to(torch.float64).eval().requires_grad_(False)
    return net, dict(net.named_parameters())


def _to64(params: Params) -> Params:
    return {n: p.to(torch.float64) for n, p in params.items()}


def _take(params: Params, start: int, size: int) -> Params:
    return {n: p[start : start + size] for n, p in params.items()}


def _count(params: Params) -> int:
    return next(iter(params.values())).shape[0]
