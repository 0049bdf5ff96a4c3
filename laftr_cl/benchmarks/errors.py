"""Errors raised by the benchmark builders: each names the setting at fault and the fix."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


class BenchmarkDataNotFoundError(FileNotFoundError):
    """A benchmark's files are not under ``data.root`` and were not (or could not be) downloaded."""


def missing_data_error(
    benchmark: str, root: str | Path, expected: Sequence[Path], reason: str
) -> BenchmarkDataNotFoundError:
    """One paragraph: which benchmark, which files where, why they are unusable, how to fix it.

    Args:
        benchmark: the benchmark's config name, e.g. ``"split_mnist"``.
        root: the value of ``data.root``.
        expected: every file the benchmark reads (absolute or relative to the working directory).
        reason: what went wrong, e.g. ``"none of its files is there"``.
    """
    files = ", ".join(str(path) for path in expected)
    return BenchmarkDataNotFoundError(
        f"Benchmark {benchmark!r} cannot read its data under data.root={str(root)!r} "
        f"(resolved: {Path(root).resolve()}): {reason}. It reads these files: {files}. "
        "To fix: point data.root at the folder that holds them (e.g. "
        "data.root=../shared/datasets/<folder> for MNIST and Fashion-MNIST), or set "
        "data.download=true on a machine with network access, or run without files via "
        "data.synthetic='{train_per_class: 20, test_per_class: 10}'."
    )
