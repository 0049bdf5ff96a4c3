"""Training the classifier whose responses are studied (Adam, cross-entropy, full passes over tensors)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def train_classifier(model: nn.Module, x: Tensor, y: Tensor, *, epochs: int, batch_size: int, lr: float,
                     generator: torch.Generator) -> None:
    """``epochs`` passes of Adam over ``x [N, ...]``, ``y [N]`` in minibatches drawn with ``generator``;
    the model is left in eval mode."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(x.shape[0], generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` classified as ``y``."""
    return float((model(x).argmax(-1) == y).float().mean())


@torch.no_grad()
def example_losses(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of each example, ``[N]``."""
    return F.cross_entropy(model(x), y, reduction="none")
