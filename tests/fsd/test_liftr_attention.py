"""LIFTR through nn.MultiheadAttention, residuals and token ops (indexing, mean over tokens)."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from helpers import assert_gradient_matches_finite_differences
from laftr_cl.fsd.liftr import LiftrBank, liftr_fsd, liftr_summarize

DTYPE = torch.float64


class TinyTransformer(nn.Module):
    """Tokens ``[B, 4, 3]`` → Linear → pre-norm self-attention block with a GELU MLP → two readouts."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.norm = nn.Linear(3, 8), nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(8, 6), nn.GELU(), nn.Linear(6, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = self.embed(x)
        n = self.norm(h)
        h = h + self.attn(n, n, n, need_weights=False)[0]
        h = h + self.mlp(h)
        return self.head(h[:, 0]) + self.head(h.mean(1))


def tokens(n=300, seed=0):
    """Tokens whose mean depends on the position (as with a positional embedding)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, 3, generator=g, dtype=DTYPE) + torch.randn(4, 3, generator=g, dtype=DTYPE)
    return x, torch.zeros(n, dtype=torch.long)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TinyTransformer().to(DTYPE)


def moved_projection(net, rows: slice, scale=0.3):
    other = copy.deepcopy(net)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        block = other.attn.in_proj_weight[rows]
        block += scale * torch.randn(block.shape, generator=g, dtype=DTYPE)
    return other


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_zero_at_the_snapshot_and_queries_and_keys_move_the_estimate(net, mode, covariance):
    summary = liftr_summarize(net, tokens(), covariance=covariance)
    assert liftr_fsd(LiftrBank(net, [summary]), mode=mode) == 0
    g = torch.Generator().manual_seed(0)
    for rows in (slice(0, 8), slice(8, 16)):  # W_Q, then W_K alone
        value = liftr_fsd(LiftrBank(moved_projection(net, rows), [summary]), mode=mode, num_samples=256, generator=g)
        assert value > 1e-4


def test_the_stored_statistics_are_those_of_the_attention(net):
    x, y = tokens()
    summary = liftr_summarize(net, (x, y), covariance="full")
    with torch.no_grad():
        n = net.norm(net.embed(x))
        _, weights = net.attn(n, n, n, need_weights=True, average_attn_weights=False)
    key = next(k.removesuffix(".pattern") for k in summary.statistics if k.endswith(".pattern"))
    assert torch.allclose(summary.statistics[f"{key}.pattern"], weights.mean(0))
    assert torch.allclose(summary.statistics[f"{key}.pattern_outer"],
                          torch.einsum("bhij,bhik->hijk", weights, weights) / len(x))
    assert summary.statistics[f"{key}.cov"].shape == (32, 32)  # the attention's input, 4 tokens × 8


@pytest.mark.parametrize("mode,covariance", [("deterministic", "full"), ("deterministic", "diag"),
                                             ("stochastic", "full")])
def test_gradients_match_finite_differences(net, mode, covariance):
    summary = liftr_summarize(net, tokens(), covariance=covariance)
    current = moved_projection(net, slice(0, 24), scale=0.1)
    bank = LiftrBank(current, [summary])

    def value():
        return liftr_fsd(bank, mode=mode, num_samples=8, generator=torch.Generator().manual_seed(2))

    assert_gradient_matches_finite_differences(value, list(current.parameters()))


def test_masked_or_cross_attention_is_refused():
    class Cross(TinyTransformer):
        def forward(self, x):
            h = self.embed(x)
            return self.head(self.attn(h, self.norm(h), h, need_weights=False)[0][:, 0])

    with pytest.raises(ValueError, match="self-attention attn\\(h, h, h\\)"):
        liftr_summarize(Cross().to(DTYPE), tokens())


class PatchTransformer(nn.Module):
    """An 8×8 image → 4×4 patches (strided Conv2d) → a class token and positional embedding (parameters
    read directly) → one pre-norm attention block → LayerNorm → a head on the class token."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(1, 8, 4, stride=4)
        self.cls = nn.Parameter(0.1 * torch.randn(1, 1, 8))
        self.pos = nn.Parameter(0.1 * torch.randn(1, 5, 8))
        self.norm, self.attn = nn.LayerNorm(8), nn.MultiheadAttention(8, 2, batch_first=True)
        self.out_norm, self.head = nn.LayerNorm(8), nn.Linear(8, 3)

    def forward(self, x):
        t = self.patches(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1) + self.pos
        n = self.norm(h)
        h = h + self.attn(n, n, n, need_weights=False)[0]
        return self.head(self.out_norm(h)[:, 0])


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_a_vision_transformer_is_read_with_its_class_token_and_positions(covariance):
    torch.manual_seed(0)
    net = PatchTransformer().to(DTYPE)
    x = torch.randn(100, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    summary = liftr_summarize(net, (x, torch.zeros(100, dtype=torch.long)), covariance=covariance)
    assert {"cls", "pos", "patches.weight"} <= set(summary.snapshot)
    bank = LiftrBank(net, [summary])
    assert liftr_fsd(bank, mode="deterministic") == 0 and liftr_fsd(bank, mode="stochastic") == 0
    shifted = copy.deepcopy(net)
    with torch.no_grad():
        shifted.cls += 0.5 * torch.randn(8, generator=torch.Generator().manual_seed(1), dtype=DTYPE)  # the class token
    assert liftr_fsd(LiftrBank(shifted, [summary]), mode="deterministic") > 1e-3
    with torch.no_grad():
        shifted.head.bias += 1.0  # a change of the head's bias adds ½·3·1² on top
    assert liftr_fsd(LiftrBank(shifted, [summary]), mode="deterministic") > 1.5


def test_ops_that_mix_examples_or_use_parameters_otherwise_are_refused():
    class MixesExamples(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.head = nn.Linear(3, 4), nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.embed(x).transpose(0, 1)[0])

    class ReadsAWeight(MixesExamples):
        def forward(self, x):
            return torch.nn.functional.linear(self.embed(x)[:, 0], self.head.weight)

    with pytest.raises(ValueError, match="mixes examples"):
        liftr_summarize(MixesExamples().to(DTYPE), tokens())
    with pytest.raises(ValueError, match="reads a parameter directly"):
        liftr_summarize(ReadsAWeight().to(DTYPE), tokens())


def test_bytes_of_a_transformer_counted_by_hand(net):
    parts = liftr_summarize(net, tokens(), covariance="full").nbytes()
    def tokens_by(width: int) -> int:  # features of 4 tokens
        return 4 * width

    def inputs(features: int) -> int:  # a mean and a covariance
        return features + features * features

    heads, length = 2, 4
    moments = (inputs(tokens_by(3))                                   # embed's input
               + tokens_by(8) + tokens_by(8) ** 2                     # LayerNorm: normalized mean, covariance
               + 2 * inputs(tokens_by(8))                             # attention: its input h and merged output z
               + 6 * tokens_by(8) + 2 * heads * length ** 2           # q, k, v and scores: mean and variance
               + inputs(tokens_by(8)) + inputs(tokens_by(6))          # the MLP's two Linear layers
               + 2 * inputs(8))                                       # the head, read twice ([:, 0] and mean)
    jacobians = (length + length * 8 * 8                              # LayerNorm: E[r], E[r x̂x̂ᵀ]
                 + heads * length ** 2 + heads * length ** 3          # E[a], E[a_ij a_ik]
                 + 2 * tokens_by(6))                                  # GELU: E[σ'], E[σ'²]
    snapshot = sum(p.numel() for p in net.parameters())
    assert parts == {"moments": 8 * moments, "jacobians": 8 * jacobians, "snapshot": 8 * snapshot,
                     "output_units": 0, "total": 8 * (moments + jacobians + snapshot)}
