"""Small transformers written the usual ways, for the gated-view tests of transformer ops."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from avalanche.models import MultiHeadClassifier, MultiTaskModule
from torch import Tensor, nn


class HandRMSNorm(nn.Module):
    """RMSNorm written by hand (elementwise functions, a mean, products with a parameter)."""

    def __init__(self, width: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(width))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class HandAttention(nn.Module):
    """``softmax(q @ kᵀ / √d) @ v`` with head reshapes (``sdpa``: through F.scaled_dot_product_attention)."""

    def __init__(self, width: int, heads: int, sdpa: bool = False, causal: bool = False, tokens: int = 5) -> None:
        super().__init__()
        self.heads, self.sdpa, self.causal = heads, sdpa, causal
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.register_buffer("future", torch.ones(tokens, tokens, dtype=torch.bool).triu(1))

    def forward(self, x: Tensor) -> Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.sdpa:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            if self.causal:
                attn = attn.masked_fill(self.future, float("-inf"))
            out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class MhaAttention(nn.Module):
    """``nn.MultiheadAttention``, batch first or sequence first (with the transposes a user writes)."""

    def __init__(self, width: int, heads: int, batch_first: bool) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.attn = nn.MultiheadAttention(width, heads, batch_first=batch_first)

    def forward(self, x: Tensor) -> Tensor:
        if self.batch_first:
            return self.attn(x, x, x, need_weights=False)[0]
        t = x.transpose(0, 1)
        return self.attn(t, t, t)[0].transpose(0, 1)


def _norm(kind: str, width: int) -> nn.Module:
    return {"layer": lambda: nn.LayerNorm(width), "rms": lambda: nn.RMSNorm(width),
            "hand_rms": lambda: HandRMSNorm(width)}[kind]()


class Block(nn.Module):
    def __init__(self, width: int, heads: int, attention: str, norm: str, act: type[nn.Module]) -> None:
        super().__init__()
        self.norm1, self.norm2 = _norm(norm, width), _norm(norm, width)
        if attention.startswith("mha"):
            self.attn = MhaAttention(width, heads, batch_first=attention == "mha")
        else:
            self.attn = HandAttention(width, heads, sdpa=attention == "sdpa", causal=attention == "hand_causal")
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), act(), nn.Dropout(0.1), nn.Linear(2 * width, width))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """Patch embedding, class token, positional embedding (a parameter, or ``nn.Embedding`` of the
    positions), pre-norm blocks, a head on the class token or on the mean over tokens."""

    def __init__(self, classes: int = 3, width: int = 8, heads: int = 2, depth: int = 1, attention: str = "mha",
                 norm: str = "layer", act: type[nn.Module] = nn.GELU, pool: str = "cls", embedding: bool = False,
                 side: int = 8, patch: int = 4) -> None:
        super().__init__()
        tokens = (side // patch) ** 2 + 1
        self.patch = nn.Conv2d(1, width, patch, stride=patch)
        self.cls_token = nn.Parameter(0.1 * torch.randn(1, 1, width))
        self.embedding = nn.Embedding(tokens, width) if embedding else None
        self.pos_embed = None if embedding else nn.Parameter(0.1 * torch.randn(1, tokens, width))
        self.register_buffer("positions", torch.arange(tokens))
        self.blocks = nn.Sequential(*[Block(width, heads, attention, norm, act) for _ in range(depth)])
        self.norm = _norm(norm, width)
        self.pool = pool
        self.head = nn.Linear(width, classes)

    def features(self, x: Tensor) -> Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + (self.embedding(self.positions) if self.embedding is not None else self.pos_embed)
        x = self.norm(self.blocks(x))
        return x[:, 0] if self.pool == "cls" else x.mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class MultiTaskViT(MultiTaskModule):
    """A transformer trunk under Avalanche's ``MultiHeadClassifier`` (one head per task label)."""

    def __init__(self, width: int = 8, classes: int = 2, **options) -> None:
        super().__init__()
        self.trunk = TinyViT(width=width, **options)
        self.classifier = MultiHeadClassifier(width, classes)

    def forward_single_task(self, x: Tensor, task_label: int) -> Tensor:
        return self.classifier(self.trunk.features(x), task_label)


VARIANTS = {
    "mha-layer-gelu": dict(attention="mha", norm="layer", act=nn.GELU),
    "mha_seq_first-rms-silu": dict(attention="mha_seq_first", norm="rms", act=nn.SiLU),
    "hand-hand_rms-tanh-mean": dict(attention="hand", norm="hand_rms", act=nn.Tanh, pool="mean"),
    "sdpa-layer-relu-embedding": dict(attention="sdpa", norm="layer", act=nn.ReLU, embedding=True),
    "mha_seq_first-rms-relu": dict(attention="mha_seq_first", norm="rms", act=nn.ReLU),
    "hand-hand_rms-relu-mean": dict(attention="hand", norm="hand_rms", act=nn.ReLU, pool="mean"),
    "hand_causal-layer-relu": dict(attention="hand_causal", norm="layer", act=nn.ReLU),
}
"""Ways of writing a transformer the tests run through the gated view."""


class HandEncoderLayer(nn.Module):
    """``nn.TransformerEncoderLayer(batch_first=True)`` written out with the layers it holds (same names, so
    the two load each other's state dicts): attention and a feed-forward block, pre- or post-norm."""

    def __init__(self, width: int, heads: int, hidden: int, activation: str, norm_first: bool) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(width, heads, dropout=0.1, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(width, hidden), nn.Linear(hidden, width)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(0.1), nn.Dropout(0.1), nn.Dropout(0.1)
        self.activation = {"relu": F.relu, "gelu": F.gelu}[activation]
        self.norm_first = norm_first

    def _sa_block(self, x: Tensor) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, need_weights=False)[0])

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x))
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x))
        return self.norm2(x + self._ff_block(x))


class EncoderViT(nn.Module):
    """Patch embedding, class token, positional embedding, then ``layers`` encoder layers — torch.nn's own
    (``encoder="torch"``: one ``nn.TransformerEncoderLayer``, or an ``nn.TransformerEncoder`` of
    ``layers``, its parameters under ``blocks.layers.<i>``) or :class:`HandEncoderLayer` (``encoder="hand"``,
    under ``blocks.<i>``) — and a head on the class token."""

    def __init__(self, encoder: str = "torch", activation: str = "gelu", norm_first: bool = True, layers: int = 1,
                 classes: int = 3, width: int = 8, heads: int = 2, side: int = 8, patch: int = 4) -> None:
        super().__init__()
        tokens = (side // patch) ** 2 + 1
        self.patch = nn.Conv2d(1, width, patch, stride=patch)
        self.cls_token = nn.Parameter(0.1 * torch.randn(1, 1, width))
        self.pos_embed = nn.Parameter(0.1 * torch.randn(1, tokens, width))
        if encoder == "hand":
            self.blocks = nn.Sequential(*[HandEncoderLayer(width, heads, 2 * width, activation, norm_first)
                                          for _ in range(layers)])
        else:
            layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.1,
                                               activation=activation, batch_first=True, norm_first=norm_first)
            self.blocks = (nn.Sequential(layer) if layers == 1
                           else nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False))
        self.head = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.blocks(x)[:, 0])
