"""laftr-cl-compare: grouping by every setting but the seed, the dataset's name, seed statistics."""
import csv
import json

import pytest

from helpers import compose_run_config
from laftr_cl.reporting.compare import main
from laftr_cl.reporting.comparison import summarize_runs, to_markdown
from laftr_cl.reporting.groups import DuplicateSeedsError, dataset_label
from laftr_cl.reporting.scan import load_results, scan_results
from laftr_cl.run.experiment import run_experiment
from laftr_cl.run.results import cl_metrics


def _write_run(folder, benchmark, regularizer, seed, acc, memory=None, complete=True, **config):
    folder.mkdir(parents=True)
    matrix = [[1.0, 0.5], [acc, acc]]
    (folder / "results.json").write_text(json.dumps({
        "config": {"benchmark": {"name": benchmark}, "regularizer": {"name": regularizer}, "seed": seed, **config},
        "final": cl_metrics(matrix),  # what a run writes: read_run checks it against the matrix
        "accuracy_matrix": matrix,
        "average_accuracy_per_task": [1.0, acc],
        "summary_memory_bytes": memory, "wall_time_s": 2.0, "complete": complete,
        "status": "completed" if complete else "running",
    }))


@pytest.fixture
def sweep(tmp_path):
    _write_run(tmp_path / "0", "split_mnist", "ewc", 0, 0.8, {"total": 100})
    _write_run(tmp_path / "1", "split_mnist", "ewc", 1, 0.9, {"total": 100})
    _write_run(tmp_path / "2", "split_mnist", "none", 0, 0.6)
    _write_run(tmp_path / "3", "split_mnist", "none", 1, 0.5, complete=False)
    return tmp_path


def test_groups_with_mean_std_min_and_n(sweep):
    runs = load_results(sweep)
    assert len(runs) == 3  # the incomplete run is left out
    rows = {row["regularizer"]: row for row in summarize_runs(runs)}
    assert rows["ewc"]["n"] == 2 and rows["ewc"]["seeds"] == [0, 1]
    stat = rows["ewc"]["average_accuracy"]
    assert stat.mean == pytest.approx(0.85) and stat.std == pytest.approx(0.0707107, rel=1e-5)
    assert stat.min == pytest.approx(0.8) and stat.n == 2
    assert rows["none"]["average_accuracy"] == (pytest.approx(0.6), 0.0, pytest.approx(0.6), 1)
    assert rows["none"]["memory_bytes"].mean == 0


def test_cli_writes_markdown_and_csv_and_lists_what_it_left_out(sweep, capsys):
    main([str(sweep), "--no-plots"])
    printed = capsys.readouterr().out
    assert "| benchmark | data | regularizer | n | final avg. accuracy | min |" in printed
    assert "| split_mnist | MNIST | ewc | 2 | 85.00 ± 7.07 | 80.00 |" in printed
    assert "| split_mnist | MNIST | none | 1 | 60.00 (n = 1) | 60.00 |" in printed  # no ± 0.00
    assert "± 0.00" not in printed
    assert f"left out: {sweep / '3' / 'results.json'} — unfinished" in printed
    assert (sweep / "comparison.md").read_text() == printed
    rows = list(csv.DictReader(open(sweep / "comparison.csv")))
    assert [r["regularizer"] for r in rows] == ["ewc", "none"]
    assert float(rows[0]["average_accuracy_mean"]) == pytest.approx(0.85)
    assert float(rows[0]["average_accuracy_min"]) == pytest.approx(0.8)


def test_cli_on_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path)])


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_cli_writes_the_plots_of_a_sweep(sweep, capsys):
    main([str(sweep), "--out", str(sweep / "report")])
    report = sweep / "report"
    plots = sorted(p.name for p in report.glob("*.png"))
    assert plots == ["accuracy_matrices_split_mnist_MNIST.png", "accuracy_vs_memory.png",
                     "average_accuracy_split_mnist_MNIST.png"]
    assert all(_is_png(report / name) for name in plots)


def test_validation_runs_form_their_own_rows(sweep):
    _write_run(sweep / "4", "split_mnist", "ewc", 2, 0.7, {"total": 100}, data={"validation_fraction": 0.1})
    rows = {(row["dataset"], row["regularizer"]): row for row in summarize_runs(load_results(sweep))}
    assert rows[("MNIST", "ewc")]["n"] == 2
    assert rows[("MNIST (validation 10%)", "ewc")]["seeds"] == [2]


def test_the_dataset_is_named_as_the_user_ran_it():
    def label(benchmark, **data):
        return dataset_label({"benchmark": {"name": benchmark}, "data": data})

    assert label("split_mnist", root="../shared/datasets/mnist-5k") == "MNIST-5k"
    assert label("permuted_mnist", root="/data/mnist-5k/") == "MNIST-5k"
    assert label("split_mnist", root="data") == "MNIST"
    assert label("split_fmnist", root="../shared/datasets/fashion-mnist") == "Fashion-MNIST"
    assert label("split_mnist", root="data", synthetic={"train_per_class": 16}) == "synthetic MNIST-shaped"


