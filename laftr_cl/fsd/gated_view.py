"""The gated view of a ReLU network (spec §2, §5): both networks share the reference's nonlinearities.

A model is read as a flat list of layers (nested ``nn.Sequential`` flattened, a wrapper's ``.net``
unwrapped). Each layer becomes an *op* that runs twice per step:

* ``reference(r, ctx)`` on the snapshots θ_t, stacked over ``N`` snapshots: ``r [N, R, *features]``
  (``R = P·S`` rows: ``P`` slots of ``S`` draws each). It records what the current network must
  reuse (gates, pooling indices, dropout masks) in ``ctx.tape``.
* ``current(c, ctx)`` on the live parameters θ: ``c [N·R, *features]``, one shared-weight batch.

Layer rules: ``Linear``/``Conv2d`` are affine (per-snapshot weights via ``baddbmm`` / a grouped
convolution with ``groups = N``); ``ReLU`` multiplies by a gate ``z`` chosen by the estimator,
the same ``z`` for both networks; ``MaxPool2d`` is *linearized*: the reference pools, and the
current network takes its values at the reference's argmax positions (both networks route
through the same max indices, as the ReLU gates do); ``Dropout`` is the identity unless
``same_dropout``, then one mask (per input, or per step with ``gate_draws=per_step``) scales
both networks; ``Flatten`` reshapes. The last layer must be the ``Linear`` output layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.noise import Noise

SUPPORTED_LAYERS = (nn.Linear, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Dropout)
_SUPPORTED_NAMES = ", ".join(f"nn.{cls.__name__}" for cls in SUPPORTED_LAYERS)


def unwrap(model: nn.Module) -> nn.Sequential:
    """``model`` itself if it is an ``nn.Sequential``, else its ``.net`` (e.g. TaskMaskedClassifier)."""
    if isinstance(model, nn.Sequential):
        return model
    net = getattr(model, "net", None)
    if isinstance(net, nn.Sequential):
        return net
    raise ValueError(
        f"LAFTR reads the network layer by layer: pass an nn.Sequential or a wrapper whose .net is one "
        f"(got {type(model).__name__})."
    )


def flat_layers(net: nn.Sequential, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """``(qualified name, layer)`` in forward order, nested ``nn.Sequential`` flattened."""
    layers: list[tuple[str, nn.Module]] = []
    for name, child in net.named_children():
        if isinstance(child, nn.Sequential):
            layers += flat_layers(child, f"{prefix}{name}.")
        else:
            layers.append((f"{prefix}{name}", child))
    return layers


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


_OPS: dict[type, type[Op]] = {
    nn.Linear: LinearOp,
    nn.Conv2d: ConvOp,
    nn.MaxPool2d: MaxPoolOp,
    nn.Dropout: DropoutOp,
    nn.Flatten: FlattenOp,
}


class GatedView:
    """A validated, gated reading of ``model`` (an ``nn.Sequential`` or a wrapper with ``.net``).

    Raises ValueError at construction for any unsupported layer, naming its index and type.

    Attributes:
        net: the unwrapped ``nn.Sequential``; the current pass reads its live parameters.
        ops: one :class:`Op` per layer, in order. The last is the output ``LinearOp`` (the head).
        num_relus: number of ReLU layers (= number of firing-rate tensors of a summary).
        has_conv: whether any layer is a ``Conv2d`` or ``MaxPool2d``.
    """

    def __init__(self, model: nn.Module) -> None:
        self.net = unwrap(model)
        self.ops: list[Op] = []
        relus = 0
        for position, (name, module) in enumerate(flat_layers(self.net)):
            self._check_layer(position, name, module)
            if isinstance(module, nn.ReLU):
                self.ops.append(GateOp(position, name, module, relus))
                relus += 1
            else:
                self.ops.append(_OPS[type(module)](position, name, module))
        if not self.ops or not isinstance(self.ops[-1], LinearOp):
            raise ValueError(
                "LAFTR needs the network's last layer to be its nn.Linear output layer "
                f"(got {type(self.ops[-1].module).__name__ if self.ops else 'an empty network'})."
            )
        self.num_relus = relus
        self.has_conv = any(isinstance(op, (ConvOp, MaxPoolOp)) for op in self.ops)

    @staticmethod
    def _check_layer(position: int, name: str, module: nn.Module) -> None:
        if type(module) not in SUPPORTED_LAYERS:
            raise ValueError(
                f"Layer {position} ('{name}') is nn.{type(module).__name__}: LAFTR needs ReLU networks made of "
                f"{_SUPPORTED_NAMES} layers. Replace it (e.g. nn.Tanh/nn.GELU → nn.ReLU, remove "
                "nn.BatchNorm2d) or use another regularizer."
            )
        if isinstance(module, nn.Flatten) and (module.start_dim != 1 or module.end_dim != -1):
            raise ValueError(
                f"Layer {position} ('{name}') is nn.Flatten(start_dim={module.start_dim}, "
                f"end_dim={module.end_dim}): LAFTR supports only nn.Flatten() (start_dim=1, end_dim=-1)."
            )
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            raise ValueError(
                f"Layer {position} ('{name}') is nn.Conv2d with padding_mode={module.padding_mode!r}: "
                "LAFTR supports only padding_mode='zeros'."
            )

    @property
    def head(self) -> LinearOp:
        return self.ops[-1]  # type: ignore[return-value]

    @property
    def num_outputs(self) -> int:
        return self.head.module.out_features

    def relu_inputs(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Plain forward of ``x [B, *input_shape]``: logits ``[B, out]`` and each ReLU's input ``[B, *units]``."""
        pre_activations = []
        for op in self.ops:
            if isinstance(op, GateOp):
                pre_activations.append(x)
            x = op.module(x)
        return x, pre_activations

    def unit_shapes(self, input_shape: tuple[int, ...]) -> list[torch.Size]:
        """Per-example shape of each ReLU's units for inputs of shape ``input_shape``."""
        param = next(self.net.parameters())
        probe = torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype)
        try:
            with torch.no_grad():
                _, pre_activations = self.relu_inputs(probe)
        except RuntimeError as error:
            raise ValueError(
                f"Inputs of shape {list(input_shape)} do not fit this network ({error}): the summary was "
                "made for another architecture."
            ) from None
        return [s.shape[1:] for s in pre_activations]

    def reference_pass(self, x: Tensor, ctx: PassContext) -> Tensor:
        """``x [N, R, *input_shape]`` → logits ``[N, R, out]`` at the stacked snapshots."""
        for op in self.ops:
            x = op.reference(x, ctx)
        return x

    def current_pass(self, x: Tensor, ctx: PassContext) -> Tensor:
        """``x [N·R, *input_shape]`` → logits ``[N·R, out]`` at the current parameters (after reference_pass)."""
        for op in self.ops:
            x = op.current(x, ctx)
        return x
