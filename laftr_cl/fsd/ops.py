"""The ops of the gated view that hold parameters or nonlinearities: affine layers, BatchNorm, ReLU gates,
max pooling, dropout. Parameter-free ops (addition, concatenation, reshapes, pooling by averaging,
output masks) are in :mod:`laftr_cl.fsd.graph_ops`.

Every op runs twice per step. Shapes: reference activations ``r [N, R, *features]`` (N stacked
snapshots, ``R = P·S`` rows: P slots of S draws each); current activations ``c [N·R, *features]``
(one shared-weight batch). The reference pass runs first and leaves in ``ctx.tape`` what the
current pass reuses (gates, pooling indices, dropout masks). An op reads the values of the ops
listed in ``inputs`` (indices into the view's op list; ``-1`` is the network's input).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.activations import RELU, Pointwise
from laftr_cl.fsd.noise import Noise

SMOOTH_OPS = ("exact", "linearized")
"""How the current network runs the smooth nonlinear ops (norms, softmax, elementwise functions)."""
INPUT = -1
"""The index that stands for the network's input in an op's ``inputs``."""

BN_STATS = ("reference", "current")
"""Whose BatchNorm running statistics the *current* network normalizes with inside the FSD:
``reference`` (θ_t's, stored in the summary: the FSD sees only parameter changes) or ``current``
(the live network's own buffers: the FSD also sees the statistics drift that later tasks' forward
passes cause). The reference network always normalizes with θ_t's."""


@dataclass
class PassContext:
    """What one estimator step shares between the reference and the current pass.

    Attributes:
        num_snapshots: N. slots: P (components per snapshot). samples: S (draws per slot).
        reference_params: key → snapshots stacked ``[N, *shape]`` (``[N, P, *shape]`` for task heads).
        gate: ``(relu index j, s_ref [N, P, S, *units]) → z`` broadcastable to ``s_ref``.
        noise: the random source (dropout masks).
        same_dropout: apply dropout masks (else dropout is the identity).
        per_step: one dropout mask per slot shared by its S draws (else one per draw).
        slot_heads: ``[N, P]`` int64, each slot's index into the view's ``task_labels`` (None: one head).
        bn_stats: one of :data:`BN_STATS`, the running statistics of the current network's BatchNorm.
        smooth_ops: how the current network runs LayerNorm/RMSNorm, softmax and elementwise functions:
            ``exact`` (the op itself on its own values) or ``linearized`` (its first-order expansion at
            the reference's value); see docs/transformers.md.
        tape: op index → what the reference pass left for the current pass.
    """

    num_snapshots: int
    slots: int
    samples: int
    reference_params: dict[str, Tensor]
    gate: Callable[[int, Tensor], Tensor]
    noise: Noise
    same_dropout: bool = False
    per_step: bool = False
    slot_heads: Tensor | None = None
    bn_stats: str = "reference"
    smooth_ops: str = "exact"
    tape: dict[int, Tensor] = field(default_factory=dict)

    def reference_by_slot(self, r: Tensor) -> Tensor:
        """Reference activations ``[N, R, *f]`` → ``[N, P, S, *f]``."""
        return r.reshape(self.num_snapshots, self.slots, self.samples, *r.shape[2:])

    def current_by_slot(self, c: Tensor) -> Tensor:
        """Current activations ``[N·R, *f]`` → ``[N, P, S, *f]``."""
        return c.reshape(self.num_snapshots, self.slots, self.samples, *c.shape[1:])


class Op:
    """One node of the gated view.

    Attributes:
        index: position in the view's op list. name: the module path (or the op's own name).
        inputs: indices of the ops whose values it reads (``INPUT`` for the network input).
    """

    def __init__(self, index: int, name: str, inputs: list[int]) -> None:
        self.index, self.name, self.inputs = index, name, inputs

    def reference(self, xs: list[Tensor], ctx: PassContext) -> Tensor:
        """Input values ``[N, R, *f_in]`` → ``[N, R, *f_out]`` at the snapshots."""
        raise NotImplementedError

    def current(self, xs: list[Tensor], ctx: PassContext) -> Tensor:
        """Input values ``[N·R, *f_in]`` → ``[N·R, *f_out]`` at the current parameters."""
        raise NotImplementedError

    def snapshot_names(self) -> dict[str, torch.Size]:
        """Snapshot entries this op reads (name → shape), for every task head."""
        return {}

    def stack_reference(self, snapshots: list[dict[str, Tensor]], slot_snapshot: Tensor,
                        slot_heads: Tensor | None) -> dict[str, Tensor]:
        """This op's entries of ``ctx.reference_params`` from the ``N`` anchor ``snapshots``
        (``slot_snapshot [N, P]``: each slot's snapshot, ``slot_heads [N, P]``: its head)."""
        return {}


class ModuleOp(Op):
    """An op that runs a module's own parameters (read live at call time, so ``functional_call`` works)."""

    def __init__(self, index: int, name: str, inputs: list[int], module: nn.Module) -> None:
        super().__init__(index, name, inputs)
        self.module = module

    def _names(self, *attributes: str) -> dict[str, torch.Size]:
        out = {}
        for attribute in attributes:
            value = getattr(self.module, attribute, None)
            if isinstance(value, Tensor):
                out[f"{self.name}.{attribute}"] = value.shape
        return out

    def stack_reference(self, snapshots, slot_snapshot, slot_heads):
        return {name: _batched_matmul_layout(torch.stack([s[name] for s in snapshots])) for name in self.snapshot_names()}


def _batched_matmul_layout(stacked: Tensor) -> Tensor:
    """Stacked snapshots, detached; Linear weights ``[N, o, i]`` stored as ``[N, i, o]``-contiguous
    (``.mT`` of them is contiguous: ``bmm(x, W.mT)`` then runs about 1.7x faster on CPU)."""
    stacked = stacked.detach()
    return stacked.mT.contiguous().mT if stacked.dim() == 3 else stacked


class LinearOp(ModuleOp):
    def snapshot_names(self):
        return self._names("weight", "bias")

    def reference_weights(self, params: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
        """Stacked snapshot weight ``[N, o, i]`` and bias ``[N, o]`` (or None) from ``params``."""
        return params[f"{self.name}.weight"], params.get(f"{self.name}.bias")

    def reference(self, xs, ctx):
        weight, bias = self.reference_weights(ctx.reference_params)
        r = xs[0]
        flat = r.reshape(r.shape[0], -1, r.shape[-1])
        out = torch.bmm(flat, weight.mT) if bias is None else torch.baddbmm(bias.unsqueeze(1), flat, weight.mT)
        return out.reshape(*r.shape[:-1], out.shape[-1])

    def current(self, xs, ctx):
        return F.linear(xs[0], self.module.weight, self.module.bias)


class ConvOp(ModuleOp):
    """Conv2d, any stride/padding/dilation/groups; the snapshots run as one grouped convolution."""

    def snapshot_names(self):
        return self._names("weight", "bias")

    def _conv(self, x: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> Tensor:
        m = self.module
        return F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, groups)

    def reference(self, xs, ctx):
        r = xs[0]
        weight = ctx.reference_params[f"{self.name}.weight"]  # [N, Co, Ci/g, k, k]
        bias = ctx.reference_params.get(f"{self.name}.bias")  # [N, Co]
        n, rows, channels = r.shape[:3]
        x = r.transpose(0, 1).reshape(rows, n * channels, *r.shape[3:])
        flat_bias = bias.reshape(-1) if bias is not None else None
        y = self._conv(x, weight.reshape(-1, *weight.shape[2:]), flat_bias, n * self.module.groups)
        return y.reshape(rows, n, -1, *y.shape[2:]).transpose(0, 1)

    def current(self, xs, ctx):
        return self._conv(xs[0], self.module.weight, self.module.bias, self.module.groups)


class BatchNormOp(ModuleOp):
    """BatchNorm in eval mode, an affine map per channel; each network applies its own γ and β.

    The reference network normalizes with θ_t's running statistics (from the snapshot). The current
    network normalizes with them too (``ctx.bn_stats="reference"``, as it shares the reference's
    gates), or with the module's live running statistics (``"current"``): the function the network
    computes in eval mode now. Running statistics are buffers: no gradient flows into them."""

    def snapshot_names(self):
        return self._names("weight", "bias", "running_mean", "running_var")

    def _scale(self, gamma: Tensor | None, variance: Tensor) -> Tensor:
        inverse = torch.rsqrt(variance + self.module.eps)
        return inverse if gamma is None else gamma * inverse

    def _affine(self, x: Tensor, gamma, beta, mean: Tensor, variance: Tensor) -> Tensor:
        """``x [N, R, C, *spatial]``; parameters ``[N, C]`` or ``[C]`` (broadcast over N)."""
        scale = self._scale(gamma, variance)
        shift = -mean * scale if beta is None else beta - mean * scale
        view = (x.shape[0], 1, x.shape[2]) + (1,) * (x.dim() - 3)
        return x * scale.expand(x.shape[0], -1).reshape(view) + shift.expand(x.shape[0], -1).reshape(view)

    def reference(self, xs, ctx):
        p = ctx.reference_params
        name = self.name
        return self._affine(xs[0], p.get(f"{name}.weight"), p.get(f"{name}.bias"),
                            p[f"{name}.running_mean"], p[f"{name}.running_var"])

    def current(self, xs, ctx):
        if ctx.bn_stats == "current":
            m = self.module
            scale = self._scale(m.weight, m.running_var)
            shift = -m.running_mean * scale if m.bias is None else m.bias - m.running_mean * scale
            view = (1, -1) + (1,) * (xs[0].dim() - 2)
            return xs[0] * scale.reshape(view) + shift.reshape(view)
        p = ctx.reference_params
        c = ctx.current_by_slot(xs[0]).flatten(1, 2)  # [N, P·S, C, ...]
        out = self._affine(c, self.module.weight, self.module.bias,
                           p[f"{self.name}.running_mean"], p[f"{self.name}.running_var"])
        return out.reshape(xs[0].shape)


class GateOp(Op):
    """A gated activation ``φ(s) = φ(0) + g(s)·s`` (ReLU: ``g = 1[s > 0]``) → multiplication by the
    estimator's gate ``z`` (the same in both networks) plus ``φ(0)``. ``relu_index``: the j-th gate
    of the net (the j-th statistics tensor of a summary); ``activation``: its
    :class:`~laftr_cl.fsd.activations.Pointwise` (ReLU when None)."""

    def __init__(self, index: int, name: str, inputs: list[int], relu_index: int,
                 activation: Pointwise | None = None) -> None:
        super().__init__(index, name, inputs)
        self.relu_index = relu_index
        self.activation = activation if activation is not None else RELU

    def reference(self, xs, ctx):
        s = ctx.reference_by_slot(xs[0])
        gate = ctx.gate(self.relu_index, s)
        ctx.tape[self.index] = gate
        out = s * gate
        if self.activation.offset:
            out = out + self.activation.offset
        return out.reshape(xs[0].shape)

    def current(self, xs, ctx):
        out = ctx.current_by_slot(xs[0]) * ctx.tape[self.index]
        if self.activation.offset:
            out = out + self.activation.offset
        return out.reshape(xs[0].shape)


@dataclass(frozen=True)
class PoolSettings:
    kernel_size: int | tuple
    stride: int | tuple | None
    padding: int | tuple = 0
    dilation: int | tuple = 1
    ceil_mode: bool = False


class MaxPoolOp(Op):
    """Linearized pooling: the current network reads its values at the reference's argmax positions."""

    def __init__(self, index: int, name: str, inputs: list[int], settings: PoolSettings) -> None:
        super().__init__(index, name, inputs)
        self.settings = settings

    def reference(self, xs, ctx):
        r, m = xs[0], self.settings
        pooled, index = F.max_pool2d(
            r.reshape(-1, *r.shape[2:]), m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True
        )
        ctx.tape[self.index] = index
        return pooled.reshape(*r.shape[:2], *pooled.shape[1:])

    def current(self, xs, ctx):
        index = ctx.tape[self.index]  # [N·R, C, H', W'] into the flattened H·W positions
        return xs[0].flatten(2).gather(2, index.flatten(2)).view(index.shape)


class DropoutOp(Op):
    """Identity, or with ``same_dropout`` one inverted-dropout mask shared by both networks (``rate``: p)."""

    def __init__(self, index: int, name: str, inputs: list[int], rate: float) -> None:
        super().__init__(index, name, inputs)
        self.rate = rate

    def active(self, ctx: PassContext) -> bool:
        return ctx.same_dropout and self.rate > 0

    def reference(self, xs, ctx):
        r = xs[0]
        if not self.active(ctx):
            return r
        s = ctx.reference_by_slot(r)
        shape = (ctx.num_snapshots, ctx.slots, 1 if ctx.per_step else ctx.samples, *s.shape[3:])
        mask = (ctx.noise.uniform(shape) >= self.rate).to(r.dtype) / (1 - self.rate)
        ctx.tape[self.index] = mask
        return (s * mask).reshape(r.shape)

    def current(self, xs, ctx):
        if not self.active(ctx):
            return xs[0]
        return (ctx.current_by_slot(xs[0]) * ctx.tape[self.index]).reshape(xs[0].shape)
