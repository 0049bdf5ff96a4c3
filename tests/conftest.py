"""Test-wide set-up: ``tests/`` on the import path (for ``helpers``) and one intra-op thread where
tiny tensors meet a loaded 2-core machine."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

ONE_THREAD_FOLDERS = {"benchmarks", "reliability", "fsd", "fsd_baselines", "influence"}
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
