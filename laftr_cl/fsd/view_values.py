"""What the view builder keeps for each fx node while it reads the graph (:mod:`laftr_cl.fsd.view_builder`).

* :class:`Act`: an activation, the value of one op of the view. Ops hold every activation
  batch-first (``[B, *features]``); ``batch_dim`` records where the user's code has the batch
  (1 after ``x.transpose(0, 1)``, e.g. for ``nn.MultiheadAttention(batch_first=False)``), and
  :func:`internal_dim` maps the user's dims to the batch-first layout.
* :class:`ParamValue`: a value computed from parameters alone (a class token, a positional
  embedding, ``nn.Embedding`` of constant positions, ``cls.expand(B, -1, -1)``): a function of the
  parameters, turned into an op (:class:`~laftr_cl.fsd.ops_tokens.ParamOp`) where it meets an activation.
* :class:`Pending`: a tuple of activations not yet picked (``unbind``, ``chunk``, ``split``,
  ``nn.MultiheadAttention``'s ``(output, weights)``): ``item(i)`` makes the op for item ``i``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import Tensor


@dataclass
class Act:
    """The value of op ``index`` (``INPUT``: the network input). ``static``: a fixed function of the
    input (no parameters or gates on the way). ``batch_dim``: the batch's position in the user's layout."""

    index: int
    static: bool
    batch_dim: int = 0


@dataclass
class ParamValue:
    """``fn(parameters by name) → Tensor`` reading ``names``; ``value``: its value at the live parameters."""

    names: tuple[str, ...]
    fn: Callable[[dict[str, Tensor]], Tensor]
    value: Tensor


@dataclass
class Pending:
    """A tuple-valued op's items: ``item(i) → Act`` (made on first use, cached in ``made``)."""

    item: Callable[[int], Act]
    made: dict[int, Act] = field(default_factory=dict)

    def get(self, i: int) -> Act:
        if i not in self.made:
            self.made[i] = self.item(i)
        return self.made[i]


def internal_dim(dim: int, ndim: int, batch_dim: int) -> int:
    """The user's ``dim`` of an ``ndim``-dim value (batch at ``batch_dim``) in the batch-first layout."""
    dim %= ndim
    if dim == batch_dim:
        return 0
    return dim + 1 if dim < batch_dim else dim


def internal_permutation(order: list[int], ndim: int, batch_dim: int) -> tuple[list[int], int]:
    """A user permutation (new dim i = old dim ``order[i]``) as ``(batch-first permutation, new batch_dim)``."""
    order = [d % ndim for d in order]
    inner = [0] + [internal_dim(d, ndim, batch_dim) for d in order if d != batch_dim]
    return inner, order.index(batch_dim)
