"""scripts/fsd_under_training.py prints, per epoch of task 1, the regularizer's estimate of FSD_0 beside the truth."""
from __future__ import annotations

import pytest

from helpers import REPO_ROOT, run_python

SCRIPT = str(REPO_ROOT / "scripts" / "fsd_under_training.py")


@pytest.mark.slow
def test_a_coreset_of_the_whole_task_estimates_exactly_the_true_fsd():
    # debug=fast: 16 synthetic training examples per class; 2 tasks of 5 classes, so task 0 holds 80, all
    # of them stored: the coreset's estimate is the true FSD on task 0's training data, row by row.
    result = run_python([SCRIPT, "debug=fast", "benchmark.num_experiences=2", "train.epochs=2",
                         "regularizer=coreset_fsd", "regularizer.plugin.coreset_size=80",
                         "regularizer.plugin.fsd_lambda=1"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line.split() for line in lines if line.split()[:2] == ["task", "epoch"])
    rows = [dict(zip(header, line.split())) for line in lines if line.split()[:1] == ["1"]]
    assert [(r["task"], r["epoch"]) for r in rows] == [("1", "0"), ("1", "1")]
    for row in rows:
        assert 0.0 <= float(row["acc"]) <= 1.0
        assert float(row["true"]) > 0  # θ moved from θ_0 while learning task 1
        assert float(row["estimate"]) == pytest.approx(float(row["true"]), rel=1e-3)


@pytest.mark.slow
def test_a_regularizer_that_is_not_an_fsd_method_is_refused():
    result = run_python([SCRIPT, "debug=fast", "regularizer=ewc"])
    assert result.returncode != 0
    assert "regularizer=ewc is not an FSD method" in result.stderr
