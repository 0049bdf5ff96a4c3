"""Real datasets read once through torchvision's classes and preprocessed as tensor operations.

``data.preprocessing``: ``standardize`` (per-channel ``(x/255 − mean)/std``) or ``raw`` (``x/255``).

Decoding is cached per process (``(source, root, split)`` → uint8 images and int64 labels), never
on disk; normalising runs on the target device, so only uint8 bytes cross to a GPU.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor
from torchvision import datasets

from laftr_cl.benchmarks.base import ClassificationData
from laftr_cl.benchmarks.catalog import DATASETS, DatasetFacts
from laftr_cl.benchmarks.data import data_device
from laftr_cl.benchmarks.errors import missing_data_error
from laftr_cl.benchmarks.settings import BenchmarkSettings

_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class DatasetSource:
    """A torchvision dataset: its class, the files it reads under ``data.root``, its statistics.

    Attributes:
        facts: its shape and classes (:data:`laftr_cl.benchmarks.catalog.DATASETS`).
        dataset_class: e.g. ``torchvision.datasets.MNIST``; its ``.data`` is uint8
            ``[N, H, W]`` (grey) or ``[N, H, W, C]`` (colour), its ``.targets`` the labels.
        files: paths relative to ``data.root``, e.g. ``MNIST/raw/train-images-idx3-ubyte``.
        mean, std: per-channel statistics of the training images scaled to [0, 1].
    """

    facts: DatasetFacts
    dataset_class: type
    files: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one normalised image."""
        return self.facts.input_shape

    @property
    def num_classes(self) -> int:
        """The number of class ids ``0 … num_classes − 1``."""
        return self.facts.num_classes


MNIST = DatasetSource(
    facts=DATASETS["mnist"],
    dataset_class=datasets.MNIST,
    files=tuple(f"MNIST/raw/{name}" for name in _IDX_FILES),
    mean=(0.1307,),
    std=(0.3081,),
)
FASHION_MNIST = DatasetSource(
    facts=DATASETS["fashion_mnist"],
    dataset_class=datasets.FashionMNIST,
    files=tuple(f"FashionMNIST/raw/{name}" for name in _IDX_FILES),
    mean=(0.2860,),
    std=(0.3530,),
)
CIFAR10 = DatasetSource(
    facts=DATASETS["cifar10"],
    dataset_class=datasets.CIFAR10,
    files=tuple(
        f"cifar-10-batches-py/{name}"
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    ),
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)
CIFAR100 = DatasetSource(
    facts=DATASETS["cifar100"],
    dataset_class=datasets.CIFAR100,
    files=tuple(f"cifar-100-python/{name}" for name in ("train", "test", "meta")),
    mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
)

SOURCES = {"mnist": MNIST, "fashion_mnist": FASHION_MNIST, "cifar10": CIFAR10, "cifar100": CIFAR100}
"""Each dataset of :data:`~laftr_cl.benchmarks.catalog.DATASETS` as torchvision reads it."""


def load_sources(
    settings: BenchmarkSettings, benchmark: str, *sources: DatasetSource
) -> list[ClassificationData]:
    """Train and test split of each source: ``x [N, C, H, W]`` float32, ``y [N]`` int64.

    ``x`` is preprocessed as ``settings.preprocessing`` says (see ``_normalise``).

    Files are looked for under ``settings.root``. Every source's files are checked (and
    downloaded, with ``settings.download``) before any is read, so one error lists everything
    missing. Each dataset is on ``settings.device`` when it fits there (see ``data_device``),
    else on the CPU.

    Raises:
        BenchmarkDataNotFoundError: files missing and no download asked, the download failed,
            torchvision could not read the files (a truncated or corrupt idx file is named), or
            a split's image and label counts differ or its labels are out of range.
    """
    root = settings.root
    expected = [path for source in sources for path in expected_files(source, root)]
    missing = [str(path) for path in expected if not path.is_file()]
    if missing and not settings.download:
        raise missing_data_error(benchmark, root, expected, _missing_reason(missing, expected))
    if missing:
        _download(sources, benchmark, root, expected, _missing_reason(missing, expected))
    resolved = str(Path(root).resolve())
    loaded = []
    for source in sources:
        try:
            images_train, y_train = _decode(source, resolved, True)
            images_test, y_test = _decode(source, resolved, False)
        except Exception as err:  # present but unreadable: Runtime-, Assertion-, EOFError...
            reason = f"torchvision could not read them ({type(err).__name__}: {err})"
            raise missing_data_error(benchmark, root, expected, reason + _idx_problems(source, root)) from err
        for split, images, labels in (("training", images_train, y_train), ("test", images_test, y_test)):
            problem = _split_problem(images, labels, source.num_classes)
            if problem:
                reason = f"their {split} split is corrupt: {problem}"
                raise missing_data_error(benchmark, root, expected, reason)
        data_at = data_device(settings.device, 4 * (images_train.numel() + images_test.numel()))
        loaded.append(
            ClassificationData(
                _normalise(images_train, source, data_at, settings.preprocessing),
                y_train.to(data_at),
                _normalise(images_test, source, data_at, settings.preprocessing),
                y_test.to(data_at),
            )
        )
    return loaded


