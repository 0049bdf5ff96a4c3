"""Test-wide set-up: one intra-op thread where
tiny tensors meet a loaded 2-core machine, and the trained tiny MLP of the influence tests."""
from pathlib import Path

import pytest
import torch

from helpers import trained_tiny_mlp

ONE_THREAD_FOLDERS = {"benchmarks", "reliability", "fsd", "baselines", "influence", "study"}
"""Test folders run with one torch thread: their tensors are tiny, and with two threads OpenMP
thrashes a 2-core box that runs anything else (up to 100x slower); the fault tests also match the
one-thread ``laftr-cl`` processes they start."""


@pytest.fixture(autouse=True)
def _one_thread_in_small_tensor_folders(request):
    if Path(request.node.path).parent.name not in ONE_THREAD_FOLDERS:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def problem():
    """A trained ``Flatten → Linear(5, 6) → ReLU → Linear(6, 3)`` float64 MLP and its 40 examples."""
    return trained_tiny_mlp()
