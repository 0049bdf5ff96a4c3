"""Gated activations of the gated view (see ``docs/transformers.md``, family (a)).

*Gated activations.* Every activation here is written ``φ(s) = φ(0) + g(s)·s`` with a gate
``g(s) ≥ 0`` (the secant slope through ``(0, φ(0))``): ReLU ``g = 1[s > 0]``, LeakyReLU
``g ∈ {slope, 1}``, GELU ``g = Φ(s)`` (exact) or ``½(1 + tanh(√(2/π)(s + 0.044715 s³)))``, SiLU
``g = σ(s)``, tanh ``tanh(s)/s``, sigmoid ``tanh(s/2)/(2s)`` (``φ(0) = ½``), ELU ``α·expm1(s)/s``
below 0, Softplus ``log1p(expm1(βs)/2)/(βs)`` (``φ(0) = log 2/β``). Both networks multiply by the
same gate z (the reference's own ``g(s^t)``, or a draw with the task's gate statistics) and add
the same ``φ(0)``, as LAFTR's ReLU gates do. A *binary* gate (ReLU, LeakyReLU) is described by its
firing rate ``p = P(s > 0)``; a *smooth* one by ``E[g]`` and ``E[g²]`` per unit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Pointwise:
    """One gated activation ``φ(s) = offset + gate(s)·s``.

    Attributes:
        name: what the user's code called (``nn.GELU``, ``torch.nn.functional.silu``).
        gate: ``s → g(s)``, elementwise, same shape and dtype as ``s``.
        offset: ``φ(0)``, added by both networks (0 for most activations).
        floor: for a binary gate ``g ∈ {floor, 1}`` (ReLU: 0; LeakyReLU: its slope); None for a smooth gate.
    """

    name: str
    gate: Callable[[Tensor], Tensor]
    offset: float = 0.0
    floor: float | None = None

    @property
    def binary(self) -> bool:
        return self.floor is not None

    def __repr__(self) -> str:  # what two heads' traces compare
        return f"Pointwise({self.name}, offset={self.offset}, floor={self.floor})"


def _ratio(numerator: Callable[[Tensor], Tensor], at_zero: float) -> Callable[[Tensor], Tensor]:
    """``s → numerator(s)/s``, with ``at_zero`` (the limit) where ``s = 0``."""

    def gate(s: Tensor) -> Tensor:
        zero = s == 0
        safe = torch.where(zero, torch.ones_like(s), s)
        return torch.where(zero, torch.full_like(s, at_zero), numerator(safe) / safe)

    return gate


def relu_gate(s: Tensor) -> Tensor:
    return (s > 0).to(s.dtype)


RELU = Pointwise("ReLU", relu_gate, 0.0, 0.0)


def leaky_relu(slope: float) -> Pointwise:
    def gate(s: Tensor) -> Tensor:
        return torch.where(s > 0, torch.ones_like(s), torch.full_like(s, slope))

    return Pointwise(f"LeakyReLU({slope})", gate, 0.0, float(slope))


def gelu(approximate: str = "none") -> Pointwise:
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return Pointwise("GELU(tanh)", lambda s: 0.5 * (1.0 + torch.tanh(c * (s + 0.044715 * s.pow(3)))))
    return Pointwise("GELU", lambda s: 0.5 * (1.0 + torch.erf(s / math.sqrt(2.0))))


def elu(alpha: float) -> Pointwise:
    below = _ratio(lambda s: alpha * torch.expm1(s), alpha)
    return Pointwise(f"ELU({alpha})", lambda s: torch.where(s > 0, torch.ones_like(s), below(s)))


def softplus(beta: float, threshold: float) -> Pointwise:
    smooth = _ratio(lambda s: torch.log1p(torch.expm1(beta * s) / 2) / beta, 0.5)
    linear = _ratio(lambda s: s - math.log(2.0) / beta, 1.0)

    def gate(s: Tensor) -> Tensor:
        above = beta * s > threshold
        return torch.where(above, linear(torch.where(above, s, torch.ones_like(s))), smooth(s.clamp(max=threshold / beta)))

    return Pointwise(f"Softplus({beta})", gate, math.log(2.0) / beta)


SILU = Pointwise("SiLU", torch.sigmoid)
TANH = Pointwise("Tanh", _ratio(torch.tanh, 1.0))
SIGMOID = Pointwise("Sigmoid", _ratio(lambda s: 0.5 * torch.tanh(0.5 * s), 0.25), 0.5)


def module_activation(module: nn.Module) -> Pointwise | None:
    """The gated activation of a torch.nn activation module, or None."""
    if isinstance(module, nn.ReLU):
        return RELU
    if isinstance(module, nn.LeakyReLU):
        return leaky_relu(module.negative_slope)
    if isinstance(module, nn.GELU):
        return gelu(module.approximate)
    if isinstance(module, nn.SiLU):
        return SILU
    if isinstance(module, nn.Tanh):
        return TANH
    if isinstance(module, nn.Sigmoid):
        return SIGMOID
    if isinstance(module, nn.ELU):
        return elu(module.alpha)
    if isinstance(module, nn.Softplus):
        return softplus(module.beta, module.threshold)
    return None


def _option(args: tuple, kwargs: dict, position: int, name: str, default):
    return kwargs.get(name, args[position] if len(args) > position else default)


def function_activation(target, method: bool, args: tuple, kwargs: dict) -> Pointwise | None:
    """The gated activation of a call (``F.gelu(x, approximate=...)``, ``torch.tanh``, ``x.sigmoid()``), or None."""
    if method:
        table = {"relu": RELU, "relu_": RELU, "tanh": TANH, "tanh_": TANH, "sigmoid": SIGMOID, "sigmoid_": SIGMOID}
        return table.get(target)
    if target in (F.relu, torch.relu, torch.relu_, F.relu_):
        return RELU
    if target in (F.gelu,):
        return gelu(kwargs.get("approximate", "none"))
    if target in (F.silu,):
        return SILU
    if target in (torch.tanh, F.tanh):
        return TANH
    if target in (torch.sigmoid, F.sigmoid):
        return SIGMOID
    if target in (F.leaky_relu, F.leaky_relu_):
        return leaky_relu(_option(args, kwargs, 1, "negative_slope", 0.01))
    if target in (F.elu, F.elu_):
        return elu(_option(args, kwargs, 1, "alpha", 1.0))
    if target is F.softplus:
        return softplus(_option(args, kwargs, 1, "beta", 1.0), _option(args, kwargs, 2, "threshold", 20.0))
    return None


def in_place_activation(target, method: bool, args: tuple, kwargs: dict) -> bool:
    """Whether the activation call overwrites its input (``relu_``, ``inplace=True``)."""
    if method:
        return target.endswith("_")
    if target in (torch.relu_, F.relu_, F.leaky_relu_, F.elu_):
        return True
    position = {F.relu: 1, F.leaky_relu: 2, F.elu: 2, F.silu: 1}.get(target)
    return bool(position is not None and _option(args, kwargs, position, "inplace", False))