def test_a_seed_twice_in_one_group_is_refused_or_counted_once(sweep, capsys):
    _write_run(sweep / "again" / "0", "split_mnist", "ewc", 0, 0.2, {"total": 100})
    with pytest.raises(DuplicateSeedsError, match=r"seed 0 .*--duplicates latest"):
        summarize_runs(load_results(sweep))
    with pytest.raises(SystemExit) as exit_info:
        main([str(sweep), "--no-plots"])
    assert exit_info.value.code == 2 and "seed 0" in capsys.readouterr().err
    main([str(sweep), "--no-plots", "--duplicates", "latest"])
    printed = capsys.readouterr().out
    assert "| split_mnist | MNIST | ewc | 2 † | 55.00 ± 49.50 | 20.00 |" in printed  # the newest seed-0 run
    assert "only its newest run is counted" in printed


def test_failed_runs_are_listed_not_averaged(sweep):
    _write_run(sweep / "5", "split_mnist", "ewc", 5, 0.1, complete=False)
    payload = json.loads((sweep / "5" / "results.json").read_text())
    payload.update(status="failed", error={"type": "NonFiniteLossError", "message": "The loss became NaN\nmore"})
    (sweep / "5" / "results.json").write_text(json.dumps(payload))
    runs, left_out = scan_results(sweep)
    markdown = to_markdown(summarize_runs(runs), left_out)
    assert f"left out: {sweep / '5' / 'results.json'} — failed: The loss became NaN" in markdown


MIXED = [  # scenario × λ at 1 epoch, seeds 0 and 1, and one 2-epoch run
    (["benchmark.scenario=class", "regularizer.plugin.ewc_lambda=1"], [0, 1]),
    (["benchmark.scenario=class", "regularizer.plugin.ewc_lambda=100"], [0]),
    (["benchmark.scenario=task", "regularizer.plugin.ewc_lambda=1"], [0, 1]),
    (["benchmark.scenario=task", "regularizer.plugin.ewc_lambda=1", "train.epochs=2"], [0]),
    (["benchmark.scenario=task", "regularizer=laftr", "regularizer.plugin.num_samples=4",
      "regularizer.plugin.inputs=diag"], [0]),
]


def test_a_sweep_mixing_scenarios_epochs_and_lambda_gets_a_row_per_setting(tmp_path, capsys):
    base = ["debug=fast", "benchmark.num_experiences=2", "model.net.hidden_sizes=[16]", "regularizer=ewc",
            "data.root=../shared/datasets/mnist-5k"]
    for index, (overrides, seeds) in enumerate(MIXED):
        for seed in seeds:
            folder = tmp_path / f"{index}_{seed}"
            folder.mkdir()
            run_experiment(compose_run_config([*base, *overrides, f"seed={seed}", "logger=csv"], folder), folder)
    main([str(tmp_path), "--no-plots"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| benchmark | data | regularizer | benchmark.scenario | regularizer.plugin.ewc_lambda "
                        "| train.epochs | n | final avg. accuracy | min | BWT | forgetting | summary memory (bytes) "
                        "| wall time (s) |")
    rows = [line.split(" | ")[:7] for line in lines[2:7]]
    assert [row[1:] for row in rows] == [
        ["synthetic MNIST-shaped", "ewc", "class", "1", "1", "2"],
        ["synthetic MNIST-shaped", "ewc", "class", "100", "1", "1"],
        ["synthetic MNIST-shaped", "ewc", "task", "1", "1", "2"],
        ["synthetic MNIST-shaped", "ewc", "task", "1", "2", "1"],
        ["synthetic MNIST-shaped", "laftr", "task", "–", "1", "1"],  # LAFTR's options are no columns
    ]


def test_a_setting_that_holds_the_seed_does_not_split_a_group(tmp_path):
    for seed in (0, 1):  # a nested setting named seed that holds the run seed, like regularizer.plugin.seed
        _write_run(tmp_path / str(seed), "split_mnist", "laftr", seed, 0.9, optimizer={"seed": seed})
    _write_run(tmp_path / "other", "split_mnist", "laftr", 0, 0.7, optimizer={"seed": 5})
    rows = summarize_runs(load_results(tmp_path))
    assert sorted(row["n"] for row in rows) == [1, 2]  # a fixed seed of 5 is a setting of its own


def test_a_run_from_before_a_setting_existed_joins_the_runs_that_keep_its_old_behaviour(tmp_path):
    _write_run(tmp_path / "old", "split_mnist", "ewc", 0, 0.8)  # recorded before `batchnorm` existed
    _write_run(tmp_path / "new", "split_mnist", "ewc", 1, 0.9, batchnorm={"name": "track", "plugin": None})
    _write_run(tmp_path / "frozen", "split_mnist", "ewc", 0, 0.7, batchnorm={"name": "freeze", "plugin": {}})
    rows = summarize_runs(load_results(tmp_path))
    assert sorted((row["n"], row["average_accuracy"].mean) for row in rows) == [(1, pytest.approx(0.7)),
                                                                               (2, pytest.approx(0.85))]
