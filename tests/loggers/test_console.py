"""A plain run prints nothing but laftr-cl's own lines; the progress bar is one per task, on terminals only."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from helpers import REPO_ROOT, compose_run_config
from laftr_cl.loggers.console import _known
from laftr_cl.run.experiment import run_experiment


@pytest.mark.slow
def test_a_plain_run_prints_only_laftr_cl_lines(tmp_path):
    args = ["debug=fast", "logger=default", "benchmark.num_experiences=2", "regularizer=replay",
            "model.net.hidden_sizes=[16]", f"paths.log_dir={tmp_path}"]
    out = subprocess.run([sys.executable, "-m", "laftr_cl.cli", *args], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    assert len(lines) == 2 and all("][laftr_cl.run.experiment][INFO] - after " in line for line in lines), lines
    assert all("average accuracy on seen tasks" in line for line in lines)
    (log,) = tmp_path.rglob("log.txt")  # Avalanche's metrics are still recorded, in the run folder
    assert "Top1_Acc_Stream" in log.read_text()


def test_only_the_known_warnings_are_dropped():
    assert _known("no QP solver found on your system", UserWarning, "/x/qpsolvers/solvers/__init__.py")
    assert not _known("no QP solver found on your system", UserWarning, "/x/laftr_cl/fsd/api.py")
    assert not _known("something else", UserWarning, "/x/qpsolvers/solvers/__init__.py")
    assert _known("Call to deprecated function update (removal in version 0.7)", DeprecationWarning,
                  "/x/avalanche/training/plugins/replay.py")
    assert not _known("Call to deprecated function update", UserWarning, "/x/avalanche/training/plugins/replay.py")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_one_progress_bar_per_task_on_a_terminal_and_none_elsewhere(tmp_path, monkeypatch):
    from laftr_cl.loggers import avalanche as loggers

    streams = {"terminal": _Terminal(), "file": io.StringIO()}
    for kind, stream in streams.items():
        monkeypatch.setattr(loggers.sys, "stderr", stream)
        out = tmp_path / kind
        out.mkdir()
        cfg = compose_run_config(["debug=fast", "logger=interactive", "benchmark.num_experiences=2", "train.epochs=2",
                                  "model.net.hidden_sizes=[16]"], out)
        run_experiment(cfg, out)
    shown = streams["terminal"].getvalue()
    assert shown.count("task 1:") >= 1 and shown.count("task 2:") >= 1 and "task 3" not in shown
    assert "10/10" in shown  # 2 epochs × 5 steps of 16 in one bar
    assert streams["file"].getvalue() == ""
