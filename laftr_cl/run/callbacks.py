"""Hydra callbacks that check run folders before Hydra writes into them and report a sweep's failures.

Configured in ``configs/hydra/default.yaml`` (``hydra.callbacks``):

* before a single run: the run folder must be writable, and free of another live laftr-cl process
  (:mod:`laftr_cl.run.lock`) — checked before Hydra creates its log file and ``.hydra/`` there,
  so a read-only folder gets the project's message (not Hydra's "Unable to configure handler
  'file'") and a second process leaves the first one's files alone;
* before a sweep: the sweep folder must be writable; the failures noted by an earlier attempt of
  the same sweep are forgotten (its jobs are retried);
* after a sweep: the jobs that failed (noted in ``failed_jobs.jsonl`` by
  :mod:`laftr_cl.run.outcome`) are listed, with their errors. A grid sweep (Hydra's basic
  sweeper) then exits with status 1; a search (Optuna) exits 0, failed trials being part of it.

Imports nothing heavy: Hydra builds it at start-up, before every run.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from laftr_cl.run.atomic import RunFolderUnwritable, check_writable
from laftr_cl.run.lock import busy_message, holder_if_locked

FAILED_JOBS = "failed_jobs.jsonl"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def note_failed_job(sweep_dir: str | Path, note: dict[str, Any]) -> None:
    """Appends ``note`` (job, overrides, folder, exit_code, error) to ``<sweep_dir>/failed_jobs.jsonl``."""
    try:
        with open(Path(sweep_dir) / FAILED_JOBS, "a") as handle:  # one short append per job
            handle.write(json.dumps(note) + "\n")
    except OSError:
        pass  # the job's own message and its results.json still say it


def failed_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The notes of :func:`note_failed_job` in ``sweep_dir``, in the order the jobs failed."""
    path = Path(sweep_dir) / FAILED_JOBS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sweep_summary(sweep_dir: str | Path, notes: list[dict[str, Any]]) -> str:
    """The paragraph printed at the end of a sweep with failed jobs."""
    jobs = "".join(f"\n  job {n['job']} ({' '.join(n['overrides'])}): exit status {n['exit_code']} — "
                   f"{n['error'].splitlines()[0] if n['error'] else ''}" for n in notes)
    return (f"laftr-cl: {len(notes)} job(s) of the sweep in {sweep_dir} failed; every other job ran.{jobs}\n"
            "Each failed job's results.json holds its error (status: failed). Run the same command with "
            f"hydra.sweep.dir={sweep_dir} to retry them: finished jobs are not trained again.")


def _refuse(message: str) -> None:
    print(f"laftr-cl: {message}", file=sys.stderr)
    raise SystemExit(2)


class RunFolderCallback(Callback):
    """See the module docstring."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.run.dir)).absolute()
        try:
            check_writable(folder)
        except RunFolderUnwritable as err:
            _refuse(str(err))
        holder = holder_if_locked(folder)
        if holder is not None and holder.get("pid") != os.getpid():
            _refuse(busy_message(folder, holder))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir)).absolute()
        try:
            check_writable(folder)
        except RunFolderUnwritable as err:
            _refuse(str(err))
        (folder / FAILED_JOBS).unlink(missing_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        notes = failed_jobs(sweep_dir)
        if not notes:
            return
        print(sweep_summary(sweep_dir, notes), file=sys.stderr)
        if config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:
            raise SystemExit(1)
