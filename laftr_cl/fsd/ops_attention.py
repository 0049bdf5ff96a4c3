"""Attention in the gated view: softmax linearized at the reference's scores (``docs/transformers.md``).

The reference network computes its attention exactly on each draw: scores ``s = q kᵀ·scale (+ mask)``,
pattern ``a = softmax(s)``, output ``a v``. The current network computes its own scores
``s_c = q_c k_cᵀ·scale`` (so changes of W_Q and W_K move them) and reads its pattern through the
softmax's Jacobian at the reference's scores::

    a_c = a + (diag(a) − a aᵀ)(s_c − s) = a + a ⊙ (Δ − ⟨a, Δ⟩),   Δ = s_c − s (0 where a = 0)

then ``a_c v_c``. Nothing is frozen: at θ = θ_t, ``s_c = s`` and both networks agree exactly; every
projection's change enters the estimate to first order through the scores and exactly through
the values. Products of two values (``q @ kᵀ``, ``a @ v``) are bilinear: each network multiplies
its own values. Shapes and the two passes as in :mod:`laftr_cl.fsd.ops`; softmax runs over the
last dims of batch-first values (``[N, R, ...]`` and ``[N·R, ...]`` alike, dims counted from the end).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.ops import ModuleOp, Op


def linearized_softmax(pattern: Tensor, scores: Tensor, current_scores: Tensor, dim: int) -> Tensor:
    """The softmax at ``current_scores`` to first order around ``scores`` (``pattern = softmax(scores)``)."""
    change = torch.where(pattern > 0, current_scores - scores, torch.zeros_like(pattern))
    return pattern + pattern * (change - (pattern * change).sum(dim, keepdim=True))


class SoftmaxOp(Op):
    """``softmax(x, dim)`` (``dim`` < 0, counted from the end); the tape keeps ``(x_ref, a_ref)``."""

    def __init__(self, index: int, name: str, inputs: list[int], dim: int) -> None:
        super().__init__(index, name, inputs)
        self.dim = dim

    def reference(self, xs, ctx):
        pattern = torch.softmax(xs[0], self.dim)
        ctx.tape[self.index] = (xs[0].flatten(0, 1), pattern.flatten(0, 1))
        return pattern

    def current(self, xs, ctx):
        if ctx.smooth_ops == "exact":
            return torch.softmax(xs[0], self.dim)
        scores, pattern = ctx.tape[self.index]
        return linearized_softmax(pattern, scores, xs[0], self.dim)


class MatmulOp(Op):
    """``a @ b``: two values (bilinear), or one value and a constant (``left``/``right``, the same in both
    networks); batch dims broadcast as in ``torch.matmul``."""

    def __init__(self, index: int, name: str, inputs: list[int], left: Tensor | None = None,
                 right: Tensor | None = None) -> None:
        super().__init__(index, name, inputs)
        self.left, self.right = left, right

    def _product(self, xs: list[Tensor]) -> Tensor:
        if self.left is not None:
            return torch.matmul(self.left, xs[0])
        if self.right is not None:
            return torch.matmul(xs[0], self.right)
        return torch.matmul(xs[0], xs[1])

    def reference(self, xs, ctx):
        return self._product(xs)

    def current(self, xs, ctx):
        return self._product(xs)


class AttentionCore:
    """``softmax(q kᵀ·scale + mask) v`` for one op (``q [..., L, E]``, ``k [..., S, E]``, ``v [..., S, Ev]``).

    ``mask``: a constant boolean (True: may attend) or additive ``[L, S]`` mask, or None;
    ``causal``: the lower-triangular mask; ``scale``: None for ``1/√E``."""

    def __init__(self, mask: Tensor | None, causal: bool, scale: float | None) -> None:
        self.mask, self.causal, self.scale = mask, causal, scale

    def __repr__(self) -> str:  # what two heads' traces compare
        return f"AttentionCore(mask={self.mask!r}, causal={self.causal}, scale={self.scale})"

    def scores(self, q: Tensor, k: Tensor) -> Tensor:
        scale = self.scale if self.scale is not None else 1.0 / math.sqrt(q.shape[-1])
        s = torch.matmul(q, k.mT) * scale
        mask = self.mask
        if self.causal:
            mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        if mask is None:
            return s
        mask = mask.to(q.device)
        if mask.dtype == torch.bool:
            return s.masked_fill(~mask, float("-inf"))
        return s + mask.to(s.dtype)

    def reference(self, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The exact attention and what the current pass reads: ``(output, (scores, pattern))``."""
        s = self.scores(q, k)
        pattern = torch.softmax(s, -1)
        return torch.matmul(pattern, v), (s, pattern)

    def current(self, q: Tensor, k: Tensor, v: Tensor, tape: tuple[Tensor, Tensor], smooth_ops: str) -> Tensor:
        """The current network's attention: its own pattern (``exact``) or the reference's linearized one."""
        if smooth_ops == "exact":
            return torch.matmul(torch.softmax(self.scores(q, k), -1), v)
        s, pattern = tape
        return torch.matmul(linearized_softmax(pattern, s, self.scores(q, k), -1), v)


