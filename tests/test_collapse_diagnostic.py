"""scripts/collapse_diagnostic.py runs on the current plugin and prints a row per epoch of every later task."""
from __future__ import annotations

import pytest

from helpers import REPO_ROOT, run_python


@pytest.mark.slow
def test_the_collapse_diagnostic_prints_a_row_per_later_epoch():
    result = run_python([str(REPO_ROOT / "scripts" / "collapse_diagnostic.py"), "experiment=paper_split_mnist",
                         "debug=fast", "benchmark.num_experiences=2", "train.epochs=2", "model.net.hidden_sizes=[16]"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line.split() for line in lines if line.split()[:2] == ["task", "epoch"])
    rows = [line.split() for line in lines if line.split() and line.split()[0] == "1"]
    assert [(r[0], r[1]) for r in rows] == [("1", "0"), ("1", "1")]
    assert all(len(r) == len(header) for r in rows)
    dead, live = header.index("dW_dead"), header.index("dW_live")
    assert all(float(r[dead]) >= 0 and float(r[live]) > 0 for r in rows)  # task 0's head moved from θ_0
    assert any(line.startswith("final accuracy per task: ") and len(line.split()) == 4 + 2 + 2 for line in lines)
