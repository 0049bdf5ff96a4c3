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

from laftr_cl.fsd.ops import ModuleOp


class NormOp(ModuleOp):
    """``nn.LayerNorm`` (``centered=True``) or ``nn.RMSNorm`` (``centered=False``); shapes ``[..., *normalized_shape]``."""

    def __init__(self, index: int, name: str, inputs: list[int], module: nn.Module, centered: bool) -> None:
        super().__init__(index, name, inputs, module)
        self.centered = centered
        self.dims = tuple(range(-len(module.normalized_shape), 0))

    def snapshot_names(self):
        return self._names("weight", "bias")

    def _eps(self, x: Tensor) -> float:
        eps = self.module.eps
        return torch.finfo(x.dtype).eps if eps is None else eps

    def _normalize(self, r: Tensor) -> tuple[Tensor, Tensor]:
        """``(x̂, 1/ρ)`` of ``r`` over the normalized dims."""
        centered = r - r.mean(self.dims, keepdim=True) if self.centered else r
        second = centered.pow(2).mean(self.dims, keepdim=True)
        inverse = torch.rsqrt(second + self._eps(r))
        return centered * inverse, inverse

    def _affine(self, x: Tensor, weight: Tensor | None, bias: Tensor | None, stacked: bool) -> Tensor:
        """``x [N, R, ..., *ns]`` (stacked snapshots ``[N, *ns]``) or ``x [B, ..., *ns]`` (live ``[*ns]``)."""
        def shaped(p: Tensor) -> Tensor:
            if not stacked:
                return p
            return p.reshape(p.shape[0], *([1] * (x.dim() - p.dim())), *p.shape[1:])

        out = x if weight is None else x * shaped(weight)
        return out if bias is None else out + shaped(bias)

    def reference(self, xs, ctx):
        r = xs[0]
        normalized, inverse = self._normalize(r)
        ctx.tape[self.index] = (r, normalized, inverse)
        p = ctx.reference_params
        return self._affine(normalized, p.get(f"{self.name}.weight"), p.get(f"{self.name}.bias"), stacked=True)

    def current(self, xs, ctx):
        r, normalized, inverse = (t.reshape(-1, *t.shape[2:]) for t in ctx.tape[self.index])
        delta = xs[0] - r
        if self.centered:
            delta = delta - delta.mean(self.dims, keepdim=True)
        linear = normalized + (delta - normalized * (normalized * delta).mean(self.dims, keepdim=True)) * inverse
        return self._affine(linear, self.module.weight, getattr(self.module, "bias", None), stacked=False)


def is_norm(module: nn.Module) -> bool:
    """Whether ``module`` is a LayerNorm or RMSNorm the gated view linearizes."""
    return isinstance(module, (nn.LayerNorm, nn.RMSNorm))
