"""The gated view: layer handling (linearized max-pooling, convolution options, biases) and the functional forms it traces."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from laftr_cl.fsd import GatedView, fsd, summarize


def test_maxpool_routes_the_current_network_through_the_reference_argmax():
    """Reference conv weight 1 pools x = [[1, 2], [3, 4]] at the 4; the current weight −1 gives −4 there
    (pooling separately would give max(−1, −2, −3, −4) = −1). Output weight 1: ρ = ½(4 − (−4))² = 32."""
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1, 1, bias=False))
    net = net.double()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[3].weight.fill_(1.0)
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    summary = summarize(net, (x, torch.zeros(1)), inputs="coreset", coreset_size=1)
    with torch.no_grad():
        net[0].weight.fill_(-1.0)
    for estimator in ("relu", "bernoulli"):
        value = fsd(net, [summary], estimator=estimator, metric="l2_logit")
        torch.testing.assert_close(value, torch.tensor(32.0, dtype=torch.float64))


@pytest.mark.parametrize("bias", [True, False])
def test_reference_path_reproduces_the_network(bias):
    """With a one-point coreset, the relu estimator's reference network is the real network on that
    point; zeroing the current weights (and biases) makes ρ = ½‖f(x; θ_t)‖² with l2_logit."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=2, dilation=2, groups=2, bias=bias),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 3, 2, bias=bias),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(27, 6, bias=bias),
        nn.ReLU(),
        nn.Linear(6, 3, bias=bias),
    ).double()
    x = torch.randn(1, 2, 13, 13, dtype=torch.float64)
    summary = summarize(net, (x, torch.zeros(1)), inputs="coreset", coreset_size=1, output_units=[2, 0])
    with torch.no_grad():
        expected = 0.5 * net(x)[0, [2, 0]].pow(2).sum()
        for p in net.parameters():
            p.zero_()
    got = fsd(net, [summary, summary], estimator="relu", metric="l2_logit", reduction="none")
    torch.testing.assert_close(got, expected.expand(2))


def test_unit_shapes_and_head():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 5))
    view = GatedView(net, (1, 6, 6))
    assert view.num_relus == 1 and view.num_outputs == 5 and view.mlp_error() is not None
    assert view.unit_shapes == [torch.Size([2, 4, 4])]
    with pytest.raises(ValueError, match="do not fit"):
        GatedView(net, (1, 7, 7))



class FunctionalNet(nn.Module):
    """Every functional form the traced view reads, in one forward (no nn.Sequential)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.side = nn.Conv2d(2, 3, 1)
        self.pool = nn.AvgPool2d(2)
        self.keep = nn.Identity()
        self.fc = nn.Linear(3 * 2 * 2 * 2 + 6, 5)
        self.out = nn.Linear(5, 4)
        self.register_buffer("mask", torch.tensor([False, True, False, False]))

    def forward(self, x):
        h = self.conv(x)
        torch.nn.functional.relu(h, inplace=True)  # in place: later readers of h see the gated value
        h = self.keep(h - 0.5 * self.side(x))
        h = torch.relu(h).relu_()
        pooled = torch.nn.functional.max_pool2d(h, 2)
        h = torch.cat([self.pool(h), pooled / 2], dim=1)
        summary = h.mean((2, 3)).unsqueeze(-1).squeeze(-1)
        h = h.view(h.size(0), -1)
        h = torch.nn.functional.dropout(torch.cat([h, summary], 1), 0.3, training=self.training)
        h = self.fc(h).relu() + 1.0
        return self.out(h).masked_fill(self.mask, -50.0)


def test_reference_pass_reproduces_a_functional_network():
    """Zeroed current parameters: the relu estimator's ρ is ½‖f(x; θ_t)‖² over the chosen outputs, so the
    reference pass must compute the network itself (in-place ReLU, residual, cat, pools, view, mask)."""
    torch.manual_seed(0)
    net = FunctionalNet().double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    summary = summarize(net, (x, torch.zeros(1)), inputs="coreset", coreset_size=1, output_units=[0, 2, 3])
    assert [tuple(r.shape[1:]) for r in summary.firing_rates] == [(3, 4, 4), (3, 4, 4), (3, 4, 4), (5,)]
    assert net.training
    with torch.no_grad():
        expected = 0.5 * net.eval()(x)[0, [0, 2, 3]].pow(2).sum()
        for p in net.parameters():
            p.zero_()
    got = fsd(net.train(), [summary], estimator="relu", metric="l2_logit", num_samples=1)
    torch.testing.assert_close(got, expected)
    assert GatedView(net, (2, 4, 4)).mlp_error() is not None
