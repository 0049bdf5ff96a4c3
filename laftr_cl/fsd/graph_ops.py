"""Parameter-free ops of the gated view (addition, concatenation, reshapes, averaging, output masks)
and the per-task head. Shapes and the two passes as in :mod:`laftr_cl.fsd.ops`.

A parameter-free op acts on each example alone, so both networks apply it as it is: the reference
folds its ``[N, R]`` leading dims into one batch, the current network is one batch already.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.ops import ModuleOp, Op, PassContext


class PerExampleOp(Op):
    """``fn(x [B, *f]) → [B, *f']`` applied to each example: average pooling, ``mean`` over features,
    ``contiguous``, or a parameter-free op before the first layer with parameters."""

    def __init__(self, index: int, name: str, inputs: list[int], fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__(index, name, inputs)
        self.fn = fn

    def reference(self, xs, ctx):
        r = xs[0]
        out = self.fn(r.reshape(-1, *r.shape[2:]))
        return out.reshape(*r.shape[:2], *out.shape[1:])

    def current(self, xs, ctx):
        return self.fn(xs[0])


class ReshapeOp(Op):
    """flatten / view / reshape / squeeze / unsqueeze: each example's features to ``feature_shape``."""

    def __init__(self, index: int, name: str, inputs: list[int], feature_shape: Sequence[int]) -> None:
        super().__init__(index, name, inputs)
        self.feature_shape = tuple(feature_shape)

    def reference(self, xs, ctx):
        return xs[0].reshape(*xs[0].shape[:2], *self.feature_shape)

    def current(self, xs, ctx):
        return xs[0].reshape(xs[0].shape[0], *self.feature_shape)


class AddOp(Op):
    """``sign[0]·x_0 + sign[1]·x_1 + ... + constant`` (residual additions, ``a − b``; the constant, if any,
    broadcasts against a batch-first value and is the same for both networks)."""

    def __init__(self, index: int, name: str, inputs: list[int], signs: Sequence[float],
                 constant: Tensor | float | None = None) -> None:
        super().__init__(index, name, inputs)
        self.signs, self.constant = tuple(signs), constant

    def _sum(self, xs: list[Tensor]) -> Tensor:
        out = xs[0] if self.signs[0] == 1 else self.signs[0] * xs[0]
        for sign, x in zip(self.signs[1:], xs[1:]):
            out = out + x if sign == 1 else out - x
        return out if self.constant is None else out + self.constant

    def reference(self, xs, ctx):
        return self._sum(xs)

    def current(self, xs, ctx):
        return self._sum(xs)


class ScaleOp(Op):
    """Multiplication by a constant number (``x * 0.5``, ``x / 2``)."""

    def __init__(self, index: int, name: str, inputs: list[int], factor: float) -> None:
        super().__init__(index, name, inputs)
        self.factor = factor

    def reference(self, xs, ctx):
        return xs[0] * self.factor

    def current(self, xs, ctx):
        return xs[0] * self.factor


class CatOp(Op):
    """``torch.cat`` along a feature dimension ``dim`` (of the batch-first value; never the batch)."""

    def __init__(self, index: int, name: str, inputs: list[int], dim: int) -> None:
        super().__init__(index, name, inputs)
        self.dim = dim

    def reference(self, xs, ctx):
        return torch.cat(xs, self.dim + 1 if self.dim > 0 else self.dim)

    def current(self, xs, ctx):
        return torch.cat(xs, self.dim)


class FillOp(Op):
    """``x.masked_fill(mask, value)`` / ``x[..., mask] = value`` with a constant mask: the same in both
    networks. ``masks``: one per task head ``[L, *f]`` (index by ``ctx.slot_heads``) or one ``[*f]``."""

    def __init__(self, index: int, name: str, inputs: list[int], masks: Tensor, value: float,
                 per_head: bool = False) -> None:
        super().__init__(index, name, inputs)
        self.masks, self.value, self.per_head = masks, value, per_head

    def slot_masks(self, slot_heads: Tensor) -> Tensor:
        """The mask of every slot, broadcastable to ``[N, P, *f]``."""
        return self.masks[slot_heads] if self.per_head else self.masks

    def _fill(self, x: Tensor, ctx: PassContext, by_slot: Callable[[Tensor], Tensor]) -> Tensor:
        masks = self.masks.to(x.device)
        if not self.per_head:
            return x.masked_fill(masks, self.value)
        mask = masks[ctx.slot_heads].unsqueeze(2)  # [N, P, 1, *f]
        return by_slot(x).masked_fill(mask, self.value).reshape(x.shape)

    def reference(self, xs, ctx):
        return self._fill(xs[0], ctx, ctx.reference_by_slot)

    def current(self, xs, ctx):
        return self._fill(xs[0], ctx, ctx.current_by_slot)


class TaskHeadOp(ModuleOp):
    """The ``nn.Linear`` of each task's head (one module per task label, ``modules[h]`` for head h),
    zero-padded to the widest head ``out_features``: every slot runs through the head of its task.

    Reference weights are stacked per slot, ``[N, P, o, i]``; the current weights are the live heads
    stacked ``[L, o, i]`` and picked per slot (differentiable w.r.t. every head)."""

    def __init__(self, index: int, name: str, inputs: list[int], modules: Sequence[nn.Linear],
                 paths: Sequence[str]) -> None:
        super().__init__(index, name, inputs, modules[0])
        self.modules, self.paths = list(modules), list(paths)
        self.out_features = max(m.out_features for m in modules)

    def snapshot_names_for(self, head: int) -> dict[str, torch.Size]:
        m, path = self.modules[head], self.paths[head]
        names = {f"{path}.weight": m.weight.shape}
        if m.bias is not None:
            names[f"{path}.bias"] = m.bias.shape
        return names

    def snapshot_names(self):
        return {k: v for h in range(len(self.modules)) for k, v in self.snapshot_names_for(h).items()}

    def _pad(self, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
        missing = self.out_features - weight.shape[0]
        bias = weight.new_zeros(weight.shape[0]) if bias is None else bias
        return F.pad(weight, (0, 0, 0, missing)), F.pad(bias, (0, missing))

    def stack_reference(self, snapshots, slot_snapshot, slot_heads):
        weights, biases = [], []
        for n, h in zip(slot_snapshot.flatten().tolist(), slot_heads.flatten().tolist()):
            path = self.paths[h]
            w, b = self._pad(snapshots[n][f"{path}.weight"], snapshots[n].get(f"{path}.bias"))
            weights.append(w)
            biases.append(b)
        shape = tuple(slot_heads.shape)
        return {f"{self.name}.weight": torch.stack(weights).reshape(*shape, *weights[0].shape).detach(),
                f"{self.name}.bias": torch.stack(biases).reshape(*shape, -1).detach()}

    @staticmethod
    def _apply(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """``x [N, P, S, i]``, ``weight [N, P, o, i]``, ``bias [N, P, o]`` → ``[N, P, S, o]``."""
        return torch.matmul(x, weight.mT) + bias.unsqueeze(2)

    def reference(self, xs, ctx):
        p = ctx.reference_params
        out = self._apply(ctx.reference_by_slot(xs[0]), p[f"{self.name}.weight"], p[f"{self.name}.bias"])
        return out.reshape(*xs[0].shape[:2], -1)

    def current_weights(self, slot_heads: Tensor) -> tuple[Tensor, Tensor]:
        """The live heads, padded and picked per slot: ``weight [N, P, o, i]``, ``bias [N, P, o]``."""
        padded = [self._pad(m.weight, m.bias) for m in self.modules]
        return torch.stack([w for w, _ in padded])[slot_heads], torch.stack([b for _, b in padded])[slot_heads]

    def current(self, xs, ctx):
        weight, bias = self.current_weights(ctx.slot_heads)
        return self._apply(ctx.current_by_slot(xs[0]), weight, bias).reshape(xs[0].shape[0], -1)
