"""A cheap fingerprint of a benchmark's data: what a resumed run checks it is trained on.

The fingerprint is plain data (it goes into ``results.json`` and the checkpoint):

* ``train_sizes``, ``test_sizes``: examples per experience;
* ``labels``: a SHA-256 (first 16 hex digits) of every experience's labels, in order;
* ``inputs``: a SHA-256 of :data:`SAMPLE_PER_SPLIT` evenly spaced decoded inputs of every
  experience's train and test split, rounded to 1/256 (the bytes of one decode are the same on
  every run; the rounding keeps a last-bit difference of the normalisation from mattering).

It depends only on the decoded data, never on where the files are: the same files moved to
another folder give the same fingerprint, another dataset (or a damaged copy) another one.
"""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

import torch
from torch import Tensor

from laftr_cl.benchmarks.base import TaskTensors, TensorBenchmark

SAMPLE_PER_SPLIT = 32
"""Inputs hashed per experience and split."""
FIELDS = ("train_sizes", "test_sizes", "labels", "inputs")


def _sample(x: Tensor) -> Tensor:
    """``SAMPLE_PER_SPLIT`` evenly spaced rows of ``x [N, ...]`` (all of them when fewer), on the CPU."""
    n = x.shape[0]
    index = torch.linspace(0, max(n - 1, 0), min(n, SAMPLE_PER_SPLIT)).round().long()
    return x.detach()[index.to(x.device)].cpu()


def data_fingerprint(benchmark: TensorBenchmark) -> dict[str, Any]:
    """The fingerprint of ``benchmark``'s experiences (see the module docstring)."""
    splits: list[TaskTensors] = [*benchmark.train, *benchmark.test]
    labels, inputs = hashlib.sha256(), hashlib.sha256()
    for task in splits:
        labels.update(task.y.detach().cpu().to(torch.int64).numpy().tobytes())
        rounded = (_sample(task.x).to(torch.float64) * 256).round().to(torch.int64)
        inputs.update(str(tuple(rounded.shape)).encode())
        inputs.update(rounded.numpy().tobytes())
    return {"train_sizes": [int(t.y.shape[0]) for t in benchmark.train],
            "test_sizes": [int(t.y.shape[0]) for t in benchmark.test],
            "labels": labels.hexdigest()[:16], "inputs": inputs.hexdigest()[:16]}


def describe(fingerprint: Mapping[str, Any]) -> str:
    """``"train sizes [..], test sizes [..], labels 1a2b…, inputs 3c4d…"``."""
    return (f"train sizes {list(fingerprint.get('train_sizes', []))}, test sizes "
            f"{list(fingerprint.get('test_sizes', []))}, labels {fingerprint.get('labels')}, "
            f"inputs {fingerprint.get('inputs')}")


def same_data(saved: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether two fingerprints describe the same data."""
    return all(saved.get(key) == current.get(key) for key in FIELDS)
