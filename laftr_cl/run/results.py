"""The accuracy matrix, the continual-learning metrics derived from it, and ``results.json``."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from laftr_cl.run.atomic import RunFolderUnwritable, write_json_atomic

EXP_ACCURACY = re.compile(r"^Top1_Acc_Exp/eval_phase/test_stream/Task\d+/Exp(\d+)$")


def accuracy_row(eval_metrics: Mapping[str, Any], num_experiences: int) -> list[float]:
    """Per-experience test accuracy (fraction in [0, 1]) from Avalanche's ``eval`` metrics."""
    row: list[float | None] = [None] * num_experiences
    for name, value in eval_metrics.items():
        match = EXP_ACCURACY.match(name)
        if match:
            row[int(match.group(1))] = float(value)
    missing = [j for j, acc in enumerate(row) if acc is None]
    if missing:
        raise RuntimeError(
            f"The evaluation returned no accuracy for experiences {missing}: the evaluation "
            "plugin must include accuracy_metrics(experience=True).")
    return row  # type: ignore[return-value]


def cl_metrics(matrix: Sequence[Sequence[float]]) -> dict[str, float | None]:
    """Average accuracy, backward transfer and forgetting from an accuracy matrix.

    ``matrix[i][j]`` is the accuracy on experience ``j`` after training experience ``i``
    (``T`` rows for sequential training, one row for joint training).

    - average_accuracy: mean over all experiences of the last row.
    - backward_transfer (Lopez-Paz & Ranzato, 2017): mean over ``j < T−1`` of
      ``R[T−1][j] − R[j][j]`` (negative when old tasks are forgotten).
    - forgetting (Chaudhry et al., 2018): mean over ``j < T−1`` of
      ``max_{j ≤ l < T−1} R[l][j] − R[T−1][j]``.
    BWT and forgetting are None with fewer than two rows.
    """
    last = matrix[-1]
    out: dict[str, float | None] = {"average_accuracy": sum(last) / len(last)}
    rows = len(matrix)
    if rows < 2:
        out.update(backward_transfer=None, forgetting=None)
        return out
    old = range(rows - 1)
    out["backward_transfer"] = sum(last[j] - matrix[j][j] for j in old) / len(old)
    out["forgetting"] = sum(
        max(matrix[k][j] for k in range(j, rows - 1)) - last[j] for j in old) / len(old)
    return out


def record_failure(path: Path, config: Mapping[str, Any], error: BaseException, message: str, *,
                   exit_code: int, refused: bool) -> bool:
    """Marks the run of ``results.json`` at ``path`` as failed: ``status: failed`` and ``error``
    (``type``, ``message``, ``exit_code``), keeping the rows recorded so far.

    A run ``refused`` before it started (a bad setting, a checkpoint of another run, a busy
    folder) writes a record only where none exists: the folder's record belongs to another run.
    Returns whether it wrote (never raises: a full disk may be why the run failed).
    """
    path = Path(path)
    if path.is_file() and refused:
        return False
    try:
        payload = json.loads(path.read_text()) if path.is_file() else {
            "config": dict(config), "accuracy_matrix": [], "average_accuracy_per_task": [], "final": {},
            "complete": False}
        payload.update(status="failed", complete=False,
                       error={"type": type(error).__name__, "message": message, "exit_code": exit_code})
        write_json_atomic(path, payload)
    except (OSError, ValueError, RunFolderUnwritable):
        return False
    return True


class ResultsRecorder:
    """Keeps the accuracy matrix of a run and rewrites ``results.json`` after every task.

    ``results.json`` holds: ``config`` (the resolved run config), ``benchmark`` facts,
    ``accuracy_matrix`` (rows so far), ``average_accuracy_per_task`` (mean accuracy over the
    experiences seen so far, after each task), ``final`` (the :func:`cl_metrics` of the rows so
    far), ``summary_memory_bytes`` (the regularizer's stored state, when it keeps one),
    ``wall_time_s``, ``device``, ``complete`` (false until the last task is recorded) and ``status``:
    ``running`` (or interrupted) until then, ``completed``, or ``failed`` with an ``error``
    (``type``, ``message``, ``exit_code``; see :func:`record_failure`).
    """

    def __init__(self, path: Path, config: Mapping[str, Any], *, num_experiences: int,
                 expected_rows: int, device: str, benchmark_info: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.config = dict(config)
        self.num_experiences = num_experiences
        self.expected_rows = expected_rows
        self.device = device
        self.benchmark_info = dict(benchmark_info)
        self.matrix: list[list[float]] = []
        self.seen_average: list[float] = []
        self.memory: dict[str, int] | None = None
        self.start = time.perf_counter()

    def record(self, eval_metrics: Mapping[str, Any], seen: int,
               memory: dict[str, int] | None = None) -> dict[str, Any]:
        """Adds the row after a task whose training covered experiences ``0 … seen−1``."""
        row = accuracy_row(eval_metrics, self.num_experiences)
        self.matrix.append(row)
        self.seen_average.append(sum(row[:seen]) / seen)
        self.memory = memory
        payload = self.payload()
        write_json_atomic(self.path, payload)
        return payload

    def payload(self) -> dict[str, Any]:
        final = cl_metrics(self.matrix)
        if len(self.matrix) < self.expected_rows:
            final["average_accuracy"] = self.seen_average[-1]
        return {
            "config": self.config,
            "benchmark": self.benchmark_info,
            "accuracy_matrix": self.matrix,
            "average_accuracy_per_task": self.seen_average,
            "final": final,
            "summary_memory_bytes": self.memory,
            "wall_time_s": time.perf_counter() - self.start,
            "device": self.device,
            "complete": len(self.matrix) == self.expected_rows,
            "status": "completed" if len(self.matrix) == self.expected_rows else "running",
        }
