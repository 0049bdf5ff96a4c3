"""The pieces of LIFTR's reading of a graph: a :class:`Step`, and the values the walk tracks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch.fx as fx
from torch import Tensor, nn

INPUT = -1
"""The index that stands for the network's input in a step's ``inputs``."""


@dataclass
class Step:
    """One layer of the propagation.

    Attributes:
        index: position in the step list. kind: see :mod:`laftr_cl.fsd.liftr.graph`. name: the module path
            (the key of the step's statistics and snapshot entries) or the node's name.
        inputs: indices of the steps read (``INPUT``: the network input).
        node: the fx node whose inputs the statistics are taken of.
        shape: per-example shape of the step's output.
        module: ``nn.Linear``/``nn.LayerNorm`` of a ``linear``/``layernorm`` step.
        fn: an ``activation``'s function ``[...] → [...]``, or a ``static`` op's function.
        relu: whether an ``activation`` is ReLU (its Jacobian is a gate with a firing rate).
        signs: an ``add``'s sign per input. factor: a ``scale``'s number.
    """

    index: int
    kind: str
    name: str
    inputs: list[int]
    node: fx.Node
    shape: tuple[int, ...]
    module: nn.Module | None = None
    fn: Callable[[Tensor], Tensor] | None = None
    relu: bool = False
    signs: tuple[float, ...] = ()
    factor: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def static(self) -> bool:
        """Whether the step's value is a fixed function of the input (its change is 0)."""
        return self.kind == "static"


@dataclass
class ParamValue:
    """A value computed from parameters alone (a class token expanded, a positional embedding):
    ``fn(params)`` with ``params`` a name → tensor mapping holding ``names``."""

    names: tuple[str, ...]
    fn: Callable[[dict[str, Tensor]], Tensor]


@dataclass
class Outputs:
    """The tuple an ``nn.MultiheadAttention`` returns (its item 0 is the step ``index``'s value)."""

    index: int


class StepIndex(int):
    """A step index in the walk's environment (an int subclass, so that numbers in a call stay numbers)."""
