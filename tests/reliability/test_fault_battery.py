"""Faults, one table per kind: kills and resumes on other data, signals, a full disk, concurrent runs and
sweeps, edited results. Each case asserts the exit status, one paragraph (no traceback) and what the
run, sweep or report folder holds afterwards.

The in-process cases run the body of ``laftr-cl`` (:func:`laftr_cl.run.outcome.run_job`) or of
``laftr-cl-compare``; the cases marked slow start real processes.
"""
from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time

import pytest
import yaml

from helpers import REPO_ROOT, run_python, shared_dataset
from laftr_cl import cli
from laftr_cl.reporting import output
from laftr_cl.reporting.compare import main as compare_main
from laftr_cl.run import checkpoint as checkpointing
from laftr_cl.run.callbacks import FAILED_JOBS, LAUNCH_ENV, failed_jobs, note_failed_job
from laftr_cl.run.folder import RunFolder
from laftr_cl.run.interrupts import catch_sigterm
from laftr_cl.run.lock import RunLock
from laftr_cl.run.results import cl_metrics
from reliability.fault_runs import TWO_TASKS, cli_here, results, run_job_here, run_killed, stopped_run
from reliability.faults import armed

MNIST_TWO_TASKS = ["benchmark=split_mnist", "benchmark.num_experiences=5", "model.net.hidden_sizes=[16]",
                   "logger=csv", "device=cpu", "train.batch_size=256"]


# ------------------------------------------------------------------ kills and the data a run resumes on
@pytest.fixture
def killed_mnist_run(tmp_path):
    """A run on MNIST-5k killed (SIGKILL) right after its first task's checkpoint."""
    mnist = shared_dataset("mnist-5k")
    run_dir = tmp_path / "run"
    assert run_killed([*MNIST_TWO_TASKS, f"data.root={mnist}"], run_dir, "checkpoint_written:1") == -9
    return run_dir


def test_a_resume_on_other_data_is_refused_naming_both_fingerprints(killed_mnist_run, tmp_path, capsys):
    other = tmp_path / "fashion" / "MNIST"
    other.mkdir(parents=True)
    (other / "raw").symlink_to(shared_dataset("fashion-mnist") / "FashionMNIST" / "raw")  # MNIST's layout
    folder = RunFolder(killed_mnist_run)
    before = {path: path.read_bytes() for path in (folder.checkpoint, folder.record, folder.results)}
    code, err = stopped_run([*MNIST_TWO_TASKS, f"data.root={other.parent}"], killed_mnist_run, capsys)
    saved = results(killed_mnist_run)["benchmark"]["data_fingerprint"]
    assert code == 2 and "was trained on other data" in err
    assert f"labels {saved['labels']}, inputs {saved['inputs']}" in err  # the checkpoint's fingerprint …
    assert "train sizes [12000, 12000, 12000, 12000, 12000]" in err  # … and the other data's
    assert {path: path.read_bytes() for path in before} == before  # the interrupted run's files, untouched