def expected_files(source: DatasetSource, root: str) -> list[Path]:
    """Every file ``source`` reads, as paths under ``root``."""
    return [Path(root) / name for name in source.files]


def _missing_reason(missing: list[str], expected: list[Path]) -> str:
    if len(missing) == len(expected):
        return "none of its files is there"
    return f"{len(missing)} of its {len(expected)} files are missing ({', '.join(missing)})"


def _idx_problems(source: DatasetSource, root: str) -> str:
    """``"; <file> is truncated: …"`` for each idx file (``*-ubyte``) of ``source`` that is broken."""
    found = [f"{path} {problem}" for path in expected_files(source, root)
             if path.name.endswith("-ubyte") and (problem := _idx_problem(path))]
    return "".join(f"; {text}" for text in found)


def _idx_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete idx file of unsigned bytes (magic ``00 00 08 ndim``, ``ndim``
    big-endian int32 sizes, then their product in bytes), or None when it is one."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
        if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or not 1 <= magic[3] <= 4:
            return "is not an idx file of unsigned bytes (wrong magic number)"
        sizes = handle.read(4 * magic[3])
    if len(sizes) < 4 * magic[3]:
        return "is truncated inside its header"
    dims = struct.unpack(f">{magic[3]}i", sizes)
    expected, size = 4 + len(sizes) + math.prod(dims), path.stat().st_size
    if size != expected:
        state = "is truncated" if size < expected else "is longer than its header says"
        return (f"{state}: its header announces {' x '.join(map(str, dims))} bytes of data "
                f"({expected} bytes in all) but it has {size} bytes")
    return None


def _split_problem(images: Tensor, labels: Tensor, num_classes: int) -> str | None:
    """Why decoded images ``[N, ...]`` and labels ``[M]`` do not form a dataset, or None."""
    if images.shape[0] != labels.shape[0]:
        return f"{images.shape[0]} images but {labels.shape[0]} labels"
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.numel():
        return f"{bad.numel()} labels outside 0..{num_classes - 1} (e.g. {int(bad[0])})"
    return None


def _download(
    sources: Sequence[DatasetSource], benchmark: str, root: str, expected: list[Path], reason: str
) -> None:
    try:
        for source in sources:
            for train in (True, False):
                source.dataset_class(root, train=train, download=True)
    except Exception as err:  # torchvision raises RuntimeError/URLError/OSError by mirror
        raise missing_data_error(
            benchmark, root, expected, f"{reason} and data.download=true failed ({err})"
        ) from err


@lru_cache(maxsize=8)
def _decode(source: DatasetSource, root: str, train: bool) -> tuple[Tensor, Tensor]:
    """uint8 images ``[N, H, W]`` or ``[N, H, W, C]`` and int64 labels ``[N]`` of one split."""
    dataset = source.dataset_class(root, train=train, download=False)
    return torch.as_tensor(dataset.data), torch.as_tensor(dataset.targets, dtype=torch.int64)


def _normalise(images: Tensor, source: DatasetSource, device: torch.device, preprocessing: str) -> Tensor:
    """uint8 ``[N, H, W]`` / ``[N, H, W, C]`` → float32 ``[N, C, H, W]``.

    ``preprocessing="raw"``: ``x/255`` in [0, 1]; ``"standardize"``: ``(x/255 − mean)/std`` with
    ``source``'s per-channel statistics (≈ zero mean, unit std on the training split).
    """
    images = images.to(device)
    images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    x = images.to(dtype=torch.float32, memory_format=torch.contiguous_format).div_(255)
    if preprocessing == "raw":
        return x
    mean = torch.tensor(source.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(source.std, device=device).view(1, -1, 1, 1)
    return x.sub_(mean).div_(std)
