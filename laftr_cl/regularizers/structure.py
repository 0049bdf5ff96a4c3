"""What a regularizer can need of the model, checked on the built network by its structure.

A regularizer declares needs by name (:class:`~laftr_cl.regularizers.specs.Requirement`); each name
here is a test of the network's modules and the words used when it fails.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from laftr_cl.fsd.gated_view import SUPPORTED_LAYERS

_MLP_LAYERS = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.Softplus,
               nn.Flatten, nn.Dropout, nn.Identity)
_LIFTR_LAYERS = (nn.Linear, nn.Conv2d, nn.LayerNorm, nn.MultiheadAttention, nn.Flatten, nn.Unflatten, nn.Dropout,
                 nn.Identity, nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.ELU, nn.Softplus, nn.LeakyReLU, nn.Mish)


def _leaves(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in net.named_modules() if not list(m.children())]


def _is_mlp(net: nn.Module) -> str | None:
    other = [(n, type(m).__name__) for n, m in _leaves(net) if not isinstance(m, _MLP_LAYERS)]
    return None if not other else f"its module {other[0][0]} is a {other[0][1]}"


def _is_linearizable(net: nn.Module) -> str | None:
    other = [(n, type(m).__name__) for n, m in net.named_modules()
             if type(m).__module__.startswith("torch.nn.modules") and not list(m.children())
             and not isinstance(m, SUPPORTED_LAYERS)]
    return None if not other else f"its module {other[0][0]} is a {other[0][1]}, which LAFTR cannot linearize"


def _is_liftr_network(net: nn.Module) -> str | None:
    other = [(n, type(m).__name__) for n, m in _leaves(net) if not isinstance(m, _LIFTR_LAYERS)]
    return None if not other else f"its module {other[0][0]} is a {other[0][1]}"


STRUCTURES: dict[str, tuple[str, Callable[[nn.Module], str | None]]] = {
    "mlp": ("an MLP (Linear, gated activations such as ReLU or GELU, Flatten and Dropout layers only)", _is_mlp),
    "linearizable": ("a network LAFTR's gated view can read (docs/transformers.md lists its layers)",
                     _is_linearizable),
    "liftr_network": ("a network of Linear, Conv2d, LayerNorm, MultiheadAttention, pointwise activation, Flatten "
                      "and Dropout layers",
                      _is_liftr_network),
}
"""Structure name → (what it means, a test returning why ``net`` lacks it, or None)."""


def lacks(structure: str, net: nn.Module) -> str | None:
    """Why ``net`` is not ``structure`` (``"needs an MLP: its module 1 is a Conv2d"``), or None."""
    meaning, test = STRUCTURES[structure]
    reason = test(net)
    return None if reason is None else f"needs {meaning}, and {type(net).__name__} is not: {reason}"
