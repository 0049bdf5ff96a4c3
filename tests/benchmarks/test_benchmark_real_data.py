"""Real MNIST-5k and Fashion-MNIST from ../shared/datasets (skipped when absent)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.settings import make_settings
from laftr_cl.benchmarks.sources import MNIST, load_sources


def _idx_images(path: Path) -> np.ndarray:
    """An IDX3 file's images ``[N, 28, 28]`` uint8 (16-byte header)."""
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)


def test_split_mnist_5k(mnist_5k_root: Path) -> None:
    bm = build_benchmark("split_mnist", root=str(mnist_5k_root))
    assert bm.task_classes == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert sum(len(t.y) for t in bm.train) == 5000 and sum(len(t.y) for t in bm.test) == 10000
    for index, (train, test) in enumerate(zip(bm.train, bm.test)):
        assert train.task_label == test.task_label == index
        assert torch.bincount(train.y, minlength=10)[bm.task_classes[index]].tolist() == [500, 500]
        assert set(test.y.tolist()) == set(bm.task_classes[index])
        assert train.x.shape == (1000, 1, 28, 28)
    x = torch.cat([t.x for t in bm.train])
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05


def test_mnist_pixels_are_the_files_bytes_normalised(mnist_5k_root: Path) -> None:
    settings = make_settings(
        root=str(mnist_5k_root), scenario=None, num_experiences=None, class_order=None,
        seed=0, synthetic=None, device="cpu", download=False,
    )
    (data,) = load_sources(settings, "split_mnist", MNIST)
    raw = torch.from_numpy(_idx_images(mnist_5k_root / "MNIST/raw/t10k-images-idx3-ubyte").copy())
    assert data.x_test.shape == (10000, 1, 28, 28)
    assert torch.allclose(data.x_test[:, 0] * 0.3081 + 0.1307, raw.float() / 255, atol=1e-6)


def test_permuted_mnist_5k(mnist_5k_root: Path) -> None:
    bm = build_benchmark("permuted_mnist", root=str(mnist_5k_root), num_experiences=3)
    split = build_benchmark("split_mnist", root=str(mnist_5k_root), num_experiences=1)
    assert torch.equal(bm.train[0].x, split.train[0].x)
    assert torch.equal(bm.test[2].y, split.test[0].y)
    permutation = bm.extra["permutations"][2]
    assert torch.equal(bm.test[2].x.flatten(1), split.test[0].x.flatten(1)[:, permutation])


def test_split_fmnist(fashion_mnist_root: Path) -> None:
    bm = build_benchmark("split_fmnist", root=str(fashion_mnist_root), scenario="class")
    assert sum(len(t.y) for t in bm.train) == 60000 and sum(len(t.y) for t in bm.test) == 10000
    assert [len(t.y) for t in bm.train] == [12000] * 5
    assert [t.task_label for t in bm.train] == [0] * 5
    x = torch.cat([t.x for t in bm.train])
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1) < 0.01
