"""A run that fails says so once and keeps the record: divergence, Ctrl-C, a full disk, a refused resume.

In-process through :func:`laftr_cl.run.outcome.run_job` (the body of the ``laftr-cl`` command);
the read-only folder case is a real ``laftr-cl`` process.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import REPO_ROOT
from laftr_cl.run import checkpoint as checkpointing
from laftr_cl.run.folder import RunFolder
from reliability.fault_runs import ONE_THREAD_ENV, TWO_TASKS, checkpoint, results, run_here, run_job_here, stopped_run
from reliability.faults import armed


def test_a_diverging_run_exits_3_and_its_results_say_failed(tmp_path, capsys):
    code, err = stopped_run([*TWO_TASKS, "optimizer.lr=1e30"], tmp_path, capsys)
    assert code == 3 and err.startswith("laftr-cl: The training loss is not finite") and "Traceback" not in err
    record = results(tmp_path)
    assert record["status"] == "failed" and record["complete"] is False
    assert record["error"]["type"] == "NonFiniteLossError" and record["error"]["exit_code"] == 3
    assert record["config"]["optimizer"]["lr"] == 1e30


def test_ctrl_c_says_the_last_checkpoint_and_how_to_resume_in_one_line(tmp_path, capsys, caplog):
    with armed("checkpoint_written:1:SIGINT"):
        code, err = stopped_run(TWO_TASKS, tmp_path, capsys)
    assert code == 130
    assert err == (f"laftr-cl: interrupted (Ctrl-C); the last checkpoint, {tmp_path / 'checkpoint.pt'}, holds 1 "
                   f"task(s) done: run the same command with hydra.run.dir={tmp_path} to continue from there.\n")
    with caplog.at_level("INFO", logger="laftr_cl"):
        assert run_job_here(TWO_TASKS, tmp_path) is not None
    assert results(tmp_path)["status"] == "completed"
    assert "logs in csv/ moved to csv.part1/" in caplog.text  # the CSV continuation is said


def test_a_full_disk_names_the_folder_and_bytes_and_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    real_write, calls = checkpointing._write_file, []

    def fill_the_disk(path, data):
        calls.append(path)
        if path.name == "checkpoint.pt.tmp" and len([p for p in calls if p.name == path.name]) == 2:
            with open(path, "wb") as handle:  # half the bytes land, then the disk is full
                handle.write(bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(checkpointing, "_write_file", fill_the_disk)
    code, err = stopped_run(TWO_TASKS, tmp_path, capsys)
    assert code == 4 and "Traceback" not in err
    assert f"The disk holding the run folder {tmp_path} is full" in err and "needs " in err and " bytes" in err
    assert "enforce fail" not in err
    assert not list(tmp_path.glob("*.tmp"))  # nothing half-written left behind
    assert checkpoint(tmp_path)["progress"] == {"tasks_done": 1, "epochs_done": 0}  # the previous one, intact
    assert results(tmp_path)["status"] == "failed" and len(results(tmp_path)["accuracy_matrix"]) == 2


def test_a_full_disk_under_a_logger_is_the_same_paragraph(tmp_path, capsys, monkeypatch):
    log_file = tmp_path / "csv" / "eval_results.csv"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(log_file))

    monkeypatch.setattr("laftr_cl.run.results.accuracy_row", full)  # stands in for any logger's write
    code, err = stopped_run(TWO_TASKS, tmp_path, capsys)
    assert code == 4 and err.startswith(f"laftr-cl: The disk holding the run folder {log_file.parent} is full")
    assert "Traceback" not in err


def test_a_refused_resume_keeps_the_record_it_points_to(tmp_path, capsys):
    run_job_here([*TWO_TASKS, "regularizer=ewc"], tmp_path)
    record = RunFolder(tmp_path).record.read_text()
    before = (tmp_path / "results.json").read_text()
    assert yaml.safe_load(record)["overrides"] == [*TWO_TASKS, "regularizer=ewc"]
    code, err = stopped_run([*TWO_TASKS, "regularizer=ewc", "regularizer.plugin.ewc_lambda=7"], tmp_path, capsys)
    assert code == 2 and "belongs to a run with another config" in err
    assert f"{RunFolder(tmp_path).record} keeps its command-line overrides" in err
    assert RunFolder(tmp_path).record.read_text() == record  # the record it points to is unchanged
    assert (tmp_path / "results.json").read_text() == before  # and the run's results too


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _root_without_permission_override():
    """Drops root's right to ignore file permissions from the child (prctl PR_CAPBSET_DROP), so a
    read-only folder is read-only to it, as it is to any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.slow
def test_a_read_only_run_folder_gets_one_paragraph_not_hydras_handler_error(tmp_path):
    # root writes through chmod: its child runs without the capability that allows it
    folder = tmp_path / "run"
    folder.mkdir()
    os.chmod(folder, 0o555)
    env = {**os.environ, **ONE_THREAD_ENV, "HYDRA_FULL_ERROR": "0"}
    out = subprocess.run([sys.executable, "-m", "laftr_cl.cli", *TWO_TASKS, f"hydra.run.dir={folder}"], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=300,
                         preexec_fn=_root_without_permission_override if os.geteuid() == 0 else None)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith(f"laftr-cl: laftr-cl cannot write into the run folder {folder} (Permission denied)")
    assert "Unable to configure handler" not in out.stderr and "Traceback" not in out.stderr
    assert list(folder.iterdir()) == []


def test_the_results_of_a_finished_run_say_completed(tmp_path):
    payload = run_here(TWO_TASKS, tmp_path)
    assert payload["status"] == "completed" and json.loads((tmp_path / "results.json").read_text())["complete"]
