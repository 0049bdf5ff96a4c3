"""What becomes of a run that fails: its record, its exit status, and the rest of its sweep.

:func:`run_job` is the body of the ``laftr-cl`` command. It holds the run folder's lock
(:mod:`laftr_cl.run.lock`) while the experiment runs, and turns each way a run can end badly into
one paragraph on stderr and an exit status:

=====  =======================================================================================
 2     refused before training: a bad setting, missing data, a checkpoint of another run, a
       run folder in use by another process
 3     diverged: the loss became NaN or infinite (the last good checkpoint is kept), or a task
       trained no step at all
 4     could not write into the run folder (disk full, read-only): nothing half-written is left
130    interrupted (Ctrl-C): one line naming the last checkpoint and the command that resumes
143    terminated (SIGTERM, what ``kill`` and SLURM send): the same line as Ctrl-C
=====  =======================================================================================

The run's ``results.json`` then says ``status: failed`` (``interrupted`` for Ctrl-C and SIGTERM,
see :mod:`laftr_cl.run.interrupts`) with the ``error`` (see
:func:`laftr_cl.run.results.record_failure`) — except for a busy folder, whose record is the other
process's, and a single run refused before training (exit status 2: the data or the model, checked
once built) in a folder its own launch created: that folder is removed, nothing is left behind. In
a single run the process exits with the status. In a sweep (``-m``) a failed job is a failed job,
not a failed sweep: it is noted in ``<sweep dir>/failed_jobs.jsonl`` and ends
normally for Hydra's basic sweeper (every launcher then runs the remaining jobs) or raises
:class:`JobFailed` to a sweeper that scores jobs (Optuna), which marks the trial failed and goes
on. :mod:`laftr_cl.run.callbacks` prints the failed jobs when the sweep ends. Ctrl-C stops the
whole sweep.

Why this shape (hydra-core 1.3, hydra-optuna-sweeper 1.3): Hydra's ``run_job`` catches only
``Exception`` into a failed ``JobReturn``, so a ``SystemExit`` from a job ends the whole sweep;
the basic sweeper reads ``JobReturn.return_value`` after each batch, which re-raises a failed
job's exception and ends the sweep there; submitit's launcher reports a job process that exits
with an error as ``UncompletedJobError``, hiding the job's message. The Optuna sweeper tells a
failed ``JobReturn`` to Optuna as a failed trial and goes on while failures stay within its
``max_failure_rate`` (``configs/hparams_search/optuna.yaml`` sets 1.0).
"""
from __future__ import annotations

import errno
import sys
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from laftr_cl.config.checks import ConfigError
from laftr_cl.config.errors import paragraph, show_traceback
from laftr_cl.run.atomic import RunFolderUnwritable, unwritable_message
from laftr_cl.run.callbacks import BASIC_SWEEPER, discard_new_run_folder, note_failed_job
from laftr_cl.run.checkpoint import CheckpointError, Progress
from laftr_cl.run.folder import RunFolder
from laftr_cl.run.interrupts import cause, exit_status
from laftr_cl.run.lock import RunFolderBusy, RunLock
from laftr_cl.run.record import read_record
from laftr_cl.run.results import record_failure
from laftr_cl.training.guards import NonFiniteLossError, NoTrainingStepError

REFUSED = (ConfigError, FileNotFoundError, CheckpointError, RunFolderBusy)


class JobFailed(Exception):
    """A sweep job failed (its message says how); raised to sweepers that score jobs (Optuna)."""


WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
"""A write that failed for one of these (disk full, quota, read-only, no permission) ends the run
with status 4, also when a logger's own write failed."""


def exit_code(err: BaseException) -> int | None:
    """The exit status of a run ended by ``err`` (see the module docstring); None for a bug."""
    if isinstance(err, REFUSED):
        return 2
    if isinstance(err, (NonFiniteLossError, NoTrainingStepError)):
        return 3
    if isinstance(err, RunFolderUnwritable) or (isinstance(err, OSError) and err.errno in WRITE_ERRNOS):
        return 4
    return None


