import csv
import json

import pytest

from laftr_cl.compare import load_results, main, summarize_runs


def _write_run(folder, benchmark, regularizer, seed, acc, memory=None, complete=True):
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "config": {"benchmark": {"name": benchmark}, "regularizer": {"name": regularizer}, "seed": seed},
        "final": {"average_accuracy": acc, "backward_transfer": -0.1 * seed, "forgetting": 0.1 * seed},
        "accuracy_matrix": [[1.0, 0.5], [acc - 0.1 * seed, acc + 0.1 * seed]],
        "average_accuracy_per_task": [1.0, acc],
        "summary_memory_bytes": memory, "wall_time_s": 2.0, "complete": complete,
    }))


@pytest.fixture
def sweep(tmp_path):
    _write_run(tmp_path / "0", "split_mnist", "ewc", 0, 0.8, {"total": 100})
    _write_run(tmp_path / "1", "split_mnist", "ewc", 1, 0.9, {"total": 100})
    _write_run(tmp_path / "2", "split_mnist", "none", 0, 0.6)
    _write_run(tmp_path / "3", "split_mnist", "none", 1, 0.5, complete=False)
    return tmp_path


def test_groups_by_benchmark_and_regularizer_with_mean_and_std(sweep):
    runs = load_results(sweep)
    assert len(runs) == 3  # the incomplete run is left out
    rows = {row["regularizer"]: row for row in summarize_runs(runs)}
    assert rows["ewc"]["n"] == 2 and rows["ewc"]["seeds"] == [0, 1]
    mean, std = rows["ewc"]["average_accuracy"]
    assert mean == pytest.approx(0.85) and std == pytest.approx(0.0707107, rel=1e-5)
    assert rows["none"]["average_accuracy"] == (pytest.approx(0.6), 0.0)
    assert rows["none"]["memory_bytes"] == (0, 0.0)


def test_cli_writes_markdown_and_csv(sweep, capsys):
    main([str(sweep)])
    printed = capsys.readouterr().out
    assert "| split_mnist | ewc | 2 | 85.00 ± 7.07 |" in printed
    assert (sweep / "comparison.md").read_text() == printed
    rows = list(csv.DictReader(open(sweep / "comparison.csv")))
    assert [r["regularizer"] for r in rows] == ["ewc", "none"]
    assert float(rows[0]["average_accuracy_mean"]) == pytest.approx(0.85)


def test_cli_on_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path)])


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_cli_writes_the_plots_of_a_sweep(sweep, capsys):
    main([str(sweep), "--out", str(sweep / "report")])
    report = sweep / "report"
    plots = sorted(p.name for p in report.glob("*.png"))
    assert plots == ["accuracy_matrices_split_mnist.png", "accuracy_vs_memory.png",
                     "average_accuracy_split_mnist.png"]
    assert all(_is_png(report / name) for name in plots)


def test_no_plots_writes_the_tables_only(sweep, capsys):
    main([str(sweep), "--no-plots"])
    assert not list(sweep.glob("*.png")) and (sweep / "comparison.md").exists()


def test_validation_runs_form_their_own_rows(sweep):
    _write_run(sweep / "4", "split_mnist", "ewc", 2, 0.7, {"total": 100})
    payload = json.loads((sweep / "4" / "results.json").read_text())
    payload["config"]["data"] = {"validation_fraction": 0.1}
    (sweep / "4" / "results.json").write_text(json.dumps(payload))
    rows = {(row["benchmark"], row["regularizer"]): row for row in summarize_runs(load_results(sweep))}
    assert rows[("split_mnist", "ewc")]["n"] == 2
    assert rows[("split_mnist (validation)", "ewc")]["seeds"] == [2]
