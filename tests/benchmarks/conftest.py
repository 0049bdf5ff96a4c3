"""Fixtures for the benchmark tests: tiny synthetic sizes and the shared real datasets."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import shared_dataset


@pytest.fixture
def tiny() -> dict[str, int]:
    """``data.synthetic`` for fast structure tests."""
    return {"train_per_class": 6, "test_per_class": 3}


@pytest.fixture
def mnist_5k_root() -> Path:
    """``../shared/datasets/mnist-5k`` (skips when absent)."""
    return shared_dataset("mnist-5k")


@pytest.fixture
def fashion_mnist_root() -> Path:
    """``../shared/datasets/fashion-mnist`` (skips when absent)."""
    return shared_dataset("fashion-mnist")
