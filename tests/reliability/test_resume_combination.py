"""A combination of regularizers — and a strategy that owns the loop — resumes exactly after a SIGKILL:
every part's state (summaries, buffers, DER's logits) travels in the checkpoint under its name."""
from __future__ import annotations

import pytest
from fault_runs import FOUR_TASKS, assert_same_model, checkpoint, results, run_here, run_killed

SIGKILLED = -9
COMBINATIONS = {
    "laftr+replay": ["regularizer=laftr", "regularizer.plugin.num_samples=8", "regularizer.plugin.inputs=diag",
                     "+regularizer@combine.replay=replay", "combine.replay.plugin.mem_size=40"],
    "der+laftr": ["regularizer=der", "regularizer.plugin.mem_size=40", "+regularizer@combine.laftr=laftr",
                  "combine.laftr.plugin.num_samples=8", "combine.laftr.plugin.inputs=diag"],
}


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_a_combination_killed_after_task_2_of_4_resumes_to_the_same_results(name, tmp_path):
    overrides = [*FOUR_TASKS, *COMBINATIONS[name]]
    reference = tmp_path / "uninterrupted"
    expected = run_here(overrides, reference)
    killed = tmp_path / "killed"
    assert run_killed(overrides, killed, "checkpoint_written:2") == SIGKILLED
    state = checkpoint(killed)["state"]["regularizer"]
    assert set(state) == set(name.split("+"))  # each part's state under its name

    resumed = run_here([*overrides, "resume=true"], killed)
    assert resumed["complete"] and resumed["accuracy_matrix"] == expected["accuracy_matrix"]
    assert resumed["summary_memory_bytes"] == expected["summary_memory_bytes"]
    assert set(k.split(".")[0] for k in resumed["summary_memory_bytes"] if k != "total") == set(name.split("+"))
    assert_same_model(killed, reference)
    assert results(killed)["final"] == expected["final"]
