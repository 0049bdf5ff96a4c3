"""Which settings of a run config say *what* is computed, and which are run plumbing.

A run config (plain data, without Hydra's ``hydra`` node) is flattened to dotted keys
(``regularizer.plugin.fsd_lambda``). Two sets of keys are left out of comparisons:

* :data:`RESUMABLE_SETTINGS` — where a run writes, how it logs and checkpoints, which device it
  runs on: they may differ between an interrupted run and its resumption (the checkpoint check)
  and never split a comparison group.
* :data:`NOT_GROUPED` — those plus ``seed`` (seeds are what a group averages over),
  ``train.eval_batch_size`` (evaluation batches change no number) and ``data.root`` (the folder is
  replaced by the dataset's name, see :func:`laftr_cl.reporting.groups.dataset_label`, so the same data
  under two paths is one dataset).

This module imports nothing heavy: ``laftr-cl-compare`` uses it without torch.
"""
from __future__ import annotations

from typing import Any, Mapping

RESUMABLE_SETTINGS = ("resume", "checkpoint", "guard", "logger", "paths", "tags", "device",
                      "num_workers", "data.root", "data.download", "data.on_device")
"""Settings that may differ between the interrupted run and its resumption (dotted paths)."""

NOT_GROUPED = RESUMABLE_SETTINGS + ("seed", "train.eval_batch_size")
"""Settings that do not split runs into comparison groups."""


def flatten(config: Mapping[str, Any]) -> dict[str, Any]:
    """Nested plain data → ``{"a.b.c": value}``; lists and empty mappings are values."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(config, "")
    return flat


def without(flat: Mapping[str, Any], settings: tuple[str, ...]) -> dict[str, Any]:
    """``flat`` without the keys equal to or below any of ``settings``."""
    return {key: value for key, value in flat.items()
            if not any(key == s or key.startswith(s + ".") for s in settings)}
