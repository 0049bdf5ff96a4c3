"""The convolutional network of the LAFTR paper's Split CIFAR experiments (docs/paper_protocol.md)."""
from __future__ import annotations

from torch import nn


class CifarNet(nn.Sequential):
    """conv32 → conv32 → pool → dropout → conv64 → conv64 → pool → dropout → fc512 → dropout → out.

    Input ``[B, in_channels, 32, 32]``, output logits ``[B, num_outputs]``. Each convolution is
    3×3 and followed by a ReLU; the first of each pair is padded ("same"), the second is not, so
    the feature map is 64×6×6 before the fully connected layer, as in the reference code.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_outputs: int = 10,
        conv_dropout: float = 0.25,
        fc_dropout: float = 0.5,
    ) -> None:
        super().__init__(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(conv_dropout),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(conv_dropout),
            nn.Flatten(),
            nn.Linear(64 * 6 * 6, 512),
            nn.ReLU(),
            nn.Dropout(fc_dropout),
            nn.Linear(512, num_outputs),
        )
