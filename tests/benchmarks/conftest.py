"""Fixtures for the benchmark tests: tiny synthetic sizes and the shared real datasets."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread, else OpenMP thrashes a loaded 2-core box (100× slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny() -> dict[str, int]:
    """``data.synthetic`` for fast structure tests."""
    return {"train_per_class": 6, "test_per_class": 3}


def _shared(name: str) -> Path:
    path = SHARED_DATASETS / name
    if not (path.is_dir() and any(path.rglob("*-ubyte"))):
        pytest.skip(f"{path} is not present (../shared/datasets beside the repository)")
    return path


@pytest.fixture
def mnist_5k_root() -> Path:
    """``../shared/datasets/mnist-5k`` (skips when absent)."""
    return _shared("mnist-5k")


@pytest.fixture
def fashion_mnist_root() -> Path:
    """``../shared/datasets/fashion-mnist`` (skips when absent)."""
    return _shared("fashion-mnist")