class AttentionOp(Op):
    """``F.scaled_dot_product_attention(q, k, v, attn_mask, is_causal=..., scale=...)`` (no dropout)."""

    def __init__(self, index: int, name: str, inputs: list[int], core: AttentionCore) -> None:
        super().__init__(index, name, inputs)
        self.core = core

    def reference(self, xs, ctx):
        out, (s, pattern) = self.core.reference(*xs)
        ctx.tape[self.index] = (s.flatten(0, 1), pattern.flatten(0, 1))
        return out

    def current(self, xs, ctx):
        return self.core.current(*xs, ctx.tape[self.index], ctx.smooth_ops)


class MultiheadAttentionOp(ModuleOp):
    """``nn.MultiheadAttention`` (inputs ``[q, k, v]`` batch-first ``[*, L, D]`` here, whatever its
    ``batch_first``): input projections, per-head attention (:class:`AttentionCore`), output projection.
    The reference runs the stacked snapshots' projections; the current network the live ones."""

    def __init__(self, index: int, name: str, inputs: list[int], module: nn.MultiheadAttention,
                 core: AttentionCore) -> None:
        super().__init__(index, name, inputs, module)
        self.core = core

    def _projection_names(self) -> list[str]:
        m = self.module
        weights = ["in_proj_weight"] if m._qkv_same_embed_dim else ["q_proj_weight", "k_proj_weight", "v_proj_weight"]
        biases = ["in_proj_bias"] if m.in_proj_bias is not None else []
        out = ["out_proj.weight"] + (["out_proj.bias"] if m.out_proj.bias is not None else [])
        return weights + biases + out

    def snapshot_names(self):
        params = dict(self.module.named_parameters())
        return {f"{self.name}.{n}": params[n].shape for n in self._projection_names()}

    def _weights(self, get) -> tuple[list[Tensor], list[Tensor | None], Tensor, Tensor | None]:
        """``([W_q, W_k, W_v], [b_q, b_k, b_v], W_o, b_o)``, each ``[..., o, i]`` / ``[..., o]``; ``get(name)``."""
        m, d = self.module, self.module.embed_dim
        if m._qkv_same_embed_dim:
            joint = get("in_proj_weight")
            weights = [joint[..., i * d:(i + 1) * d, :] for i in range(3)]
        else:
            weights = [get(f"{part}_proj_weight") for part in "qkv"]
        bias = get("in_proj_bias") if m.in_proj_bias is not None else None
        biases = [None] * 3 if bias is None else [bias[..., i * d:(i + 1) * d] for i in range(3)]
        out_bias = get("out_proj.bias") if m.out_proj.bias is not None else None
        return weights, biases, get("out_proj.weight"), out_bias

    def _live(self, name: str) -> Tensor:
        """The module's parameter ``name`` (``out_proj.weight``) as it holds it now (also under functional_call)."""
        value = self.module
        for atom in name.split("."):
            value = getattr(value, atom)
        return value

    def _heads(self, x: Tensor) -> Tensor:
        """``[*, L, D]`` → ``[*, H, L, D/H]``."""
        return x.unflatten(-1, (self.module.num_heads, -1)).transpose(-3, -2)

    @staticmethod
    def _merge(x: Tensor) -> Tensor:
        return x.transpose(-3, -2).flatten(-2)

    @staticmethod
    def _stacked_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """``x [N, R, ..., i]`` through per-snapshot ``weight [N, o, i]``, ``bias [N, o]``."""
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        out = torch.bmm(flat, weight.mT) if bias is None else torch.baddbmm(bias.unsqueeze(1), flat, weight.mT)
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def reference(self, xs, ctx):
        p = ctx.reference_params
        weights, biases, w_out, b_out = self._weights(lambda n: p[f"{self.name}.{n}"])
        q, k, v = (self._heads(self._stacked_linear(x, w, b)) for x, w, b in zip(xs, weights, biases))
        out, (s, pattern) = self.core.reference(q, k, v)
        ctx.tape[self.index] = (s.flatten(0, 1), pattern.flatten(0, 1))
        return self._stacked_linear(self._merge(out), w_out, b_out)

    def current(self, xs, ctx):
        weights, biases, w_out, b_out = self._weights(self._live)
        q, k, v = (self._heads(F.linear(x, w, b)) for x, w, b in zip(xs, weights, biases))
        return F.linear(self._merge(self.core.current(q, k, v, ctx.tape[self.index], ctx.smooth_ops)), w_out, b_out)
