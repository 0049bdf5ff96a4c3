"""Hydra callbacks that check run folders before Hydra writes into them and report a sweep's failures.

Configured in ``configs/hydra/default.yaml`` (``hydra.callbacks``):

* before a single run: the run folder must be writable, and its lock (:mod:`laftr_cl.run.lock`) is
  taken — before Hydra creates its log file and ``.hydra/`` there, so a read-only folder gets the
  project's message (not Hydra's "Unable to configure handler 'file'") and a second process is
  refused without touching the first one's files. The run holds the lock until it ends. A resume
  whose config differs from its checkpoint's is refused here too, so ``.hydra/`` keeps showing the
  interrupted run. A run refused before training in a folder this launch created (or found empty)
  leaves nothing behind: :func:`discard_new_run_folder` removes what it wrote (and the folders this
  launch made);
* before a sweep: the sweep folder must be writable, and the sweep takes its lock
  (``<sweep dir>/laftr-cl.lock``) until it ends: a second sweep into the same folder is refused
  before it writes anything. A grid sweep whose folder holds, for one of its jobs, the checkpoint of
  a job with another config is refused here too, before Hydra writes into that job's folder. The
  sweep's launch gets an id (:data:`LAUNCH_ENV`, inherited by the job processes a launcher starts),
  which every failure note carries; the notes of an earlier attempt are forgotten (its jobs are retried);
* after a sweep: the jobs of this launch that failed (noted in ``failed_jobs.jsonl`` by
  :mod:`laftr_cl.run.outcome`) are listed, with their errors. A grid sweep (Hydra's basic
  sweeper) then exits with status 1; a search (Optuna) exits 0, failed trials being part of it.

Imports nothing heavy: Hydra builds it at start-up, before every run.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from laftr_cl.config.settings import comparable_config
from laftr_cl.run.atomic import RunFolderUnwritable, check_writable
from laftr_cl.run.folder import RunFolder
from laftr_cl.run.lock import RunFolderBusy, RunLock
from laftr_cl.run.record import START_NEW, START_NEW_SWEEP, other_config_message, read_record

FAILED_JOBS = "failed_jobs.jsonl"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
LAUNCH_ENV = "LAFTR_CL_SWEEP_LAUNCH"
"""The id of the sweep launch a job belongs to (set by the sweep, inherited by its job processes)."""


def note_failed_job(sweep_dir: str | Path, note: dict[str, Any]) -> None:
    """Appends ``note`` (job, overrides, folder, exit_code, error), with this launch's id, to
    ``<sweep_dir>/failed_jobs.jsonl``."""
    try:
        with open(Path(sweep_dir) / FAILED_JOBS, "a") as handle:  # one short append per job
            handle.write(json.dumps({**note, "launch": os.environ.get(LAUNCH_ENV)}) + "\n")
    except OSError:
        pass  # the job's own message and its results.json still say it


def failed_jobs(sweep_dir: str | Path, launch: str | None = None) -> list[dict[str, Any]]:
    """The notes of :func:`note_failed_job` in ``sweep_dir`` (of the sweep launch ``launch`` only,
    when given), in the order the jobs failed."""
    path = Path(sweep_dir) / FAILED_JOBS
    if not path.is_file():
        return []
    notes = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [n for n in notes if launch is None or n.get("launch") == launch]


def sweep_summary(sweep_dir: str | Path, notes: list[dict[str, Any]]) -> str:
    """The paragraph printed at the end of a sweep with failed jobs."""
    jobs = "".join(f"\n  job {n['job']} ({' '.join(n['overrides'])}): exit status {n['exit_code']} — "
                   f"{n['error'].splitlines()[0] if n['error'] else ''}" for n in notes)
    return (f"laftr-cl: {len(notes)} job(s) of the sweep in {sweep_dir} failed; every other job ran.{jobs}\n"
            "Each failed job's results.json holds its error (status: failed). Run the same command with "
            f"hydra.sweep.dir={sweep_dir} to retry them: finished jobs are not trained again.")


_NEW_FOLDERS: dict[Path, Path | None] = {}
"""Run folder → the outermost folder of its path that this launch created; None: the folder was there,
empty (this launch made all it holds)."""


def _outermost_new(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet (``folder`` when it is there
    and empty); raises FileExistsError when ``folder`` holds anything."""
    if folder.exists():
        if not folder.is_dir() or any(folder.iterdir()):
            raise FileExistsError(folder)
        return None
    while not folder.parent.exists():
        folder = folder.parent
    return folder


