"""Fault tests run on one intra-op thread, like the ``laftr-cl`` processes they start."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
