"""Sweeps lose nothing: a diverging job fails alone on every launcher and in an Optuna search; one
live process per run folder; a requeued job continues its wandb run. Real ``laftr-cl`` processes."""
from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest
import yaml

from laftr_cl.loggers.wandb_offline import read_offline_run
from laftr_cl.run.folder import RunFolder
from laftr_cl.run.lock import RunLock
from reliability.fault_runs import FOUR_TASKS, results, run_cli

TWO_TASKS = [*FOUR_TASKS, "benchmark.num_experiences=2"]
DIVERGES = "1e+30"  # optimizer.lr: the cross-entropy is NaN at the second step


def _jobs(sweep_dir):
    return {json.loads(p.read_text())["config"]["optimizer"]["lr"]: json.loads(p.read_text())
            for p in sweep_dir.glob("*/results.json")}


@pytest.mark.parametrize("launcher", ["basic", "local_parallel", "submitit_local_jobs"])
@pytest.mark.slow
def test_a_diverging_job_fails_alone_and_the_sweep_runs_the_others(launcher, tmp_path):
    args = ["-m", *TWO_TASKS, "optimizer.lr=1e30,0.001", f"hydra.sweep.dir={tmp_path}"]
    out = run_cli(args + ([] if launcher == "basic" else [f"hydra/launcher={launcher}"]))
    assert out.returncode == 1, out.stderr[-3000:]  # the sweep ran every job, then says one failed
    jobs = _jobs(tmp_path)
    assert jobs[0.001]["status"] == "completed" and jobs[0.001]["complete"]
    assert jobs[1e30]["status"] == "failed" and jobs[1e30]["error"]["exit_code"] == 3
    assert "The training loss is not finite" in jobs[1e30]["error"]["message"]
    summary = out.stderr[out.stderr.index("laftr-cl: 1 job(s) of the sweep"):]
    assert f"optimizer.lr={DIVERGES}): exit status 3 — The training loss is not finite" in summary  # its own error
    assert "UncompletedJobError" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_an_optuna_trial_that_diverges_is_failed_and_the_search_writes_its_results(tmp_path):
    out = run_cli(["-m", "hparams_search=optuna", *TWO_TASKS, "optimizer.lr=choice(1e30,0.001)",
                   "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path}"])
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert "Failed experiment: job 2 failed (exit status 3): The training loss is not finite" in log
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert best["best_params"] == {"optimizer.lr": 0.001}
    assert {lr: job["status"] for lr, job in _jobs(tmp_path).items()} == {1e30: "failed", 0.001: "completed"}


def _hold_the_lock(folder, ready):
    lock = RunLock(folder).acquire()  # held while this process lives
    ready.set()
    time.sleep(600)
    lock.release()


@pytest.mark.slow
def test_a_second_live_process_on_a_run_folder_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    ready = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_the_lock, args=(tmp_path, ready))
    holder.start()
    try:
        assert ready.wait(60)
        out = run_cli([*TWO_TASKS, f"hydra.run.dir={tmp_path}"])
        assert out.returncode == 2
        assert out.stderr.startswith(f"laftr-cl: The run folder {tmp_path} is in use by another laftr-cl process "
                                     f"(pid {holder.pid} on host {os.uname().nodename}, started ")
        assert sorted(p.name for p in tmp_path.iterdir()) == [RunFolder.LOCK]  # nothing of the refused run
    finally:
        holder.kill()
        holder.join()
    out = run_cli([*TWO_TASKS, f"hydra.run.dir={tmp_path}"])  # its holder is gone: the lock is taken over
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"taking over the lock of pid {holder.pid}" in (tmp_path / "cli.log").read_text()
    assert results(tmp_path)["status"] == "completed"


@pytest.mark.slow
def test_a_requeued_submitit_job_continues_its_wandb_run(tmp_path):
    out = run_cli(["-m", "hydra/launcher=submitit_local_jobs", f"hydra.sweep.dir={tmp_path}", *TWO_TASKS,
                   "logger=[csv,wandb]"], kill_at="checkpoint_written:1:SIGUSR2")
    assert out.returncode == 0, out.stderr[-3000:]
    (job,) = [p.parent for p in tmp_path.glob("*/results.json")]
    assert "resuming from" in (job / "cli.log").read_text()
    run_id = RunFolder(job).wandb_id.read_text().strip()
    first, second = (read_offline_run(path) for path in sorted((job / "wandb").glob("offline-run-*")))
    assert first["id"] == second["id"] == run_id  # one wandb run, two attempts
    assert "final/average_accuracy" not in first["summary"]
    assert second["summary"]["final/average_accuracy"] == pytest.approx(results(job)["final"]["average_accuracy"])
    assert min(row["_step"] for row in second["history"]) > max(row["_step"] for row in first["history"])
