import json

import pytest

from laftr_cl.run.results import ResultsRecorder, accuracy_row, cl_metrics, record_failure


def _metrics(row):
    return {f"Top1_Acc_Exp/eval_phase/test_stream/Task00{j}/Exp00{j}": acc for j, acc in enumerate(row)}


def test_cl_metrics_on_a_hand_computed_matrix():
    matrix = [
        [0.9, 0.1, 0.2],
        [0.7, 0.8, 0.1],
        [0.6, 0.5, 0.9],
    ]
    out = cl_metrics(matrix)
    assert out["average_accuracy"] == pytest.approx((0.6 + 0.5 + 0.9) / 3)
    # BWT: ((0.6 - 0.9) + (0.5 - 0.8)) / 2
    assert out["backward_transfer"] == pytest.approx(-0.3)
    # forgetting: task 0: max(0.9, 0.7) - 0.6 = 0.3; task 1: 0.8 - 0.5 = 0.3
    assert out["forgetting"] == pytest.approx(0.3)


def test_single_row_has_no_transfer_metrics():
    out = cl_metrics([[0.5, 0.7]])
    assert out == {"average_accuracy": pytest.approx(0.6), "backward_transfer": None, "forgetting": None}


def test_accuracy_row_reads_avalanche_names_and_rejects_gaps():
    assert accuracy_row(_metrics([0.25, 0.5]), 2) == [0.25, 0.5]
    with pytest.raises(RuntimeError, match=r"experiences \[1\]"):
        accuracy_row(_metrics([0.25]), 2)


def test_recorder_rewrites_results_after_each_task(tmp_path):
    path = tmp_path / "results.json"
    rec = ResultsRecorder(path, {"seed": 3}, num_experiences=2, expected_rows=2, device="cpu",
                          benchmark_info={"name": "x"})
    rec.record(_metrics([0.8, 0.1]), seen=1)
    first = json.loads(path.read_text())
    assert first["complete"] is False
    assert first["accuracy_matrix"] == [[0.8, 0.1]]
    assert first["final"]["average_accuracy"] == pytest.approx(0.8)  # over seen tasks only
    rec.record(_metrics([0.6, 0.9]), seen=2, memory={"snapshot": 8, "total": 8})
    done = json.loads(path.read_text())
    assert done["complete"] is True
    assert done["average_accuracy_per_task"] == pytest.approx([0.8, 0.75])
    assert done["final"]["backward_transfer"] == pytest.approx(-0.2)
    assert done["summary_memory_bytes"] == {"snapshot": 8, "total": 8}
    assert not (tmp_path / "results.json.tmp").exists()


def test_a_failure_is_recorded_without_overwriting_another_runs_record(tmp_path):
    path = tmp_path / "results.json"
    rec = ResultsRecorder(path, {"seed": 3}, num_experiences=2, expected_rows=2, device="cpu",
                          benchmark_info={"name": "x"})
    rec.record(_metrics([0.8, 0.1]), seen=1)
    assert json.loads(path.read_text())["status"] == "running"
    before = path.read_text()
    assert not record_failure(path, {"seed": 4}, ValueError("bad"), "bad setting", exit_code=2, refused=True)
    assert path.read_text() == before  # a refused run leaves the folder's record alone
    assert record_failure(path, {"seed": 3}, RuntimeError("nan"), "the loss is NaN", exit_code=3, refused=False)
    failed = json.loads(path.read_text())
    assert failed["status"] == "failed" and failed["accuracy_matrix"] == [[0.8, 0.1]]  # the rows so far stay
    assert failed["error"] == {"type": "RuntimeError", "message": "the loss is NaN", "exit_code": 3}
    fresh = tmp_path / "new" / "results.json"
    fresh.parent.mkdir()
    assert record_failure(fresh, {"seed": 4}, ValueError("bad"), "bad setting", exit_code=2, refused=True)
    assert json.loads(fresh.read_text())["config"] == {"seed": 4} and not (tmp_path / "new" / "results.json.tmp").exists()
