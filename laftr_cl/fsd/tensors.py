"""Small tensor facts every part of laftr-cl shares (torch only): bytes held, eval mode, PyTorch's fused
attention kernels off, a detached copy of the parameters, a uniform draw of rows, a task's output units as
an index."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel


def tensor_bytes(tensors: Iterable[Tensor | None]) -> int:
    """Bytes held by ``tensors`` (None entries count 0)."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Runs the block with ``module`` in eval mode (dropout off), restoring every submodule's mode."""
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield
    finally:
        for m, training in modes.items():
            m.train(training)


@contextmanager
def unfused_attention() -> Iterator[None]:
    """Runs the block with PyTorch's fused attention kernels off, restoring the settings after.

    In eval mode without gradients ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` call one
    fused kernel (``torch._native_multi_head_attention``, ``torch._transformer_encoder_layer_fwd``), and
    ``F.scaled_dot_product_attention`` picks a flash or memory-efficient kernel; forward-mode
    differentiation (``torch.func.jvp``) goes through none of them. Here the modules' fast path is off
    (``torch.backends.mha``) and attention uses the math backend (``torch.nn.attention.SDPBackend.MATH``):
    the same maths, op by op.
    """
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def detached_parameters(net: nn.Module) -> dict[str, Tensor]:
    """A detached copy of every parameter of ``net`` (a snapshot θ_t), by ``named_parameters()`` name."""
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def random_rows(n: int, size: int, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> Tensor:
    """``min(size, n)`` distinct row indices of ``0 … n−1``, uniformly without replacement, int64 ``[m]``
    on the generator's device (``device``, or the CPU, without a generator)."""
    where = generator.device if generator is not None else device
    return torch.randperm(n, generator=generator, device=where)[:size]


def output_unit_index(output_units: Sequence[int] | Tensor | None, device: torch.device | str | None = None
                      ) -> Tensor | None:
    """O_t as int64 ``[K]`` on ``device``, or None for all outputs (a single head).

    Raises:
        ValueError: ``output_units`` is empty or not one-dimensional.
    """
    if output_units is None:
        return None
    units = torch.as_tensor(list(output_units) if not isinstance(output_units, Tensor) else output_units,
                            dtype=torch.long, device=device)
    if units.dim() != 1 or units.numel() == 0:
        raise ValueError("output_units must be a non-empty list of output indices (or None for all outputs).")
    return units
