"""CIFAR decoding, normalisation and the 6-task class mapping, on small fake CIFAR files.

The files are written in torchvision's pickle layout; its md5 checks are patched out.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.sources import CIFAR10, CIFAR100

CIFAR10_MARK, CIFAR100_MARK = 7, 200
"""Value of every green pixel, telling which dataset a sample came from."""


def _images(labels: list[int], mark: int) -> np.ndarray:
    """``[N, 3072]`` uint8 rows in CIFAR's channel-major layout: red = label, green = mark,
    blue = 7·row (so a transposed image would show)."""
    rows = np.empty((len(labels), 3, 32, 32), dtype=np.uint8)
    rows[:, 0] = np.array(labels, dtype=np.uint8)[:, None, None]
    rows[:, 1] = mark
    rows[:, 2] = 7 * np.arange(32, dtype=np.uint8)[:, None]
    return rows.reshape(len(labels), 3072)


def _dump(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(entry))


def _write_cifar10(root: Path, per_class: int) -> None:
    labels = [c for c in range(10) for _ in range(per_class)]
    folder = root / "cifar-10-batches-py"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _dump(folder / name, {"data": _images(labels, CIFAR10_MARK), "labels": labels})
    _dump(folder / "batches.meta", {"label_names": [str(c) for c in range(10)]})


def _write_cifar100(root: Path, per_class: int) -> None:
    labels = [c for c in range(100) for _ in range(per_class)]
    folder = root / "cifar-100-python"
    for name in ("train", "test"):
        _dump(folder / name, {"data": _images(labels, CIFAR100_MARK), "fine_labels": labels})
    _dump(folder / "meta", {"fine_label_names": [str(c) for c in range(100)]})


@pytest.fixture(autouse=True)
def _no_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)


def _raw(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Undo the normalisation: ``[N, 3, 32, 32]`` → pixel values 0–255."""
    return (x * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)) * 255


def test_split_cifar10_decodes_channels_first_and_normalises_per_channel(tmp_path: Path) -> None:
    _write_cifar10(tmp_path, per_class=2)
    bm = build_benchmark("split_cifar10", root=str(tmp_path))
    assert [len(t.y) for t in bm.train] == [5 * 2 * 2] * 5  # 5 batch files, 2 per class, 2 classes
    x = bm.train[1].x
    assert x.shape == (20, 3, 32, 32) and x.is_contiguous()
    red = (bm.train[1].y.float() / 255 - CIFAR10.mean[0]) / CIFAR10.std[0]
    assert torch.allclose(x[:, 0], red.view(-1, 1, 1).expand(-1, 32, 32), atol=1e-5)
    green = (CIFAR10_MARK / 255 - CIFAR10.mean[1]) / CIFAR10.std[1]
    assert torch.allclose(x[:, 1], torch.tensor(green), atol=1e-5)
    blue = (7 * torch.arange(32.0) / 255 - CIFAR10.mean[2]) / CIFAR10.std[2]
    assert torch.allclose(x[:, 2], blue.view(1, 32, 1).expand(20, 32, 32), atol=1e-5)


def test_split_cifar110_6_maps_cifar100_classes_0_to_49_onto_10_to_59(tmp_path: Path) -> None:
    _write_cifar10(tmp_path, per_class=1)
    _write_cifar100(tmp_path, per_class=2)
    bm = build_benchmark("split_cifar110_6", root=str(tmp_path))
    assert bm.num_classes == 60 and bm.num_experiences == 6
    first = _raw(bm.train[0].x, CIFAR10.mean, CIFAR10.std)
    assert len(bm.train[0].y) == 10 * 5 and len(bm.test[0].y) == 10
    assert torch.allclose(first[:, 1], torch.tensor(float(CIFAR10_MARK)), atol=1e-3)
    assert torch.allclose(first[:, 0, 0, 0], bm.train[0].y.float(), atol=1e-3)
    for index in range(1, 6):
        for task in (bm.train[index], bm.test[index]):
            raw = _raw(task.x, CIFAR100.mean, CIFAR100.std)
            assert task.task_label == index and len(task.y) == 10 * 2
            assert sorted(set(task.y.tolist())) == list(range(10 * index, 10 * index + 10))
            assert torch.allclose(raw[:, 1], torch.tensor(float(CIFAR100_MARK)), atol=1e-3)
            assert torch.allclose(raw[:, 0, 0, 0], task.y.float() - 10, atol=1e-3)


def test_split_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    _write_cifar100(tmp_path, per_class=1)
    bm = build_benchmark("split_cifar100", root=str(tmp_path), scenario="class")
    assert bm.task_classes[9] == list(range(90, 100))
    assert sorted(bm.test[9].y.tolist()) == list(range(90, 100))
    red = _raw(bm.test[9].x, CIFAR100.mean, CIFAR100.std)[:, 0, 5, 5]
    assert torch.allclose(red, bm.test[9].y.float(), atol=1e-3)
