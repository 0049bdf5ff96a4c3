"""The slim ("reduced") ResNet-18 that continual-learning papers run on 32×32 inputs.

The network of GEM (Lopez-Paz & Ranzato, 2017) and ER (Chaudhry et al., 2019) for Split CIFAR-100 /
mini-ImageNet: ResNet-18's four stages of two basic blocks, with ``width`` (nf, 20 in those papers)
channels in the first stage instead of 64, a 3×3 stride-1 stem without max pooling, and BatchNorm.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

STAGE_STRIDES = (1, 2, 2, 2)
"""Stride of the first block of each stage; the stages have width, 2·width, 4·width, 8·width channels."""


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``: ``[B, c_in, H, W] → [B, c_out, H/s, W/s]``.

    Both convolutions are 3×3 without bias (BatchNorm follows); the shortcut is the identity, or a
    1×1 stride-``s`` convolution and BatchNorm when the stride or the channel count changes.
    Each ReLU is its own module, so every gate of the network has a module path.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet18(nn.Module):
    """Reduced ResNet-18: stem → 4 stages × 2 :class:`BasicBlock` → adaptive average pool → linear head.

    Input ``[B, in_channels, H, W]`` (32×32 for CIFAR; any size ≥ 8 works thanks to the adaptive
    pool), output logits ``[B, num_outputs]``. With ``width=20`` it has about 1.1 M parameters
    (ResNet-18 proper, ``width=64``, has 11 M). The stem is ``relu(bn(conv3×3(x)))`` at stride 1;
    the stages halve the resolution three times (32 → 4 for CIFAR) and end at ``8·width`` channels.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_outputs: int = 100,
        width: int = 20,
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
    ) -> None:
        super().__init__()
        if width < 1 or num_outputs < 1 or in_channels < 1:
            raise ValueError(
                f"ResNet18 sizes must be positive: got in_channels={in_channels}, width={width}, "
                f"num_outputs={num_outputs}. Fix model.net.width (20 in the CL papers, 64 for ResNet-18 proper)."
            )
        if len(blocks_per_stage) != len(STAGE_STRIDES) or any(n < 1 for n in blocks_per_stage):
            raise ValueError(
                f"model.net.blocks_per_stage={list(blocks_per_stage)} needs {len(STAGE_STRIDES)} positive "
                "counts (ResNet-18: [2, 2, 2, 2])."
            )
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        stages = []
        channels = width
        for stage, (blocks, stride) in enumerate(zip(blocks_per_stage, STAGE_STRIDES)):
            out_channels = width * 2**stage
            layers = [BasicBlock(channels, out_channels, stride)]
            layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            channels = out_channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(channels, num_outputs)

    def forward(self, x: Tensor) -> Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return self.linear(self.flatten(self.pool(h)))
