"""``data.preprocessing``: raw pixels in [0, 1] or per-dataset standardisation, real and synthetic."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.settings import make_settings


def _train_inputs(bm) -> torch.Tensor:
    return torch.cat([t.x for t in bm.train])


def test_raw_mnist_pixels_are_bytes_over_255(mnist_5k_root: Path) -> None:
    raw = build_benchmark("split_mnist", root=str(mnist_5k_root), preprocessing="raw")
    standard = build_benchmark("split_mnist", root=str(mnist_5k_root))
    x_raw, x_std = _train_inputs(raw), _train_inputs(standard)
    assert x_raw.min().item() == 0.0 and x_raw.max().item() == 1.0
    assert torch.allclose(x_raw, x_std * 0.3081 + 0.1307, atol=1e-6)
    assert torch.equal(torch.round(x_raw * 255) / 255, x_raw)  # whole bytes, nothing shifted
    assert abs(x_std.mean().item()) < 0.05 and abs(x_std.std().item() - 1) < 0.05


def test_raw_permuted_mnist_stays_in_unit_interval(mnist_5k_root: Path) -> None:
    bm = build_benchmark("permuted_mnist", root=str(mnist_5k_root), num_experiences=2, preprocessing="raw")
    for task in bm.train:
        assert task.x.min().item() == 0.0 and task.x.max().item() == 1.0


def test_synthetic_raw_lies_in_unit_interval() -> None:
    tiny = {"train_per_class": 6, "test_per_class": 3}
    raw = build_benchmark("split_mnist", root="unused", synthetic=tiny, preprocessing="raw")
    standard = build_benchmark("split_mnist", root="unused", synthetic=tiny)
    x_raw, x_std = _train_inputs(raw), _train_inputs(standard)
    assert 0 < x_raw.min().item() and x_raw.max().item() < 1
    assert torch.allclose(x_raw, x_std.sigmoid())
    assert abs(x_std.mean().item()) < 0.1


def test_unknown_preprocessing_names_the_setting_and_choices() -> None:
    with pytest.raises(ValueError, match=r"data\.preprocessing='zscore'.*standardize.*raw"):
        make_settings(root="x", scenario=None, num_experiences=None, class_order=None, seed=0,
                      synthetic=None, device="cpu", download=False, preprocessing="zscore")
