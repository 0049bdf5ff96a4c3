"""Parameter dictionaries (``name → tensor``) as used by ``torch.func.functional_call``."""
from __future__ import annotations

from torch import Tensor

Params = dict[str, Tensor]


def shifted(base: Params, offset: Params) -> Params:
    """``base + offset`` name by name (θ = θ_s + δ)."""
    return {name: base[name] + offset[name] for name in base}


def squared_norm(params: Params) -> Tensor:
    """``Σ ‖p‖²`` over all tensors: a scalar."""
    return sum(p.pow(2).sum() for p in params.values())
