"""torch.nn's own encoder layer (``nn.TransformerEncoderLayer``, ``nn.TransformerEncoder``) through LAFTR's
gated view and LIFTR: read as the same network written by hand with the layers it holds (equal numbers),
FSD 0 at θ_t, gradients that match finite differences, and PyTorch's fused fast path never taken."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from transformer_models import EncoderViT

from helpers import assert_gradient_matches_finite_differences, perturbed
from laftr_cl.fsd import SummaryBank, fsd, summarize
from laftr_cl.fsd.liftr import LiftrBank, liftr_fsd, liftr_summarize

LAYERS = [(norm_first, activation) for norm_first in (True, False) for activation in ("relu", "gelu")]


def _data(n=24, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 8, 8, generator=g, dtype=dtype), torch.arange(n) % 3


def _pair(norm_first: bool, activation: str, layers: int = 1, dtype=torch.float64) -> tuple[nn.Module, nn.Module]:
    """(torch.nn's encoder, the hand-written one with the same parameters), in eval mode."""
    torch.manual_seed(0)
    torch_net = EncoderViT(activation=activation, norm_first=norm_first, layers=layers).to(dtype).eval()
    hand = EncoderViT(encoder="hand", activation=activation, norm_first=norm_first, layers=layers).to(dtype).eval()
    hand.load_state_dict({k.replace("blocks.layers.", "blocks."): v for k, v in torch_net.state_dict().items()})
    return torch_net, hand


def _laftr(model, summary, estimator="bernoulli", smooth_ops="exact"):
    return fsd(model, [summary], estimator=estimator, smooth_ops=smooth_ops, metric="l2_prob", num_samples=6,
               generator=torch.Generator().manual_seed(0))


def _liftr(model, summary, mode):
    return liftr_fsd(LiftrBank(model, [summary]), mode=mode, num_samples=6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("norm_first, activation", LAYERS)
def test_laftr_reads_the_encoder_layer_as_the_hand_written_block(norm_first, activation):
    torch_net, hand = _pair(norm_first, activation)
    x, y = _data()
    torch.testing.assert_close(torch_net(x), hand(x), rtol=0, atol=0)
    summaries = [summarize(net, (x, y), inputs="diag") for net in (torch_net, hand)]
    torch.testing.assert_close(summaries[0].firing_rates, summaries[1].firing_rates, rtol=0, atol=0)
    assert abs(_laftr(torch_net, summaries[0]).item()) < 1e-12
    moved = [perturbed(net, 0.05) for net in (torch_net, hand)]
    for estimator in ("bernoulli", "relu"):
        for smooth_ops in ("exact", "linearized"):
            values = [_laftr(net, s, estimator, smooth_ops) for net, s in zip(moved, summaries)]
            assert values[0].item() > 1e-6
            torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("norm_first, activation", LAYERS)
def test_liftr_reads_the_encoder_layer_as_the_hand_written_block(norm_first, activation):
    torch_net, hand = _pair(norm_first, activation)
    x, y = _data()
    summaries = [liftr_summarize(net, (x, y), covariance="diag") for net in (torch_net, hand)]
    moved = [perturbed(net, 0.05) for net in (torch_net, hand)]
    for mode in ("deterministic", "stochastic"):
        assert _liftr(torch_net, summaries[0], mode).item() == 0.0
        values = [_liftr(net, s, mode) for net, s in zip(moved, summaries)]
        assert values[0].item() > 1e-6
        torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=0)


def test_gradients_through_the_encoder_layer_match_finite_differences():
    torch_net, _ = _pair(norm_first=False, activation="gelu")
    x, y = _data()
    laftr_summary = summarize(torch_net, (x, y), inputs="diag")
    liftr_summary = liftr_summarize(torch_net, (x, y), covariance="diag")
    moved = perturbed(torch_net, 0.05)
    params = list(moved.parameters())
    bank = SummaryBank(moved, [laftr_summary])
    assert_gradient_matches_finite_differences(lambda: fsd(moved, bank, metric="l2_prob", num_samples=5,
                                                           generator=torch.Generator().manual_seed(7)), params)
    liftr_bank = LiftrBank(moved, [liftr_summary])
    assert_gradient_matches_finite_differences(
        lambda: liftr_fsd(liftr_bank, mode="stochastic", num_samples=5, generator=torch.Generator().manual_seed(7)),
        params)


def test_a_transformer_encoder_of_two_layers_summarizes_and_equals_the_hand_written_one():
    torch_net, hand = _pair(norm_first=True, activation="gelu", layers=2)
    assert isinstance(torch_net.blocks, nn.TransformerEncoder)
    x, y = _data()
    laftr = [summarize(net, (x, y), inputs="diag") for net in (torch_net, hand)]
    liftr = [liftr_summarize(net, (x, y), covariance="diag") for net in (torch_net, hand)]
    assert [r.numel() for r in laftr[0].firing_rates] == [5 * 16, 5 * 16]  # each layer's GELU: 5 tokens × 16 units
    moved = [perturbed(net, 0.05) for net in (torch_net, hand)]
    values = [_laftr(net, s) for net, s in zip(moved, laftr)]
    assert values[0].item() > 1e-6
    torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=0)
    values = [_liftr(net, s, "deterministic") for net, s in zip(moved, liftr)]
    torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=0)