def discard_new_run_folder(folder: str | Path) -> bool:
    """Empties run folder ``folder`` when this launch made all it holds, and removes it (with its
    parents that this launch created and that are empty now) when this launch created it; whether it
    did. For a run refused before training: what is there (Hydra's ``.hydra/`` and log, the lock)
    tells nothing the message does not."""
    folder = Path(folder).absolute()
    if folder not in _NEW_FOLDERS:
        return False
    top = _NEW_FOLDERS.pop(folder)
    for entry in list(folder.iterdir()) if folder.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for parent in [folder, *folder.parents] if top is not None else []:
        if not parent.is_relative_to(top):
            break
        try:
            parent.rmdir()
        except OSError:  # not empty (another run's folder), or already gone
            if parent.exists():
                break
    return True


def _refuse(message: str) -> None:
    print(f"laftr-cl: {message}", file=sys.stderr)
    raise SystemExit(2)


def _other_config(config: DictConfig, folder: Path, start_new: str = START_NEW) -> str | None:
    """Why the checkpoint in ``folder`` cannot continue a run of ``config`` (another config), or None —
    asked before Hydra rewrites ``.hydra/``, so a refused resume leaves the interrupted run's files as
    they were. Where the config cannot be resolved yet, the run's own check answers later."""
    run = RunFolder(folder)
    record = read_record(folder)
    if config.get("resume") is False or not run.checkpoint.is_file() or not isinstance(record, dict):
        return None
    try:
        HydraConfig.instance().set_config(config)  # as Hydra's run_job does next, for ${hydra:...}
        current = OmegaConf.to_container(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]),
                                         resolve=True)
    except Exception:  # noqa: BLE001 - any interpolation that only resolves in the job
        return None
    return other_config_message(run.checkpoint, comparable_config(record.get("config") or {}), comparable_config(current),
                                start_new)


def _sweep_job_of_another_config(config: DictConfig, sweep_dir: Path) -> str | None:
    """Why a job of this grid sweep cannot run in its folder, which holds the checkpoint of a job with
    another config (the grid changed since the sweep last ran there), or None. The jobs are enumerated
    as Hydra's basic sweeper does, before it writes anything into their folders."""
    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER or not any(sweep_dir.glob(f"**/{RunFolder.CHECKPOINT}")):
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = GlobalHydra.instance().config_loader()
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    overrides = OverridesParser.create(config_loader=loader).parse_overrides([*params, *config.hydra.overrides.task])
    jobs = [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]
    try:
        for num, job in enumerate(jobs):
            job_config = loader.load_sweep_config(config, list(job))
            with open_dict(job_config):
                job_config.hydra.job.id = job_config.hydra.job.num = num
            folder = sweep_dir / str(job_config.hydra.sweep.subdir)
            message = _other_config(job_config, folder, START_NEW_SWEEP) if folder.is_dir() else None
            if message is not None:
                return f"Job {num} of this sweep ({' '.join(job)}) cannot run in its folder: {message}"
        return None
    except HydraException:  # a job that does not compose here: the job's own check answers when it starts
        return None
    finally:
        HydraConfig.instance().set_config(config)


class RunFolderCallback(Callback):
    """See the module docstring."""

    def __init__(self) -> None:
        self._lock: RunLock | None = None

    def _take(self, folder: Path, kind: str) -> None:
        try:
            check_writable(folder)
            self._lock = RunLock(folder, announce=False, kind=kind).acquire()
        except (RunFolderUnwritable, RunFolderBusy) as err:
            _refuse(str(err))

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.run.dir)).absolute()
        try:
            top, fresh = _outermost_new(folder), True
        except FileExistsError:  # a folder with files in it: a refusal records itself there
            top, fresh = None, False
        self._take(folder, "run")
        _NEW_FOLDERS.pop(folder, None)
        if fresh:
            _NEW_FOLDERS[folder] = top
        message = _other_config(config, folder)
        if message is not None:
            self._release()
            _refuse(message)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        _NEW_FOLDERS.pop(Path(str(config.hydra.run.dir)).absolute(), None)
        self._release()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir)).absolute()
        self._take(folder, "sweep")
        message = _sweep_job_of_another_config(config, folder)
        if message is not None:
            self._release()
            _refuse(message)
        os.environ[LAUNCH_ENV] = f"{os.getpid()}-{time.time_ns()}"
        (folder / FAILED_JOBS).unlink(missing_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        notes = failed_jobs(sweep_dir, os.environ.get(LAUNCH_ENV))
        self._release()
        if not notes:
            return
        print(sweep_summary(sweep_dir, notes), file=sys.stderr)
        if config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:
            raise SystemExit(1)
