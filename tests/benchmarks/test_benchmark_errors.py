"""Missing or unreadable data and bad settings: errors that name the setting and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from laftr_cl.benchmarks import BenchmarkDataNotFoundError, build_benchmark
from laftr_cl.benchmarks.data import data_device

IDX = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
       "t10k-labels-idx1-ubyte"]
CIFAR10 = [f"cifar-10-batches-py/{name}" for name in
           [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]]
CIFAR100 = ["cifar-100-python/train", "cifar-100-python/test", "cifar-100-python/meta"]


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("split_mnist", [f"MNIST/raw/{name}" for name in IDX]),
        ("permuted_mnist", [f"MNIST/raw/{name}" for name in IDX]),
        ("split_fmnist", [f"FashionMNIST/raw/{name}" for name in IDX]),
        ("split_cifar10", CIFAR10),
        ("split_cifar100", CIFAR100),
        ("split_cifar110_6", CIFAR10 + CIFAR100),
    ],
)
def test_missing_files_error_names_benchmark_files_and_fixes(
    name: str, files: list[str], tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        build_benchmark(name, root=str(tmp_path))
    message = str(caught.value)
    assert isinstance(caught.value, BenchmarkDataNotFoundError) and "\n" not in message
    assert repr(name) in message and "data.root" in message
    assert all(str(tmp_path / f) in message for f in files)
    assert "data.download=true" in message and "data.synthetic" in message


def test_partly_missing_files_are_named(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX[:3]:
        (raw / name).write_bytes(b"")
    pattern = r"1 of its 4 files are missing \(.*/MNIST/raw/t10k-labels-idx1-ubyte\)"
    with pytest.raises(BenchmarkDataNotFoundError, match=pattern):
        build_benchmark("split_mnist", root=str(tmp_path))


def test_unreadable_files_raise_the_same_error(tmp_path: Path) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX:
        (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(BenchmarkDataNotFoundError, match="torchvision could not read them"):
        build_benchmark("split_fmnist", root=str(tmp_path))


def test_failed_download_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(self: torchvision.datasets.MNIST) -> None:
        raise RuntimeError("Name or service not known")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)
    pattern = r"data.download=true failed \(Name or service not known\)"
    with pytest.raises(BenchmarkDataNotFoundError, match=pattern):
        build_benchmark("split_mnist", root=str(tmp_path), download=True)


BAD_SETTINGS = [
    ("split_mnist", {"class_order": [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]},
     r"benchmark.class_order=.* not a permutation"),
    ("split_mnist", {"class_order": [0, 1, 2]}, r"benchmark.class_order=.* 0..9"),
    ("split_cifar10", {"class_order": list(range(1, 11))}, r"benchmark.class_order"),
    ("split_mnist", {"num_experiences": 3},
     r"benchmark.num_experiences=3 does not divide .* \[1, 2, 5, 10\]"),
    ("split_cifar110_6", {"num_experiences": 7}, r"benchmark.num_experiences=7 .* 60 classes"),
    ("split_mnist", {"num_experiences": 0},
     r"benchmark.num_experiences=0 must be a positive integer"),
    ("permuted_mnist", {"num_experiences": -1}, r"benchmark.num_experiences=-1"),
    ("split_mnist", {"scenario": "domain"},
     r"benchmark.scenario='domain' is not supported by 'split_mnist'.*task.*class"),
    ("permuted_mnist", {"scenario": "class"},
     r"benchmark.scenario='class' .*'permuted_mnist'.*domain"),
    ("permuted_mnist", {"class_order": list(range(10))},
     r"benchmark.class_order.*does not apply to 'permuted_mnist'"),
    ("split_mnist", {"synthetic": {"n_train": 5}},
     r"data.synthetic has unknown keys \['n_train'\]"),
    ("split_mnist", {"synthetic": {"train_per_class": 0}},
     r"data.synthetic.train_per_class=0 must be a positive"),
    ("split_mnist", {"synthetic": 5}, r"data.synthetic=5 must be a mapping"),
]


@pytest.mark.parametrize(("name", "settings", "pattern"), BAD_SETTINGS)
def test_bad_settings_name_the_setting(
    name: str, settings: dict, pattern: str, tmp_path: Path
) -> None:
    # tmp_path holds no data: a settings error must come before any file is looked for
    with pytest.raises(ValueError, match=pattern):
        build_benchmark(name, root=str(tmp_path), **settings)


def test_unknown_benchmark_lists_the_choices_and_names_the_closest() -> None:
    pattern = (r"Unknown benchmark='split_mnst': choose one of permuted_mnist, .*split_mnist.*\. "
               r"Did you mean benchmark=split_mnist\?")
    with pytest.raises(ValueError, match=pattern):
        build_benchmark("split_mnst", root="/x")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_device_without_cuda() -> None:
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        build_benchmark("split_mnist", root="/x", synthetic={}, device="cuda")


def test_data_that_does_not_fit_on_the_gpu_stays_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    cuda = torch.device("cuda")
    assert data_device(cuda, 500) == cuda
    with pytest.warns(UserWarning, match="keeping them on the CPU"):
        assert data_device(cuda, 501) == torch.device("cpu")
    assert data_device(torch.device("cpu"), 10**15) == torch.device("cpu")
