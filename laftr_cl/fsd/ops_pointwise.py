"""Elementwise ops of the gated view beyond gated activations (see ``docs/transformers.md``).

*Linearized elementwise functions* (``exp``, ``sqrt``, ``rsqrt``, ``reciprocal``, ``pow``, ``log``,
``erf``, ...): the reference runs ``f(r)``, the current network its tangent at the reference,
``f(r) + f'(r)·(c − r)``. *Products* of two values (``a * b``) are bilinear: each network
multiplies its own values. Shapes and the two passes as in :mod:`laftr_cl.fsd.ops`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from laftr_cl.fsd.ops import Op

ELEMENTWISE_FUNCTIONS = {torch.exp, torch.sqrt, torch.rsqrt, torch.reciprocal, torch.log, torch.erf, torch.square,
                         torch.pow, torch.abs, torch.cos, torch.sin}
ELEMENTWISE_METHODS = {"exp", "sqrt", "rsqrt", "reciprocal", "log", "erf", "square", "pow", "abs", "cos", "sin",
                       "__pow__"}
"""Elementwise functions the gated view linearizes at the reference (see :class:`ElementwiseOp`)."""


class ElementwiseOp(Op):
    """``f(x)`` elementwise: the reference runs ``f(r)``; the current network ``f(r) + f'(r)·(c − r)``.

    ``fn``: the elementwise function ``[*] → [*]``. The tape keeps ``r``, ``f(r)`` and ``f'(r)``
    (``[N·R, *f]`` each)."""

    def __init__(self, index: int, name: str, inputs: list[int], fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__(index, name, inputs)
        self.fn = fn

    def reference(self, xs, ctx):
        r = xs[0]
        value, slope = torch.func.jvp(self.fn, (r,), (torch.ones_like(r),))
        ctx.tape[self.index] = (r.reshape(-1, *r.shape[2:]), value.reshape(-1, *r.shape[2:]),
                                slope.reshape(-1, *r.shape[2:]))
        return value

    def current(self, xs, ctx):
        if ctx.smooth_ops == "exact":
            return self.fn(xs[0])
        r, value, slope = ctx.tape[self.index]
        return value + slope * (xs[0] - r)


class ProductOp(Op):
    """``a * b`` of two values (broadcasting along features): each network multiplies its own values."""

    def reference(self, xs, ctx):
        return xs[0] * xs[1]

    def current(self, xs, ctx):
        return xs[0] * xs[1]
