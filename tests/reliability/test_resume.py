"""Runs killed with SIGKILL resume to exactly the uninterrupted result (accuracy matrix, weights).

Killed runs are forked processes (cheap) or real ``laftr-cl`` processes where the command line
matters (re-running a command, submitit's requeue, which also continues the job's wandb run).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pytest

from laftr_cl.loggers.wandb_offline import read_offline_run
from laftr_cl.run.folder import RunFolder
from reliability.fault_runs import (
    FOUR_TASKS,
    REGULARIZERS,
    assert_same_model,
    checkpoint,
    cli_here,
    results,
    run_cli,
    run_here,
    run_killed,
)

SIGKILLED = -9


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[tuple[str, ...]], Path]:
    """The folder of an uninterrupted in-process run of ``FOUR_TASKS + overrides`` (cached)."""
    done: dict[tuple[str, ...], Path] = {}

    def run(overrides: tuple[str, ...]) -> Path:
        if overrides not in done:
            folder = tmp_path_factory.mktemp("uninterrupted")
            run_here([*FOUR_TASKS, *overrides], folder)
            done[overrides] = folder
        return done[overrides]

    return run


@pytest.mark.parametrize("regularizer", ["none", "ewc", "laftr", "replay"])
@pytest.mark.slow
def test_run_killed_after_task_2_of_4_resumes_to_the_same_results(regularizer, uninterrupted, tmp_path):
    overrides = (*REGULARIZERS[regularizer],)
    assert run_killed([*FOUR_TASKS, *overrides], tmp_path, "checkpoint_written:2") == SIGKILLED
    assert len(results(tmp_path)["accuracy_matrix"]) == 2
    assert checkpoint(tmp_path)["progress"] == {"tasks_done": 2, "epochs_done": 0}

    resumed = run_here([*FOUR_TASKS, *overrides, "resume=true"], tmp_path)
    reference = results(uninterrupted(overrides))
    assert resumed["complete"] and resumed["accuracy_matrix"] == reference["accuracy_matrix"]
    assert resumed["final"] == reference["final"]
    assert resumed["summary_memory_bytes"] == reference["summary_memory_bytes"]
    assert_same_model(tmp_path, uninterrupted(overrides))
    assert (tmp_path / "csv.part1" / "eval_results.csv").is_file()  # the first attempt's log is kept


@pytest.mark.slow
def test_kill_during_checkpoint_write_keeps_the_previous_one_and_rerunning_resumes(uninterrupted, tmp_path, monkeypatch,
                                                                                  capsys):
    overrides = [*FOUR_TASKS, *REGULARIZERS["ewc"]]
    assert run_killed(overrides, tmp_path, "checkpoint_renaming:3") == SIGKILLED
    assert (tmp_path / "checkpoint.pt.tmp").is_file()
    assert checkpoint(tmp_path)["progress"] == {"tasks_done": 2, "epochs_done": 0}

    rerun = cli_here([*overrides, f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)  # resume=auto finds the checkpoint
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming from" in (tmp_path / "cli.log").read_text()
    reference = uninterrupted(tuple(REGULARIZERS["ewc"]))
    assert results(tmp_path)["accuracy_matrix"] == results(reference)["accuracy_matrix"]
    assert_same_model(tmp_path, reference)
    assert not (tmp_path / "checkpoint.pt.tmp").exists()


@pytest.mark.slow
def test_kill_inside_a_task_resumes_from_the_epoch_checkpoint(uninterrupted, tmp_path):
    # SI resets its per-task trajectories when a task starts: the epoch checkpoint must restore them
    overrides = (*REGULARIZERS["si"], "train.epochs=3", "checkpoint.every_n_epochs=1")
    assert run_killed([*FOUR_TASKS, *overrides], tmp_path, "checkpoint_written:1.2") == SIGKILLED
    assert checkpoint(tmp_path)["progress"] == {"tasks_done": 1, "epochs_done": 2}

    resumed = run_here([*FOUR_TASKS, *overrides], tmp_path)
    assert resumed["accuracy_matrix"] == results(uninterrupted(overrides))["accuracy_matrix"]
    assert_same_model(tmp_path, uninterrupted(overrides))


@pytest.mark.slow
def test_preempted_submitit_job_is_requeued_resumes_and_continues_its_wandb_run(uninterrupted, tmp_path):
    # SIGUSR2 is submitit's pre-emption signal: the job checkpoints itself through the launcher,
    # exits, and submitit starts it again with the same config in the same folder.
    overrides = tuple(REGULARIZERS["ewc"])
    out = run_cli(["-m", "hydra/launcher=submitit_local_jobs", f"hydra.sweep.dir={tmp_path}",
                   *FOUR_TASKS, *overrides, "logger=[csv,wandb]"], kill_at="checkpoint_written:2:SIGUSR2")
    assert out.returncode == 0, out.stderr[-3000:]
    (job_dir,) = [path.parent for path in tmp_path.glob("*/results.json")]
    assert "resuming from" in (job_dir / "cli.log").read_text()
    assert results(job_dir)["accuracy_matrix"] == results(uninterrupted(overrides))["accuracy_matrix"]
    assert_same_model(job_dir, uninterrupted(overrides))
    run_id = RunFolder(job_dir).wandb_id.read_text().strip()  # the requeued job continues its wandb run
    first, second = (read_offline_run(path) for path in sorted((job_dir / "wandb").glob("offline-run-*")))
    assert first["id"] == second["id"] == run_id  # one wandb run, two attempts
    assert "final/average_accuracy" not in first["summary"]
    assert second["summary"]["final/average_accuracy"] == pytest.approx(results(job_dir)["final"]["average_accuracy"])
    assert min(row["_step"] for row in second["history"]) > max(row["_step"] for row in first["history"])


def test_a_finished_run_is_not_trained_again(uninterrupted, caplog):
    overrides = tuple(REGULARIZERS["none"])
    first = results(uninterrupted(overrides))
    with caplog.at_level(logging.INFO, logger="laftr_cl"):
        again = run_here([*FOUR_TASKS, *overrides], uninterrupted(overrides))
    assert again["accuracy_matrix"] == first["accuracy_matrix"] and again["complete"]
    assert "4 task(s) done" in caplog.text and "after 1 task(s)" not in caplog.text
