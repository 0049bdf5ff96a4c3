"""Sweeps lose nothing: a diverging job fails alone on every launcher and in an Optuna search; one
live process per run folder (a submitit job requeued after pre-emption: ``test_resume.py``). Real ``laftr-cl``
processes, or its ``main`` in this process where no launcher starts one."""
from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest
import yaml

from laftr_cl.run.folder import RunFolder
from laftr_cl.run.lock import RunLock
from reliability.fault_runs import FOUR_TASKS, cli_here, results, run_cli

TWO_TASKS = [*FOUR_TASKS, "benchmark.num_experiences=2"]
DIVERGES = "1e+30"  # optimizer.lr: the cross-entropy is NaN at the second step


def _jobs(sweep_dir):
    return {json.loads(p.read_text())["config"]["optimizer"]["lr"]: json.loads(p.read_text())
            for p in sweep_dir.glob("*/results.json")}


@pytest.mark.parametrize("launcher", ["basic", "local_parallel", "submitit_local_jobs"])
@pytest.mark.slow
def test_a_diverging_job_fails_alone_and_the_sweep_runs_the_others(launcher, tmp_path, monkeypatch, capsys):
    args = ["-m", *TWO_TASKS, "optimizer.lr=1e30,0.001", f"hydra.sweep.dir={tmp_path}"]
    out = cli_here(args, monkeypatch, capsys) if launcher == "basic" else run_cli([*args, f"hydra/launcher={launcher}"])
    assert out.returncode == 1, out.stderr[-3000:]  # the sweep ran every job, then says one failed
    jobs = _jobs(tmp_path)
    assert jobs[0.001]["status"] == "completed" and jobs[0.001]["complete"]
    assert jobs[1e30]["status"] == "failed" and jobs[1e30]["error"]["exit_code"] == 3
    assert "The training loss is not finite" in jobs[1e30]["error"]["message"]
    summary = out.stderr[out.stderr.index("laftr-cl: 1 job(s) of the sweep"):]
    assert f"optimizer.lr={DIVERGES}): exit status 3 — The training loss is not finite" in summary  # its own error
    assert "UncompletedJobError" not in out.stderr and "Traceback" not in out.stderr


def test_an_optuna_trial_that_diverges_is_failed_and_the_search_writes_its_results(tmp_path, monkeypatch, capsys):
    out = cli_here(["-m", "hparams_search=optuna", *TWO_TASKS, "optimizer.lr=choice(1e30,0.001)",
                    "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path}"], monkeypatch, capsys)
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
def test_a_second_live_process_on_a_run_folder_is_refused_and_a_dead_ones_lock_taken_over(tmp_path, monkeypatch,
                                                                                         capsys):
    ready = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_the_lock, args=(tmp_path, ready))
    holder.start()
    try:
        assert ready.wait(60)
        out = cli_here([*TWO_TASKS, f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)
        assert out.returncode == 2
        assert out.stderr.startswith(f"laftr-cl: The run folder {tmp_path} is in use by another laftr-cl process "
                              f"(pid {holder.pid} on host {os.uname().nodename}, started ")
        assert sorted(p.name for p in tmp_path.iterdir()) == [RunFolder.LOCK]  # nothing of the refused run
    finally:
        holder.kill()
        holder.join()
    out = cli_here([*TWO_TASKS, f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)  # the lock is taken over
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"taking over the lock of pid {holder.pid}" in (tmp_path / "cli.log").read_text()
    assert results(tmp_path)["status"] == "completed"