def test_the_same_files_moved_to_another_folder_resume(killed_mnist_run, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(shared_dataset("mnist-5k"), moved)
    run_job_here([*MNIST_TWO_TASKS, f"data.root={moved}"], killed_mnist_run)
    record = results(killed_mnist_run)
    assert record["status"] == "completed" and len(record["accuracy_matrix"]) == 5


# ------------------------------------------------------------------ signals
@pytest.fixture
def sigterm_caught():
    previous = signal.getsignal(signal.SIGTERM)
    catch_sigterm()
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("signal_name, what, code", [("SIGINT", "Ctrl-C", 130), ("SIGTERM", "SIGTERM", 143)])
def test_a_signal_says_where_to_resume_and_results_say_interrupted(signal_name, what, code, tmp_path, capsys,
                                                                   sigterm_caught):
    with armed(f"checkpoint_written:1:{signal_name}"):
        got, err = stopped_run(TWO_TASKS, tmp_path, capsys)
    assert got == code
    assert err == (f"laftr-cl: interrupted ({what}); the last checkpoint, {tmp_path / 'checkpoint.pt'}, holds 1 "
                   f"task(s) done: run the same command with hydra.run.dir={tmp_path} to continue from there.\n")
    record = results(tmp_path)
    assert record["status"] == "interrupted" and record["error"]["exit_code"] == code
    assert len(record["accuracy_matrix"]) == 1  # the task it finished is kept
    run_job_here(TWO_TASKS, tmp_path)  # the command it names continues the run
    assert results(tmp_path)["status"] == "completed"


@pytest.mark.parametrize("signal_class, code", [(KeyboardInterrupt, 130), ("Terminated", 143)])
def test_an_interruption_while_starting_is_one_line(signal_class, code, tmp_path, monkeypatch, capsys, sigterm_caught):
    from laftr_cl.run import interrupts

    error = getattr(interrupts, signal_class) if isinstance(signal_class, str) else signal_class

    def interrupted(*args, **kwargs):
        raise error()

    monkeypatch.setattr("laftr_cl.config.preflight.preflight", interrupted)
    monkeypatch.setattr(sys, "argv", ["laftr-cl", *TWO_TASKS, f"hydra.run.dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    err = capsys.readouterr().err
    assert stopped.value.code == code and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("laftr-cl: interrupted (") and "while starting, before any training" in err
    assert not (tmp_path / "run").exists()


INTERRUPT_AT_IMPORT = """\
import os, signal, sys


class _SignalAtImport:
    def find_spec(self, name, path=None, target=None):
        if name == "hydra":  # the first heavy import of laftr-cl's start-up
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{signal_name})
        return None


sys.meta_path.insert(0, _SignalAtImport())
"""


@pytest.mark.slow
@pytest.mark.parametrize("signal_name, what, code", [("SIGINT", "Ctrl-C", 130), ("SIGTERM", "SIGTERM", 143)])
def test_an_interruption_while_the_command_imports_is_one_line(signal_name, what, code, tmp_path):
    """Ctrl-C in the first second (Python importing Hydra, before ``main`` runs): one line, no traceback."""
    (tmp_path / "sitecustomize.py").write_text(INTERRUPT_AT_IMPORT.format(signal_name=signal_name))
    done = run_python(["-m", "laftr_cl.cli", *TWO_TASKS, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path,
                      env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)])}, timeout=120)
    assert done.returncode == code, done.stderr
    assert done.stderr == (f"laftr-cl: interrupted ({what}) while starting, before any training: nothing was "
                           "trained; run the same command again to start the run.\n")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ a full disk
@pytest.mark.parametrize("full_at, kept", [
    (1, "no checkpoint had been written yet"),  # the first checkpoint: there is no previous one to keep
    (2, "the previous checkpoint is intact"),
])
def test_a_full_disk_says_what_was_kept(full_at, kept, tmp_path, capsys, monkeypatch):
    real_write, writes = checkpointing._write_file, []

    def full(path, data):
        writes.append(path)
        if len(writes) == full_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(checkpointing, "_write_file", full)
    code, err = stopped_run(TWO_TASKS, tmp_path, capsys)
    assert code == 4 and f"The disk holding the run folder {tmp_path} is full" in err and kept in err
    assert not list(tmp_path.glob("*.tmp"))
    assert RunFolder(tmp_path).checkpoint.is_file() == (full_at > 1)
    assert results(tmp_path)["status"] == "failed"


# ------------------------------------------------------------------ concurrent runs and sweeps
def _hold(folder, kind, ready):
    RunLock(folder, kind=kind).acquire()  # held while this process lives
    ready.set()
    time.sleep(600)


@pytest.fixture
def held_folder(tmp_path):
    """``(folder, start)``: ``start(kind)`` makes another live process hold ``folder``'s lock."""
    context = multiprocessing.get_context("fork")
    holders = []

    def start(kind):
        ready = context.Event()
        holder = context.Process(target=_hold, args=(tmp_path / "folder", kind, ready))
        holder.start()
        holders.append(holder)
        assert ready.wait(60)
        return holder

    yield tmp_path / "folder", start
    for holder in holders:
        holder.kill()
        holder.join()


@pytest.mark.slow
@pytest.mark.parametrize("kind, args", [
    ("run", ["regularizer=si"]),
    ("sweep", ["-m", "seed=0,1"]),
])
def test_a_second_run_or_sweep_in_a_live_folder_is_refused_before_hydra_writes(kind, args, held_folder, monkeypatch,
                                                                             capsys):
    folder, start = held_folder
    (folder / ".hydra").mkdir(parents=True)
    finished = "regularizer:\n  name: ewc\n"  # what the live (or finished) run's Hydra wrote
    (folder / ".hydra" / "config.yaml").write_text(finished)
    holder = start(kind)
    out = cli_here([*args, *TWO_TASKS, f"hydra.{kind}.dir={folder}"], monkeypatch, capsys)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith(f"laftr-cl: The {kind} folder {folder} is in use by another laftr-cl process "
                                 f"(pid {holder.pid} on host ")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert (folder / ".hydra" / "config.yaml").read_text() == finished  # not rewritten
    assert sorted(p.name for p in folder.iterdir()) == [".hydra", "laftr-cl.lock"]


