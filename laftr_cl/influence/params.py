"""Parameter dictionaries (``name → tensor``) as used by ``torch.func.functional_call``."""
from __future__ import annotations

from torch import Tensor, nn

Params = dict[str, Tensor]


def detached_params(model: nn.Module) -> Params:
    """A detached copy of every parameter of ``model``, keyed by ``named_parameters()`` names."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def shifted(base: Params, offset: Params) -> Params:
    """``base + offset`` name by name (θ = θ_s + δ)."""
    return {name: base[name] + offset[name] for name in base}


def squared_norm(params: Params) -> Tensor:
    """``Σ ‖p‖²`` over all tensors: a scalar."""
    return sum(p.pow(2).sum() for p in params.values())


def params_nbytes(params: Params) -> int:
    """Bytes held by the tensors of ``params``."""
    return sum(p.numel() * p.element_size() for p in params.values())
