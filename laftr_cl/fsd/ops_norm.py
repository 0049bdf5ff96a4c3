"""LayerNorm and RMSNorm in the gated view: linearized at the reference (``docs/transformers.md``).

The reference network normalizes exactly: ``x̂ = (r − μ_r)/ρ_r`` (LayerNorm, ``ρ = √(Var r + ε)``)
or ``x̂ = r/ρ_r`` (RMSNorm, ``ρ = √(mean r² + ε)``), over the last ``len(normalized_shape)`` dims,
then ``γ^t ⊙ x̂ + β^t``. The current network uses the first-order expansion of the normalization at
the reference's own value (the Jacobian with the reference's statistics, on each draw), with its
own ``γ`` and ``β``::

    x̂_c = x̂ + J_r (c − r),   J_r δ = (δ − mean δ − x̂ · mean(x̂ ⊙ δ)) / ρ_r     (LayerNorm)
                             J_r δ = (δ − x̂ · mean(x̂ ⊙ δ)) / ρ_r                 (RMSNorm)

so the estimate moves with every parameter before the norm (not frozen statistics) and is exactly
0 at θ = θ_t. The tape keeps ``r``, ``x̂`` and ``1/ρ`` (``[N·R, *f]``, ``[N·R, *f]``, ``[N·R, *f', 1...]``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from laftr_cl.fsd.ops import ModuleOp, Op


class Normalizer:
    """The normalization over the last ``num_dims`` dims (``centered``: LayerNorm, else RMSNorm) with
    ``eps`` (None: the dtype's machine epsilon, as ``nn.RMSNorm``)."""

    def __init__(self, num_dims: int, eps: float | None, centered: bool) -> None:
        self.dims, self.eps, self.centered = tuple(range(-num_dims, 0)), eps, centered

    def __repr__(self) -> str:  # what two heads' traces compare
        return f"Normalizer(dims={self.dims}, eps={self.eps}, centered={self.centered})"

    def reference(self, r: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
        """``x̂`` of ``r [N, R, ...]`` and the tape ``(r, x̂, 1/ρ)`` flattened to ``[N·R, ...]``."""
        centered = r - r.mean(self.dims, keepdim=True) if self.centered else r
        eps = torch.finfo(r.dtype).eps if self.eps is None else self.eps
        inverse = torch.rsqrt(centered.pow(2).mean(self.dims, keepdim=True) + eps)
        normalized = centered * inverse
        return normalized, (r.flatten(0, 1), normalized.flatten(0, 1), inverse.flatten(0, 1))

    def current(self, c: Tensor, tape: tuple[Tensor, Tensor, Tensor], smooth_ops: str) -> Tensor:
        """``x̂ + J_r (c − r)`` for ``c [N·R, ...]`` (``linearized``), or ``c`` normalized (``exact``)."""
        if smooth_ops == "exact":
            return self.reference(c.unsqueeze(0))[0][0]
        r, normalized, inverse = tape
        delta = c - r
        if self.centered:
            delta = delta - delta.mean(self.dims, keepdim=True)
        return normalized + (delta - normalized * (normalized * delta).mean(self.dims, keepdim=True)) * inverse


class NormOp(ModuleOp):
    """``nn.LayerNorm`` (``centered=True``) or ``nn.RMSNorm`` (``centered=False``); shapes ``[..., *normalized_shape]``."""

    def __init__(self, index: int, name: str, inputs: list[int], module: nn.Module, centered: bool) -> None:
        super().__init__(index, name, inputs, module)
        self.normalizer = Normalizer(len(module.normalized_shape), module.eps, centered)

    def snapshot_names(self):
        return self._names("weight", "bias")

    @staticmethod
    def _affine(x: Tensor, weight: Tensor | None, bias: Tensor | None, stacked: bool) -> Tensor:
        """``x [N, R, ..., *ns]`` (stacked snapshots ``[N, *ns]``) or ``x [B, ..., *ns]`` (live ``[*ns]``)."""
        def shaped(p: Tensor) -> Tensor:
            if not stacked:
                return p
            return p.reshape(p.shape[0], *([1] * (x.dim() - p.dim())), *p.shape[1:])

        out = x if weight is None else x * shaped(weight)
        return out if bias is None else out + shaped(bias)

    def reference(self, xs, ctx):
        normalized, ctx.tape[self.index] = self.normalizer.reference(xs[0])
        p = ctx.reference_params
        return self._affine(normalized, p.get(f"{self.name}.weight"), p.get(f"{self.name}.bias"), stacked=True)

    def current(self, xs, ctx):
        linear = self.normalizer.current(xs[0], ctx.tape[self.index], ctx.smooth_ops)
        return self._affine(linear, self.module.weight, getattr(self.module, "bias", None), stacked=False)


class FunctionalNormOp(Op):
    """``F.layer_norm`` / ``F.rms_norm``: inputs ``[x, weight?, bias?]`` (``affine``: which are present),
    the weight and bias being values of the view (parameters read directly)."""

    def __init__(self, index: int, name: str, inputs: list[int], normalizer: Normalizer,
                 affine: tuple[bool, bool]) -> None:
        super().__init__(index, name, inputs)
        self.normalizer, self.affine = normalizer, affine

    def _affine(self, x: Tensor, xs: list[Tensor]) -> Tensor:
        rest = iter(xs[1:])
        weight = next(rest) if self.affine[0] else None
        bias = next(rest) if self.affine[1] else None
        out = x if weight is None else x * weight
        return out if bias is None else out + bias

    def reference(self, xs, ctx):
        normalized, ctx.tape[self.index] = self.normalizer.reference(xs[0])
        return self._affine(normalized, xs)

    def current(self, xs, ctx):
        return self._affine(self.normalizer.current(xs[0], ctx.tape[self.index], ctx.smooth_ops), xs)