def test_a_resume_with_another_config_is_refused_before_hydra_rewrites_the_folder(tmp_path, monkeypatch, capsys):
    assert cli_here([*TWO_TASKS, "regularizer=ewc", f"hydra.run.dir={tmp_path}"], monkeypatch, capsys).returncode == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "laftr-cl.lock"]
    before = {p: p.read_bytes() for p in files}
    out = cli_here([*TWO_TASKS, "regularizer=si", f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)
    code, err = out.returncode, out.stderr
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"laftr-cl: The checkpoint {tmp_path / 'checkpoint.pt'} belongs to a run with "
                          "another config — regularizer.name: checkpoint 'ewc', this run 'si'")
    assert {p: p.read_bytes() for p in files} == before  # .hydra/, cli.log, results.json: the ewc run's
    assert (tmp_path / "laftr-cl.lock").read_text() == ""  # released, nobody to take over from


def test_a_sweep_whose_job_folder_holds_another_config_is_refused_before_hydra_writes(tmp_path, monkeypatch, capsys):
    """The grid changed (its λs swapped places): job 0's folder holds job 1's finished run of before."""
    sweep = ["-m", *TWO_TASKS, "regularizer=ewc", f"hydra.sweep.dir={tmp_path}"]
    assert cli_here([*sweep, "regularizer.plugin.ewc_lambda=1,10"], monkeypatch, capsys).returncode == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "laftr-cl.lock"]
    before = {p: p.read_bytes() for p in files}
    out = cli_here([*sweep, "regularizer.plugin.ewc_lambda=10,1"], monkeypatch, capsys)
    code, err = out.returncode, out.stderr
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("laftr-cl: Job 0 of this sweep (") and "regularizer.plugin.ewc_lambda: " \
        "checkpoint 1, this run 10" in err and "hydra.sweep.dir" in err
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file() and p.name != "laftr-cl.lock") == sorted(files)
    assert {p: p.read_bytes() for p in files} == before  # .hydra/ of both jobs, multirun.yaml: as they were


def test_failure_notes_belong_to_their_own_launch(tmp_path, monkeypatch):
    for launch, job in (("first", 0), ("second", 1), ("first", 2)):
        monkeypatch.setenv(LAUNCH_ENV, launch)
        note_failed_job(tmp_path, {"job": job, "overrides": [], "folder": "", "exit_code": 3, "error": "x"})
    assert [note["job"] for note in failed_jobs(tmp_path, "second")] == [1]
    assert [note["job"] for note in failed_jobs(tmp_path, "first")] == [0, 2]
    assert len((tmp_path / FAILED_JOBS).read_text().splitlines()) == 3


