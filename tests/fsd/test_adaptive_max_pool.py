"""nn.AdaptiveMaxPool2d, as Avalanche's own SimpleCNN ends its features with, is read as the plain max
pooling it equals when its output size divides the input (routed through the reference's argmax)."""
from __future__ import annotations

import copy

import pytest
import torch
from avalanche.models import SimpleCNN
from torch import nn

from helpers import perturbed
from laftr_cl.fsd import fsd, summarize


def _estimate(model, summary) -> float:
    torch.manual_seed(1)
    return float(fsd(model, [summary], estimator="bernoulli", metric="l2_logit", num_samples=8))


def test_avalanche_simple_cnn_is_read_as_its_plain_max_pooling_twin():
    torch.manual_seed(0)
    model = SimpleCNN(num_classes=4).eval()
    x, y = torch.randn(64, 3, 16, 16), torch.randint(0, 4, (64,))
    twin = copy.deepcopy(model)
    twin.features[-2] = nn.MaxPool2d(2)  # its input is 2×2 here: AdaptiveMaxPool2d(1) is a 2×2 max pool
    summary = summarize(model, (x, y), output_units=list(range(4)))
    twin_summary = summarize(twin, (x, y), output_units=list(range(4)))
    moved = perturbed(model, 0.05)
    twin_moved = copy.deepcopy(moved)
    twin_moved.features[-2] = nn.MaxPool2d(2)
    assert _estimate(model, summary) == pytest.approx(0.0, abs=1e-12)
    assert _estimate(moved, summary) > 0
    assert _estimate(moved, summary) == pytest.approx(_estimate(twin_moved, twin_summary), rel=1e-6)


def test_an_output_size_that_does_not_divide_the_input_is_refused_by_name():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveMaxPool2d(4), nn.Flatten(), nn.Linear(64, 2))
    with pytest.raises(ValueError, match=r"AdaptiveMaxPool2d.*'2'.*does not divide"):
        summarize(model, (torch.randn(8, 1, 7, 7), torch.randint(0, 2, (8,))), output_units=[0, 1])
