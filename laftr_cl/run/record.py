"""``<run dir>/checkpoint.config.yaml``: the record of the run a checkpoint belongs to.

It holds the run's command-line ``overrides`` (Hydra's task overrides), its ``progress``
(``tasks_done``, ``epochs_done``) and its resolved ``config``, and is rewritten only together with
the checkpoint. Hydra rewrites ``.hydra/`` at every start — also for a run that is then refused
(another config, a busy folder) — so this file is what a refused resume points to, and what the
Ctrl-C message reads the progress from.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from laftr_cl.run.lock import RunFolderUnwritable, unwritable_message

RECORD_NAME = "checkpoint.config.yaml"


def _task_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def write_record(folder: Path, config: Mapping[str, Any], progress: Mapping[str, int]) -> None:
    """Writes the record atomically (temporary file, rename).

    Raises:
        RunFolderUnwritable: the folder cannot be written; the temporary file is removed.
    """
    target = Path(folder) / RECORD_NAME
    tmp = target.with_name(target.name + ".tmp")
    record = {"overrides": _task_overrides(), "progress": dict(progress), "config": dict(config)}
    try:
        tmp.write_text(yaml.safe_dump(record, sort_keys=False))
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RunFolderUnwritable(unwritable_message(Path(folder), err)) from None


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The record in ``folder``, or None when there is none (or it is unreadable)."""
    try:
        return yaml.safe_load((Path(folder) / RECORD_NAME).read_text())
    except (OSError, yaml.YAMLError):
        return None
