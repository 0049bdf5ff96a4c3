"""The ops of the gated view: one per layer, each run on the snapshots and on the current network.

Shapes: reference activations ``r [N, R, *features]`` (N stacked snapshots, ``R = P·S`` rows:
P slots of S draws each); current activations ``c [N·R, *features]`` (one shared-weight batch).
The reference pass runs first and leaves in ``ctx.tape`` what the current pass reuses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.noise import Noise


@dataclass
class PassContext:
    """What one estimator step shares between the reference and the current pass.

    Attributes:
        num_snapshots: N. slots: P (components per snapshot). samples: S (draws per slot).
        reference_params: parameter name → snapshots stacked ``[N, *shape]``.
        gate: ``(relu index j, s_ref [N, P, S, *units]) → z`` broadcastable to ``s_ref``.
        noise: the random source (dropout masks).
        same_dropout: apply dropout masks (else dropout is the identity).
        per_step: one dropout mask per slot shared by its S draws (else one per draw).
        tape: op position → what the reference pass left for the current pass.
    """

    num_snapshots: int
    slots: int
    samples: int
    reference_params: dict[str, Tensor]
    gate: Callable[[int, Tensor], Tensor]
    noise: Noise
    same_dropout: bool = False
    per_step: bool = False
    tape: dict[int, Tensor] = field(default_factory=dict)

    def reference_by_slot(self, r: Tensor) -> Tensor:
        """Reference activations ``[N, R, *f]`` → ``[N, P, S, *f]``."""
        return r.reshape(self.num_snapshots, self.slots, self.samples, *r.shape[2:])

    def current_by_slot(self, c: Tensor) -> Tensor:
        """Current activations ``[N·R, *f]`` → ``[N, P, S, *f]``."""
        return c.reshape(self.num_snapshots, self.slots, self.samples, *c.shape[1:])


class Op:
    """One layer of the gated view. ``position``: index in the flat layer list; ``name``: qualified name."""

    def __init__(self, position: int, name: str, module: nn.Module) -> None:
        self.position, self.name, self.module = position, name, module

    def reference(self, r: Tensor, ctx: PassContext) -> Tensor:
        """``[N, R, *f_in] → [N, R, *f_out]`` at the snapshots."""
        raise NotImplementedError

    def current(self, c: Tensor, ctx: PassContext) -> Tensor:
        """``[N·R, *f_in] → [N·R, *f_out]`` at the current parameters."""
        raise NotImplementedError


class AffineOp(Op):
    """Linear or Conv2d. ``weight_name``/``bias_name``: keys in the net's ``named_parameters()``."""

    def __init__(self, position: int, name: str, module: nn.Module) -> None:
        super().__init__(position, name, module)
        self.weight_name = f"{name}.weight"
        self.bias_name = f"{name}.bias" if module.bias is not None else None

    def reference_weights(self, params: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
        """Stacked snapshot weight ``[N, *weight_shape]`` and bias ``[N, out]`` (or None) from ``params``."""
        bias = params[self.bias_name] if self.bias_name else None
        return params[self.weight_name], bias


class LinearOp(AffineOp):
    def reference(self, r, ctx):
        weight, bias = self.reference_weights(ctx.reference_params)  # [N, o, i], [N, o]
        if bias is None:
            return torch.bmm(r, weight.mT)
        return torch.baddbmm(bias.unsqueeze(1), r, weight.mT)

    def current(self, c, ctx):
        return F.linear(c, self.module.weight, self.module.bias)


class ConvOp(AffineOp):
    def _conv(self, x: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> Tensor:
        m = self.module
        return F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, groups)

    def reference(self, r, ctx):
        weight, bias = self.reference_weights(ctx.reference_params)  # [N, Co, Ci/g, k, k], [N, Co]
        n, rows, channels = r.shape[:3]
        x = r.transpose(0, 1).reshape(rows, n * channels, *r.shape[3:])
        flat_bias = bias.reshape(-1) if bias is not None else None
        y = self._conv(x, weight.reshape(-1, *weight.shape[2:]), flat_bias, n * self.module.groups)
        return y.reshape(rows, n, -1, *y.shape[2:]).transpose(0, 1)

    def current(self, c, ctx):
        return self._conv(c, self.module.weight, self.module.bias, self.module.groups)


class GateOp(Op):
    """ReLU → multiplication by the estimator's gate ``z`` (``relu_index``: j-th ReLU of the net)."""

    def __init__(self, position: int, name: str, module: nn.Module, relu_index: int) -> None:
        super().__init__(position, name, module)
        self.relu_index = relu_index

    def reference(self, r, ctx):
        s = ctx.reference_by_slot(r)
        gate = ctx.gate(self.relu_index, s)
        ctx.tape[self.position] = gate
        return (s * gate).reshape(r.shape)

    def current(self, c, ctx):
        return (ctx.current_by_slot(c) * ctx.tape[self.position]).reshape(c.shape)


class MaxPoolOp(Op):
    """Linearized pooling: the current network reads its values at the reference's argmax positions."""

    def reference(self, r, ctx):
        m = self.module
        pooled, index = F.max_pool2d(
            r.reshape(-1, *r.shape[2:]), m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True
        )
        ctx.tape[self.position] = index
        return pooled.reshape(*r.shape[:2], *pooled.shape[1:])

    def current(self, c, ctx):
        index = ctx.tape[self.position]  # [N·R, C, H', W'] into the flattened H·W positions
        return c.flatten(2).gather(2, index.flatten(2)).view(index.shape)


class DropoutOp(Op):
    """Identity, or with ``same_dropout`` one inverted-dropout mask shared by both networks."""

    def _active(self, ctx: PassContext) -> bool:
        return ctx.same_dropout and self.module.p > 0

    def reference(self, r, ctx):
        if not self._active(ctx):
            return r
        rate = self.module.p
        s = ctx.reference_by_slot(r)
        shape = (ctx.num_snapshots, ctx.slots, 1 if ctx.per_step else ctx.samples, *s.shape[3:])
        mask = (ctx.noise.uniform(shape) >= rate).to(r.dtype) / (1 - rate)
        ctx.tape[self.position] = mask
        return (s * mask).reshape(r.shape)

    def current(self, c, ctx):
        if not self._active(ctx):
            return c
        return (ctx.current_by_slot(c) * ctx.tape[self.position]).reshape(c.shape)


class FlattenOp(Op):
    def reference(self, r, ctx):
        return r.flatten(2)

    def current(self, c, ctx):
        return c.flatten(1)
