"""The regularizer tests' benchmark: synthetic Split MNIST (tests/helpers.py)."""
import pytest

from helpers import tiny_benchmark


@pytest.fixture(scope="module")
def benchmark():
    return tiny_benchmark()
