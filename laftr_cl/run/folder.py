"""The run folder: the one place that names the files a ``laftr-cl`` run keeps in it.

* ``laftr-cl.lock``: the lock of the live process (:mod:`laftr_cl.run.lock`).
* ``checkpoint.pt``: the checkpoint (:mod:`laftr_cl.run.checkpoint`).
* ``checkpoint.config.yaml``: the record of the run the checkpoint belongs to (:mod:`laftr_cl.run.record`).
* ``results.json``: the accuracy matrix and metrics, rewritten after every task (:mod:`laftr_cl.run.results`).
* ``wandb_run_id``: the wandb run id kept across resumes (:mod:`laftr_cl.loggers.wandb_resume`).

Hydra's ``.hydra/`` and the loggers' folders sit beside them. Every file here is written through
:mod:`laftr_cl.run.atomic`. Light on purpose (no torch): Hydra's callbacks import it at start-up.
"""
from __future__ import annotations

from pathlib import Path


class RunFolder:
    """The files of the run folder ``path`` (paths only; nothing is created until written)."""

    LOCK = "laftr-cl.lock"
    CHECKPOINT = "checkpoint.pt"
    RECORD = "checkpoint.config.yaml"
    RESULTS = "results.json"
    WANDB_ID = "wandb_run_id"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def lock(self) -> Path:
        return self.path / self.LOCK

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def record(self) -> Path:
        return self.path / self.RECORD

    @property
    def results(self) -> Path:
        return self.path / self.RESULTS

    @property
    def wandb_id(self) -> Path:
        return self.path / self.WANDB_ID

    def forget_wandb_id(self) -> None:
        """Drops the kept wandb run id (a run that starts over here gets a new wandb run)."""
        self.wandb_id.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"