def test_a_float32_encoder_in_eval_mode_is_traced_without_the_fused_fast_path():
    """In eval mode without gradients a float32 encoder layer would call one fused kernel
    (``torch._transformer_encoder_layer_fwd``) that no op of the view could read."""
    torch_net, hand = _pair(norm_first=True, activation="relu", dtype=torch.float32)
    x, y = _data(dtype=torch.float32)
    summaries = [summarize(net, (x, y), inputs="diag") for net in (torch_net, hand)]
    moved = [perturbed(net, 0.05) for net in (torch_net, hand)]
    values = [_laftr(net, s) for net, s in zip(moved, summaries)]
    torch.testing.assert_close(values[0], values[1])
    assert torch.backends.mha.get_fastpath_enabled()  # the setting is restored after tracing


def test_a_padding_mask_is_refused_naming_the_layers_attention():
    class Padded(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.layer, self.head = nn.Linear(8, 8), nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), \
                nn.Linear(8, 2)

        def forward(self, x):
            tokens = self.embed(x.reshape(x.shape[0], 4, 8))
            padding = torch.zeros(x.shape[0], 4, dtype=torch.bool)
            return self.head(self.layer(tokens, src_key_padding_mask=padding)[:, 0])

    x, y = torch.randn(10, 32, dtype=torch.float64), torch.arange(10) % 2
    with pytest.raises(ValueError, match=r"nn.MultiheadAttention in 'layer.self_attn': key_padding_mask"):
        summarize(Padded().double(), (x, y), inputs="diag")
    with pytest.raises(ValueError, match=r"nn.MultiheadAttention in 'layer.self_attn'"):
        liftr_summarize(Padded().double(), (x, y), covariance="diag")


def test_a_sequence_first_encoder_layer_is_read_by_laftr_and_refused_by_liftr():
    class SequenceFirst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.layer, self.head = nn.Linear(8, 8), nn.TransformerEncoderLayer(8, 2, 16), nn.Linear(8, 2)

        def forward(self, x):
            tokens = self.embed(x.reshape(x.shape[0], 4, 8)).transpose(0, 1)  # [L, B, width]
            return self.head(self.layer(tokens).transpose(0, 1)[:, 0])

    torch.manual_seed(0)
    net = SequenceFirst().double()
    x, y = torch.randn(10, 32, dtype=torch.float64), torch.arange(10) % 2
    summary = summarize(net, (x, y), inputs="diag")
    assert abs(_laftr(net, summary).item()) < 1e-12 and _laftr(perturbed(net, 0.05), summary).item() > 1e-6
    with pytest.raises(ValueError, match=r"LIFTR cannot propagate through Tensor.transpose.*acts on the batch dimension"):
        liftr_summarize(net, (x, y), covariance="diag")
