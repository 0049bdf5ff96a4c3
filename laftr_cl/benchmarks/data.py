"""Where a benchmark's tensors come from (real files or synthetic) and on which device they live."""
from __future__ import annotations

import warnings
from typing import Callable

import torch

from laftr_cl.benchmarks.base import ClassificationData
from laftr_cl.benchmarks.settings import BenchmarkSettings
from laftr_cl.benchmarks.synthetic import synthetic_data

LoadReal = Callable[[BenchmarkSettings], ClassificationData]
"""Reads a benchmark's real files: settings → the whole dataset, normalised, on its device."""

_DEVICE_SHARE = 0.5
"""Largest share of a GPU's free memory the decoded data may take (the rest: the per-experience
copies made while splitting, and training)."""


def benchmark_data(
    settings: BenchmarkSettings,
    input_shape: tuple[int, ...],
    num_classes: int,
    load_real: LoadReal,
) -> ClassificationData:
    """The whole dataset, from ``settings.synthetic`` when set, else from ``load_real(settings)``.

    ``x_* [N, *input_shape]`` float32, ``y_* [N]`` int64 in ``0 … num_classes − 1``; on
    ``settings.device`` when it fits. Synthetic data is drawn on the CPU, so it is the same on
    every device for a given seed; under ``preprocessing="raw"`` it is passed through a sigmoid,
    so that its inputs lie in (0, 1) like raw pixels.
    """
    if settings.synthetic is None:
        return load_real(settings)
    data = synthetic_data(input_shape, num_classes, settings.synthetic, settings.seed)
    if settings.preprocessing == "raw":
        data = ClassificationData(data.x_train.sigmoid(), data.y_train, data.x_test.sigmoid(), data.y_test)
    return data.to(data_device(settings.device, data.nbytes))


def data_device(device: torch.device, nbytes: int) -> torch.device:
    """``device``, or the CPU (with a warning) when ``nbytes`` would not fit in a GPU's memory."""
    if device.type != "cuda":
        return device
    free, _ = torch.cuda.mem_get_info(device)
    if nbytes <= _DEVICE_SHARE * free:
        return device
    warnings.warn(
        f"The benchmark's tensors take {nbytes / 2**30:.1f} GiB, more than half of the "
        f"{free / 2**30:.1f} GiB free on {device}: keeping them on the CPU (batches are copied to "
        "the GPU as usual). Set data.on_device=false to silence this.",
        stacklevel=2,
    )
    return torch.device("cpu")
