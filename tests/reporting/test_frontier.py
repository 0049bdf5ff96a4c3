"""The accuracy–memory frontier: bytes split per task / copies of θ, grouping, table, configs."""
from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from helpers import REPO_ROOT, compose_run_config
from laftr_cl.reporting.compare import main as compare_main
from laftr_cl.reporting.frontier import (
    frontier_points,
    method_and_budget,
    pareto,
    plot_frontier,
    split_bytes,
    theta_bytes,
    to_markdown,
)
from laftr_cl.reporting.scan import load_results

MLP = {"_target_": "laftr_cl.models.mlp.MLP", "input_size": 784, "hidden_sizes": [512, 512], "num_outputs": 10}
THETA = 4 * (785 * 512 + 513 * 512 + 513 * 10)


def _run(tmp_path, name, regularizer, plugin, accuracy, memory, seed=0, fraction=0.0):
    payload = {"complete": True, "benchmark": {"name": "split_mnist"},
               "config": {"seed": seed, "model": {"net": MLP}, "data": {"validation_fraction": fraction},
                          "regularizer": {"name": regularizer, "plugin": plugin}},
               "accuracy_matrix": [[0.0] * 5] * 5, "final": {"average_accuracy": accuracy},
               "summary_memory_bytes": memory}
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(payload))


def test_theta_bytes_counts_the_mlp_parameters():
    assert theta_bytes({"model": {"net": MLP}}) == THETA == 2_678_824


def test_split_bytes_separates_theta_sized_parts():
    per_task, copies, total = split_bytes({"rates": 5000, "inputs": 45000, "snapshot": 2 * THETA, "total": 1}, 5, THETA)
    assert (per_task, copies, total) == (10000, 2.0, 50000 + 2 * THETA)
    assert split_bytes(None, 5, THETA) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("regularizer, plugin, want", [
    ("laftr", {"anchor": "latest", "inputs": "lowrank", "rank": 5, "classwise": True}, ("laftr latest classwise", "lowrank 5")),
    ("laftr", {"anchor": "per_task", "inputs": "full", "classwise": False}, ("laftr per_task", "full")),
    ("laftr", {"anchor": "latest", "inputs": "diag", "num_samples": 40, "storage_dtype": "float16"},
     ("laftr latest float16", "diag")),
    ("laftr", {"anchor": "latest", "inputs": "diag", "num_samples": 160}, ("laftr latest S=160", "diag")),
    ("coreset_fsd", {"coreset_size": 20}, ("coreset_fsd", "m=20")),
    ("replay", {"mem_size": 200}, ("replay", "buffer 200")),
    ("ewc_online", {"ewc_lambda": 1.0}, ("ewc_online", "-")),
])
def test_method_and_budget(regularizer, plugin, want):
    assert method_and_budget({"regularizer": {"name": regularizer, "plugin": plugin}}) == want


def test_points_group_seeds_and_leave_out_validation_runs(tmp_path):
    diag = {"anchor": "latest", "inputs": "diag", "classwise": False}
    _run(tmp_path, "a", "laftr", diag, 0.98, {"rates": 100, "inputs": 900, "snapshot": THETA}, seed=0)
    _run(tmp_path, "b", "laftr", diag, 0.96, {"rates": 100, "inputs": 900, "snapshot": THETA}, seed=1)
    _run(tmp_path, "c", "laftr", diag, 0.10, {"rates": 100, "inputs": 900, "snapshot": THETA}, fraction=0.1)
    _run(tmp_path, "d", "replay", {"mem_size": 50}, 0.95, {"examples": 50 * 3152})
    points = frontier_points(load_results(tmp_path))
    laftr, replay = sorted(points, key=lambda p: p.method)
    assert laftr.seeds == (0, 1) and laftr.mean == pytest.approx(97.0) and laftr.min == pytest.approx(96.0)
    assert (laftr.bytes_per_task, laftr.theta_copies, laftr.total_bytes) == (200, 1.0, 1000 + THETA)
    assert replay.theta_copies == 0 and replay.total_bytes == 50 * 3152
    assert pareto(points) == [replay, laftr]  # replay is smaller, laftr more accurate: both on the front
    table = to_markdown(points)
    assert "| split_mnist | laftr latest | diag | 2 | 97.00 ± 1.41 | 96.00 | 200 B | 1.00 | 2.7 MB |" in table
    png = plot_frontier(points, "split_mnist", tmp_path / "plots" / "frontier.png")
    assert png.stat().st_size > 10_000


def test_every_frontier_point_composes_into_the_frontier_experiment(tmp_path):
    points = sorted(p.stem for p in (REPO_ROOT / "configs" / "frontier_point").glob("*.yaml"))
    assert len(points) >= 18
    for benchmark in ("split_mnist", "split_fmnist", "permuted_mnist"):
        sweep = compose_run_config([f"experiment=frontier_{benchmark}"]).hydra.sweeper.params
        assert sorted(sweep["+frontier_point"].split(",")) == points and sweep["seed"] == "0,1,2"
    for point in points:
        composed = compose_run_config(["experiment=frontier_split_mnist", f"+frontier_point={point}"], tmp_path)
        cfg = OmegaConf.to_container(composed, resolve=True)
        regularizer = cfg["regularizer"]
        assert point.startswith(regularizer["name"])
        if regularizer["name"] == "laftr":
            assert regularizer["plugin"]["anchor"] == "latest"
            assert regularizer["plugin"]["fsd_lambda"] == cfg["frontier"]["lambda"]["laftr"]


def test_compare_frontier_writes_the_table_and_a_plot_per_benchmark(tmp_path, capsys):
    diag = {"anchor": "latest", "inputs": "diag", "classwise": False}
    _run(tmp_path, "a", "laftr", diag, 0.98, {"rates": 100, "inputs": 900, "snapshot": THETA}, seed=0)
    _run(tmp_path, "b", "replay", {"mem_size": 50}, 0.95, {"examples": 50 * 3152})
    compare_main([str(tmp_path), "--frontier", "--out", str(tmp_path / "out")])
    written = (tmp_path / "out" / "frontier.md").read_text()
    assert "| split_mnist | replay | buffer 50 | 1 | 95.00 ± 0.00 |" in written and written in capsys.readouterr().out
    assert (tmp_path / "out" / "frontier_split_mnist.png").stat().st_size > 10_000
    assert not (tmp_path / "out" / "comparison.md").exists()


def test_compare_frontier_refuses_a_seed_counted_twice(tmp_path, capsys):
    _run(tmp_path, "a", "replay", {"mem_size": 50}, 0.95, {"examples": 50 * 3152}, seed=0)
    _run(tmp_path, "b", "replay", {"mem_size": 50}, 0.90, {"examples": 50 * 3152}, seed=0)
    with pytest.raises(SystemExit) as exit_info:
        compare_main([str(tmp_path), "--frontier", "--no-plots"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "2 runs of the frontier point split_mnist / replay / buffer 50 have seed 0" in err
    assert str(tmp_path / "a") in err and str(tmp_path / "b") in err
