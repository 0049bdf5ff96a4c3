"""A ``batchnorm=per_task`` run killed between tasks resumes to the uninterrupted result: the kept
statistics travel in the checkpoint (an empty store would evaluate old tasks with live statistics)."""
from __future__ import annotations

from fault_runs import assert_same_model, checkpoint, results, run_here, run_killed

PER_TASK = ["debug=fast", "benchmark=split_mnist", "benchmark.num_experiences=5", "model=bn_cnn",
            "model.net.channels=[2,3]", "model.net.hidden=8", "batchnorm=per_task", "regularizer=laftr",
            "regularizer.plugin.inputs=diag", "regularizer.plugin.num_samples=4"]


def test_per_task_statistics_survive_a_kill_after_task_2(tmp_path):
    reference_dir = tmp_path / "uninterrupted"
    reference = run_here(PER_TASK, reference_dir)
    killed_dir = tmp_path / "killed"
    assert run_killed(PER_TASK, killed_dir, "checkpoint_written:2") == -9
    assert sorted(checkpoint(killed_dir)["state"]["plugins"]["batchnorm_per_task"]["statistics"]) == [0, 1]
    resumed = run_here([*PER_TASK, "resume=true"], killed_dir)
    assert resumed["accuracy_matrix"] == reference["accuracy_matrix"]
    assert resumed["summary_memory_bytes"] == reference["summary_memory_bytes"]
    assert_same_model(killed_dir, reference_dir)
    assert results(killed_dir)["complete"]
