"""``<run dir>/checkpoint.config.yaml``: the record of the run a checkpoint belongs to.

It holds the run's command-line ``overrides`` (Hydra's task overrides), its ``progress``
(``tasks_done``, ``epochs_done``) and its resolved ``config``, and is rewritten only together with
the checkpoint. Hydra rewrites ``.hydra/`` at every start — also for a run that is then refused
(another config, a busy folder) — so this file is what a refused resume points to, and what the
Ctrl-C message reads the progress from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from laftr_cl.run.atomic import write_atomically
from laftr_cl.run.folder import RunFolder


def _task_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def write_record(folder: Path, config: Mapping[str, Any], progress: Mapping[str, int]) -> None:
    """Writes the record atomically (:func:`~laftr_cl.run.atomic.write_atomically`: fsynced, renamed).

    Raises:
        RunFolderUnwritable: the folder cannot be written; the temporary file is removed.
    """
    record = {"overrides": _task_overrides(), "progress": dict(progress), "config": dict(config)}
    write_atomically(RunFolder(folder).record, yaml.safe_dump(record, sort_keys=False).encode())


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The record in ``folder``, or None when there is none (or it is unreadable)."""
    try:
        return yaml.safe_load(RunFolder(folder).record.read_text())
    except (OSError, yaml.YAMLError):
        return None
