"""One wandb run per laftr-cl run, across requeues and resumes: its id is kept in the run folder.

A run folder's first wandb logger picks an id (``WANDB_RUN_ID`` when set, as by wandb sweeps, else
a random one) and writes it to ``<run dir>/wandb_run_id``. A later process in the same folder that
continues the run from its checkpoint (a requeued SLURM or submitit job, a rerun after a kill)
reads it back and resumes that wandb run (``resume="allow"``), so a pre-empted job shows one
curve. Offline runs keep the id too: each attempt writes its own ``offline-run-*`` folder with the
same run id, and ``wandb sync`` puts them in one run. A run that starts over (no checkpoint, or
``resume=false``) gets a new id.
"""
from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from laftr_cl.run.folder import RunFolder


def new_run_id() -> str:
    """``WANDB_RUN_ID`` when set, else 8 random lowercase letters and digits (wandb's id alphabet)."""
    alphabet = string.ascii_lowercase + string.digits
    return os.environ.get("WANDB_RUN_ID") or "".join(secrets.choice(alphabet) for _ in range(8))


def persistent_run_id(folder: str | Path | None) -> str:
    """The wandb run id of the laftr-cl run in ``folder`` (see the module docstring)."""
    if folder is None:
        return new_run_id()
    run_folder = RunFolder(folder)
    path = run_folder.wandb_id
    if path.is_file() and run_folder.checkpoint.is_file():
        kept = path.read_text().strip()
        if kept:
            return kept
    run_id = new_run_id()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(run_id + "\n")
    except OSError:
        pass  # an unwritable folder stops the run with its own message
    return run_id
