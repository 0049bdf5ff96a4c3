"""A small Vision Transformer for 28×28 and 32×32 inputs, written the usual way: a strided
``nn.Conv2d`` patch embedding, a class token and a positional embedding as ``nn.Parameter``s,
pre-norm blocks (``nn.LayerNorm``, ``nn.MultiheadAttention``, a GELU MLP, residual adds), a final
LayerNorm and a linear head on the class token."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Block(nn.Module):
    """Pre-norm transformer block on tokens ``[B, L, width]``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        hidden = max(1, round(width * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, width),
                                 nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """``x [B, in_channels, side, side]`` (``side² · in_channels = input_size``) → logits ``[B, num_outputs]``.

    Args:
        in_channels: image channels. input_size: values per image (``side² · in_channels``, as the
            benchmarks report it). num_outputs: logits.
        patch_size: side of a square patch (must divide the image side). width: token width.
        depth: transformer blocks. heads: attention heads (must divide ``width``).
        mlp_ratio: MLP hidden width / width. dropout: in attention and MLPs (off in eval mode).
    """

    def __init__(self, in_channels: int, input_size: int, num_outputs: int, patch_size: int = 4, width: int = 64,
                 depth: int = 2, heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        side = math.isqrt(input_size // in_channels) if in_channels > 0 else 0
        problems = []
        if in_channels < 1 or side * side * in_channels != input_size:
            problems.append(f"input_size={input_size} is not in_channels={in_channels} × a square image")
        elif patch_size < 1 or side % patch_size:
            problems.append(f"patch_size={patch_size} does not divide the image side {side}")
        if width < 1 or heads < 1 or width % heads:
            problems.append(f"heads={heads} does not divide width={width}")
        if depth < 1:
            problems.append(f"depth={depth} must be at least 1")
        if problems:
            raise ValueError(f"model.net: {'; '.join(problems)} (e.g. model.net.patch_size=4 model.net.width=64 "
                             "model.net.heads=4 for 28×28 or 32×32 images).")
        tokens = (side // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_channels, width, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, tokens + 1, width))
        self.blocks = nn.Sequential(*[Block(width, heads, mlp_ratio, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_outputs)
        self.num_outputs = num_outputs

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, L, width]
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        h = torch.cat([cls, tokens], dim=1) + self.pos_embed
        h = self.norm(self.blocks(h))
        return self.head(h[:, 0])
