"""Float32 islands inside a bf16 autocast region: the FSD's variance-sensitive parts.

Under ``torch.autocast(dtype=bfloat16)`` (``train.precision: bf16``) matrix products run in bf16,
whose 8-bit mantissa cannot resolve the small differences the FSD is made of. The estimators
therefore leave autocast for: drawing inputs through the Cholesky factor (``μ + L z``), ρ on the
two networks' logits (softmax differences, KL), and every moment of ``estimator=exact``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor


@contextmanager
def float32_region(device: torch.device) -> Iterator[None]:
    """Runs the block with autocast off on ``device``'s type (a no-op when autocast is off)."""
    if not torch.is_autocast_enabled(device.type):
        yield
        return
    with torch.autocast(device.type, enabled=False):
        yield


def as_float32(tensor: Tensor) -> Tensor:
    """``tensor`` in float32 when it is a lower-precision float (bf16/fp16), else unchanged."""
    return tensor.float() if tensor.is_floating_point() and tensor.element_size() < 4 else tensor
