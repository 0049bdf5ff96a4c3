"""``train.precision``: float32, or bf16 autocast for the forward pass, the loss and the regularizer.

bf16 autocast runs matrix products and convolutions in bfloat16 and keeps parameters, gradients
and the optimizer's state in float32 (no loss scaling is needed: bf16 has float32's range). The
FSD keeps its variance-sensitive parts in float32 (:mod:`laftr_cl.fsd.precision`).
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import ContextManager

import torch

from laftr_cl.config.options import PRECISIONS


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError naming the setting."""
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision={precision!r} is not a precision: choose one of {', '.join(PRECISIONS)} "
                         "(fp32: float32 throughout; bf16: bfloat16 autocast of forward, loss and regularizer).")
    return precision


def autocast(device: torch.device, precision: str) -> ContextManager[None]:
    """The autocast context of ``precision`` on ``device`` (a no-op for ``fp32``)."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
