"""Fixtures for the influence tests: a tiny trained float64 MLP and its data."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from laftr_cl.influence.study.training import train_classifier


def make_problem(sizes=(5, 6, 3), n=40, seed=0, epochs=30) -> SimpleNamespace:
    """A trained ``Flatten → Linear → ReLU → Linear`` float64 MLP with Gaussian class-mean data."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % sizes[-1]
    x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64) + y[:, None].to(torch.float64)
    layers: list[nn.Module] = [nn.Flatten()]
    for i, o in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(i, o), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    model = nn.Sequential(*layers).to(torch.float64)
    train_classifier(model, x, y, epochs=epochs, batch_size=10, lr=1e-2, generator=g)
    return SimpleNamespace(model=model, x=x, y=y)


@pytest.fixture
def problem() -> SimpleNamespace:
    return make_problem()
