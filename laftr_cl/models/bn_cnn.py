"""A small convolutional network with BatchNorm for 28×28 inputs (MNIST, Fashion-MNIST)."""
from __future__ import annotations

from torch import nn


class BnCnn(nn.Sequential):
    """conv → BN → ReLU → pool → conv → BN → ReLU → pool → fc → BN → ReLU → out.

    Input ``[B, in_channels, 28, 28]``, output logits ``[B, num_outputs]``. The convolutions are 3×3
    and padded ("same"), each pooling halves the map (28 → 14 → 7), so the fully connected layer reads
    ``channels[1]·7·7`` features. Every hidden layer is batch-normalized before its ReLU: the layout
    of the CL protocol's BatchNorm networks (ResNets) at MNIST's size.
    """

    def __init__(self, in_channels: int = 1, num_outputs: int = 10, channels: tuple[int, int] = (16, 32),
                 hidden: int = 128) -> None:
        first, second = channels
        super().__init__(
            nn.Conv2d(in_channels, first, 3, padding=1, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3, padding=1, bias=False),
            nn.BatchNorm2d(second),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(second * 7 * 7, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_outputs),
        )
