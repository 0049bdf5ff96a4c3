"""``<run dir>/checkpoint.config.yaml``: the record of the run a checkpoint belongs to.

It holds the run's command-line ``overrides`` (Hydra's task overrides), its ``progress``
(``tasks_done``, ``epochs_done``) and its resolved ``config``, and is rewritten only together with
the checkpoint. Hydra rewrites ``.hydra/`` at every start of a run it lets through (a single run
refused for another config or a busy folder is stopped before, by :mod:`laftr_cl.run.callbacks`; a
sweep's job is not), so this file is what a refused resume points to — :func:`other_config_message`
says how — and what the Ctrl-C message reads the progress from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from laftr_cl.run.atomic import write_atomically
from laftr_cl.run.folder import RunFolder

START_NEW = "or start a new run in a new folder (leave hydra.run.dir at its default)"
"""The way out every refused resume offers."""
START_NEW_SWEEP = "or give this sweep a new folder (leave hydra.sweep.dir at its default)"
"""The same for a sweep job."""


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


def other_config_message(checkpoint: Path, saved: Mapping[str, Any], current: Mapping[str, Any],
                         start_new: str = START_NEW) -> str | None:
    """Why the checkpoint at ``checkpoint``, written with ``saved``, does not continue a run with
    ``current`` (both :func:`~laftr_cl.config.settings.comparable_config`), naming the settings
    that differ; None when none does. ``start_new``: the other way out (a new run folder)."""
    keys = sorted(set(saved) | set(current))
    differ = [key for key in keys if saved.get(key, "<absent>") != current.get(key, "<absent>")]
    if not differ:
        return None
    shown = "; ".join(f"{key}: checkpoint {saved.get(key, '<absent>')!r}, this run {current.get(key, '<absent>')!r}"
                      for key in differ[:6])
    more = f" (and {len(differ) - 6} more)" if len(differ) > 6 else ""
    record = RunFolder(checkpoint.parent).record
    where = (f"{record} keeps its command-line overrides and config" if record.is_file()
             else "its first .hydra/overrides.yaml listed them")
    return (f"The checkpoint {checkpoint} belongs to a run with another config — {shown}{more}. Resume with the "
            f"settings of the interrupted run ({where}), {start_new}.")
