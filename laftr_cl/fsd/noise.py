"""The one source of randomness of the FSD core: uniform and normal draws from a torch generator.

Every draw made while estimating the FSD of a bank of summaries has the shape ``[N, P, ...]``
(snapshots × slots, see :class:`~laftr_cl.fsd.bank.SummaryBank`), so that a test can record the
draws of a batched call and replay each task's slice in a single-task call.

Draws are made on the model's device, never on the host and copied: on CUDA they come from the
device's default generator (or a CUDA ``torch.Generator``), whose Philox state a captured CUDA
graph advances on every replay, so a captured training step (``train.compile: cudagraph``) draws
fresh values each step without a host round trip; under ``torch.compile`` the draws become part of
the compiled graph.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


class Noise:
    """Draws random tensors on one device and dtype from one generator (or the device's default).

    Args:
        generator: a ``torch.Generator`` on ``device``; None uses the device's default generator.
        device: where the draws are made (the model's device).
        dtype: floating dtype of the draws (the model's dtype).
    """

    def __init__(
        self,
        generator: torch.Generator | None,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        device = torch.device(device)
        if generator is not None and generator.device.type != device.type:
            raise ValueError(
                f"The FSD's random draws are made on {device} but the generator given is on "
                f"{generator.device}: pass torch.Generator(device={str(device)!r}) (or None for the "
                "device's default generator).")
        self.generator = generator
        self.device = device
        self.dtype = dtype

    @classmethod
    def wrap(
        cls,
        source: "Noise | torch.Generator | None",
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
    ) -> "Noise":
        """``source`` itself if it is a Noise, otherwise a Noise drawing from that generator."""
        if isinstance(source, Noise):
            return source
        return cls(source, device, dtype)

    def uniform(self, shape: Sequence[int]) -> Tensor:
        """``shape`` independent U[0, 1) draws."""
        return torch.rand(tuple(shape), generator=self.generator, device=self.device, dtype=self.dtype)

    def normal(self, shape: Sequence[int]) -> Tensor:
        """``shape`` independent N(0, 1) draws."""
        return torch.randn(tuple(shape), generator=self.generator, device=self.device, dtype=self.dtype)