def test_a_sweep_launched_again_reports_only_its_own_failures(tmp_path, monkeypatch, capsys):
    """A stale note of another launch in the sweep folder is not this sweep's failure."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / FAILED_JOBS).write_text(json.dumps({"job": 7, "overrides": ["seed=7"], "folder": "", "exit_code": 3,
                                                    "error": "an old failure", "launch": "another"}) + "\n")
    out = cli_here(["-m", *TWO_TASKS, "seed=0,1", f"hydra.sweep.dir={tmp_path}"], monkeypatch, capsys)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "job(s) of the sweep" not in out.stderr and "Traceback" not in out.stderr
    assert all(json.loads(p.read_text())["status"] == "completed" for p in tmp_path.glob("*/results.json"))


# ------------------------------------------------------------------ edited or foreign results
def _result(folder, seed, accuracy):
    matrix = [[1.0, 0.5], [accuracy, accuracy]]
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "config": {"benchmark": {"name": "split_mnist"}, "regularizer": {"name": "ewc"}, "seed": seed},
        "accuracy_matrix": matrix, "final": cl_metrics(matrix), "average_accuracy_per_task": [1.0, accuracy],
        "summary_memory_bytes": None, "wall_time_s": 1.0, "complete": True, "status": "completed"}))


def _edited(path, change):
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


EDITS = [  # id, what is done to one of three results.json, the reason printed under the table
    ("invalid-json", lambda p: p.write_text('{"config": '), r"not valid JSON \(line 1"),
    ("no-final", lambda p: _edited(p, lambda d: d.pop("final")), r"final: Field required"),
    ("no-config", lambda p: _edited(p, lambda d: d.pop("config")), r"config: Field required"),
    ("string-accuracy", lambda p: _edited(p, lambda d: d["accuracy_matrix"][1].__setitem__(0, "0.7")),
     r"accuracy_matrix\.1\.0: Input should be a valid number \(got \"0\.7\"\)"),
    ("final-edited-by-hand", lambda p: _edited(p, lambda d: d["final"].__setitem__("average_accuracy", 1.5)),
     r"final\.average_accuracy=1\.5 disagrees with its accuracy_matrix"),
    ("influence-study-file", lambda p: p.write_text(json.dumps({"config": {}, "loss_changes": {}})),
     r"a results\.json of the influence studies"),
]


@pytest.mark.parametrize("edit, reason", [case[1:] for case in EDITS], ids=[case[0] for case in EDITS])
def test_an_edited_or_foreign_results_file_is_left_out_with_its_reason(edit, reason, tmp_path, capsys):
    import re

    for seed, accuracy in ((0, 0.8), (1, 0.9), (2, 0.7)):
        _result(tmp_path / f"job{seed}", seed, accuracy)
    edit(tmp_path / "job2" / "results.json")
    compare_main([str(tmp_path), "--no-plots"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.err == ""
    assert "| split_mnist | MNIST | ewc | 2 | 85.00 ± 7.07 | 80.00 |" in captured.out  # the two good runs only
    left_out = [line for line in captured.out.splitlines() if line.startswith("left out:")]
    assert len(left_out) == 1 and left_out[0].startswith(f"left out: {tmp_path / 'job2' / 'results.json'} — ")
    assert re.search(reason, left_out[0]), left_out[0]
    assert (tmp_path / "comparison.md").read_text() == captured.out


def test_a_folder_of_only_foreign_files_is_one_paragraph(tmp_path, capsys):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "results.json").write_text(json.dumps({"config": {}, "curves": {}}))
    with pytest.raises(SystemExit) as stopped:
        compare_main([str(tmp_path)])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1
    assert "no complete laftr-cl run under" in err and "a results.json of the influence studies" in err


def test_out_at_an_existing_file_is_refused(tmp_path, capsys):
    _result(tmp_path / "job0", 0, 0.8)
    (tmp_path / "report.md").write_text("mine")
    with pytest.raises(SystemExit) as stopped:
        compare_main([str(tmp_path), "--out", str(tmp_path / "report.md")])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err
    assert (tmp_path / "report.md").read_text() == "mine"


def test_out_on_a_full_disk_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    _result(tmp_path / "job0", 0, 0.8)
    real = output.write_atomically

    def full(path, data, **kwargs):
        def half(tmp, data):
            tmp.write_bytes(bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

        real(path, data, write=half)

    monkeypatch.setattr(output, "write_atomically", full)
    report = tmp_path / "report"
    with pytest.raises(SystemExit) as stopped:
        compare_main([str(tmp_path), "--out", str(report)])
    err = capsys.readouterr().err
    assert stopped.value.code == 4 and err.count("\n") == 1 and "Traceback" not in err
    assert f"The report cannot be written into {report} (No space left on device)" in err
    assert list(report.iterdir()) == []  # no table, no 0-byte PNG, no temporary file


# ------------------------------------------------------------------ searches that complete no trial
@pytest.mark.parametrize("trials, why", [
    (["optimizer.lr=choice(1e30)", "hydra.sweeper.n_trials=2"], "all 2 trial(s) failed"),
    (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 asks for no trial"),
])
def test_an_optuna_search_without_a_completed_trial_ends_with_its_yaml(trials, why, tmp_path, monkeypatch, capsys):
    out = cli_here(["-m", "hparams_search=optuna", *TWO_TASKS, *trials, f"hydra.sweep.dir={tmp_path}"], monkeypatch,
                   capsys)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "No trials are completed yet" not in out.stderr
    line = next(x for x in out.stderr.splitlines() if "has no completed trial" in x)
    assert why in line
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert best["best_params"] is None and best["completed_trials"] == 0
