"""Fault-test helpers: tiny 4-task runs, in this process and as real ``laftr-cl`` processes.

Every run uses one intra-op thread (here and in the subprocesses), so that a run resumed in
another process computes exactly what an uninterrupted one does.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from helpers import REPO_ROOT, compose_run_config
from helpers import run_cli as helpers_run_cli
from laftr_cl.run.experiment import run_experiment
from laftr_cl.run.folder import RunFolder
from reliability.faults import armed, sitecustomize_dir

FOUR_TASKS = ["debug=fast", "benchmark=permuted_mnist", "benchmark.num_experiences=4",
              "model.net.hidden_sizes=[16]"]
"""Permuted MNIST on synthetic data: 4 tasks of 160 training and 80 test examples."""
TWO_TASKS = [*FOUR_TASKS, "benchmark.num_experiences=2"]

REGULARIZERS = {
    "none": ["regularizer=none"],
    "ewc": ["regularizer=ewc"],
    "laftr": ["regularizer=laftr", "regularizer.plugin.num_samples=8", "regularizer.plugin.inputs=diag"],
    "si": ["regularizer=si"],
    "replay": ["regularizer=replay", "regularizer.plugin.mem_size=40"],
}
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_here(overrides: list[str], run_dir: Path) -> dict[str, Any]:
    """One run in this process with ``run_dir`` as Hydra's output folder; its results payload."""
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_experiment(compose_run_config(overrides, run_dir), run_dir)


def run_job_here(overrides: list[str], run_dir: Path) -> float | None:
    """One run in this process as ``laftr-cl`` runs a job (:func:`laftr_cl.run.outcome.run_job`: its
    failures become one paragraph and ``SystemExit``)."""
    from laftr_cl.run.outcome import run_job

    run_dir.mkdir(parents=True, exist_ok=True)
    return run_job(compose_run_config(overrides, run_dir), run_dir)


def stopped_run(overrides: list[str], run_dir: Path, capsys) -> tuple[int, str]:
    """:func:`run_job_here` for a run that must stop: its exit status and what it printed, asserted to
    be one ``laftr-cl:`` line and no traceback."""
    import pytest

    with pytest.raises(SystemExit) as stopped:
        run_job_here(overrides, run_dir)
    err = capsys.readouterr().err
    assert err.startswith("laftr-cl: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return stopped.value.code, err


def run_killed(overrides: list[str], run_dir: Path, kill_at: str) -> int | None:
    """:func:`run_here` in a forked process (no import cost) with the fault hook set to ``kill_at``;
    returns the process's exit code (−9: killed by SIGKILL)."""
    def child() -> None:
        with armed(kill_at):
            run_here(overrides, run_dir)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=600)
    return process.exitcode


def run_cli(args: list[str], *, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """``laftr-cl ARGS`` (:func:`helpers.run_cli`); ``kill_at`` arms the fault hook in it and in the jobs it
    starts (:func:`reliability.faults.sitecustomize_dir`)."""
    env = {**ONE_THREAD_ENV, "HYDRA_FULL_ERROR": "0", "WANDB_SILENT": "true"}
    if not kill_at:
        return helpers_run_cli(args, env=env, timeout=600)
    with sitecustomize_dir(kill_at) as hook:
        paths = (str(hook), str(REPO_ROOT), os.environ.get("PYTHONPATH"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        return helpers_run_cli(args, env=env, timeout=600)


def cli_here(args: list[str], monkeypatch, capsys) -> subprocess.CompletedProcess:
    """``laftr-cl ARGS`` in this process (:func:`laftr_cl.cli.main`: the checks, Hydra, its callbacks, the
    run or the sweep on Hydra's basic or Optuna sweeper, without a process's import cost), as
    :func:`run_cli` answers it. SIGTERM's handler and the sweep launch id are given back afterwards
    (``monkeypatch``), and so are the root logger's handlers (Hydra configures logging for the run)."""
    from laftr_cl import cli
    from laftr_cl.run.callbacks import LAUNCH_ENV

    monkeypatch.setattr(sys, "argv", ["laftr-cl", *args])
    monkeypatch.setenv(LAUNCH_ENV, "")
    capsys.readouterr()
    sigterm = signal.getsignal(signal.SIGTERM)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        cli.main()
        code = 0
    except SystemExit as ended:
        code = ended.code if isinstance(ended.code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        for handler in root.handlers[:]:  # Hydra's console handler writes into this test's captured stream
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())


def checkpoint(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / RunFolder.CHECKPOINT, weights_only=False)


def assert_same_model(run_a: Path, run_b: Path) -> None:
    """The final checkpoints of two runs hold bit-identical parameters and optimizer states."""
    a, b = checkpoint(run_a)["state"], checkpoint(run_b)["state"]
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
