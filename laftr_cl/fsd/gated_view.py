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

import torch
from torch import Tensor, nn

from laftr_cl.fsd.ops import (
    ConvOp,
    DropoutOp,
    FlattenOp,
    GateOp,
    LinearOp,
    MaxPoolOp,
    Op,
    PassContext,
)

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