def _message(err: Exception, output_dir: Path) -> str:
    if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:
        folder = Path(err.filename).parent if err.filename else output_dir
        return unwritable_message(folder, err)
    if exit_code(err) is None:
        return "".join(traceback.format_exception(err)).rstrip()
    return paragraph(err)


def run_job(cfg: DictConfig, output_dir: str | Path) -> float | None:
    """Runs the experiment of ``cfg`` in ``output_dir``; its final average accuracy, or None for a
    sweep job that failed (see the module docstring)."""
    from laftr_cl.run.build import run_config_dict
    from laftr_cl.run.experiment import run_experiment

    output_dir = Path(output_dir)
    try:
        with RunLock(output_dir):
            return run_experiment(cfg, output_dir)["final"]["average_accuracy"]
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (laftr_cl.run.interrupts)
        message = interrupted_message(output_dir, cause(err))
        record_failure(RunFolder(output_dir).results, run_config_dict(cfg), err, message,
                       exit_code=exit_status(err), refused=False, status="interrupted")
        print(f"laftr-cl: {message}", file=sys.stderr)
        raise SystemExit(exit_status(err)) from None
    except Exception as err:  # noqa: BLE001 - every failure of a sweep job is that job's alone
        code = exit_code(err)
        message = _message(err, output_dir)
        discarded = _refused_before_training(err, output_dir) and discard_new_run_folder(output_dir)
        if not discarded and not isinstance(err, RunFolderBusy):
            record_failure(RunFolder(output_dir).results, run_config_dict(cfg), err, message,
                           exit_code=code or 1, refused=isinstance(err, REFUSED))
        if not _in_sweep():
            if code is None or show_traceback():
                raise
            print(f"laftr-cl: {message}", file=sys.stderr)
            raise SystemExit(code) from None
        return _fail_sweep_job(output_dir, message, code or 1)


def _refused_before_training(err: Exception, output_dir: Path) -> bool:
    """A single run refused (exit status 2) before its first task was recorded or checkpointed."""
    run = RunFolder(output_dir)
    return (isinstance(err, REFUSED) and not isinstance(err, RunFolderBusy) and not _in_sweep()
            and not run.results.exists() and not run.checkpoint.exists())


def _in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _fail_sweep_job(output_dir: Path, message: str, code: int) -> None:
    hydra = HydraConfig.get()
    overrides = list(hydra.overrides.task)
    print(f"laftr-cl: job {hydra.job.num} ({' '.join(overrides)}) failed (exit status {code}): {message}",
          file=sys.stderr)
    note_failed_job(hydra.sweep.dir, {"job": hydra.job.num, "overrides": overrides, "folder": str(output_dir),
                                      "exit_code": code, "error": message})
    if hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        raise JobFailed(f"job {hydra.job.num} failed (exit status {code}): {message}")
    return None


def interrupted_message(output_dir: Path, what: str = "Ctrl-C") -> str:
    """One line: where the run stopped (``what`` stopped it: ``Ctrl-C`` or ``SIGTERM``) and the
    command that continues it."""
    record = read_record(output_dir)
    checkpoint = RunFolder(output_dir).checkpoint
    if _in_sweep():
        again = f"run the same command with hydra.sweep.dir={HydraConfig.get().sweep.dir} to continue " \
                "(finished jobs are not trained again)"
    else:
        again = f"run the same command with hydra.run.dir={output_dir} to continue"
    if record is None or not checkpoint.is_file():
        return (f"interrupted ({what}) before the first checkpoint of {output_dir}: {again} — it starts this "
                "run over.")
    done = Progress(**record["progress"]).describe()
    return f"interrupted ({what}); the last checkpoint, {checkpoint}, holds {done}: {again} from there."
