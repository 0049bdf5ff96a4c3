"""The comparison from wandb runs: a stubbed ``wandb.Api`` object and real offline run folders."""
from types import SimpleNamespace

import pytest
import wandb

from helpers import compose_run_config
from laftr_cl.loggers.wandb_offline import read_offline_run
from laftr_cl.reporting.comparison import summarize_runs, to_markdown
from laftr_cl.reporting.scan import load_results
from laftr_cl.reporting.wandb_compare import main, runs_from_api, runs_from_offline
from laftr_cl.run.experiment import run_experiment
from laftr_cl.run.folder import RunFolder
from reliability.faults import armed


class StubApi:
    """``wandb.Api()`` as far as the comparison uses it: ``runs(project)``."""

    def __init__(self, runs):
        self._runs, self.asked = runs, []

    def runs(self, project):
        self.asked.append(project)
        return self._runs


def _run(regularizer, seed, acc, *, tag_only=False, finished=True):
    summary = {"accuracy_matrix": [[0.9, 0.1], [acc, acc]], "_runtime": 3.0,
               "summary_memory_bytes": {"total": 10 * seed}}
    if finished:
        summary.update({"final/average_accuracy": acc, "final/backward_transfer": -0.1,
                        "final/forgetting": 0.1})
    config = {"seed": seed} if tag_only else {"seed": seed, "regularizer": {"name": regularizer}}
    return SimpleNamespace(config=config, summary=summary, tags=[regularizer, "mlp"], group="split_fmnist")


def test_stubbed_api_runs_grouped_by_benchmark_and_tagged_by_regularizer(tmp_path, capsys):
    api = StubApi([_run("ewc", 0, 0.8), _run("ewc", 1, 0.9, tag_only=True), _run("none", 0, 0.5),
                   _run("none", 1, 0.1, finished=False)])
    runs = runs_from_api(api, "me/laftr-cl")
    assert api.asked == ["me/laftr-cl"] and len(runs) == 3  # the unfinished run is left out
    rows = {row["regularizer"]: row for row in summarize_runs(runs)}
    assert rows["ewc"]["benchmark"] == "split_fmnist" and rows["ewc"]["seeds"] == [0, 1]
    assert rows["ewc"]["average_accuracy"].mean == pytest.approx(0.85)
    assert rows["ewc"]["memory_bytes"][:2] == (pytest.approx(5.0), pytest.approx(7.0710678))
    assert rows["ewc"]["wall_time_s"] == (3.0, 0.0, 3.0, 2)  # from wandb's _runtime
    assert runs[0]["average_accuracy_per_task"] == [0.9, pytest.approx(0.8)]  # from the matrix
    main(["me/laftr-cl", "--out", str(tmp_path)], api=api)
    assert "| split_fmnist | Fashion-MNIST | ewc | 2 | 85.00 ± 7.07 | 80.00 |" in capsys.readouterr().out
    assert {p.name for p in tmp_path.iterdir()} >= {"comparison.md", "comparison.csv", "accuracy_vs_memory.png",
                                                    "average_accuracy_split_fmnist_Fashion-MNIST.png"}


def test_wandb_runs_are_grouped_by_their_whole_config():
    scenario = {"seed": 0, "regularizer": {"name": "ewc"}}
    api = StubApi([_run("ewc", 0, 0.8), _run("ewc", 1, 0.9),
                   SimpleNamespace(**{**vars(_run("ewc", 0, 0.2)), "config": {
                       **scenario, "benchmark": {"name": "split_fmnist", "scenario": "class"}}})])
    rows = summarize_runs(runs_from_api(api, "me/p"))
    assert [(row["settings"]["benchmark.scenario"], row["n"]) for row in rows] == [("class", 1), (None, 2)]


def test_run_without_benchmark_or_regularizer_is_named():
    api = StubApi([SimpleNamespace(config={}, summary={}, tags=[], group="")])
    with pytest.raises(ValueError, match="grouped by benchmark"):
        runs_from_api(api, "me/p")


def test_offline_run_folders_give_the_same_table_as_results_json(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose_run_config(["debug=fast", "benchmark.num_experiences=2", "regularizer=coreset_fsd",
                              "model.net.hidden_sizes=[16]", "logger=wandb"], tmp_path)
    run_experiment(cfg, tmp_path)
    wandb.teardown()  # wandb's service writes offline run files asynchronously: flush them
    offline = runs_from_offline(tmp_path)
    assert len(offline) == 1 and offline[0]["summary_memory_bytes"]["examples"] > 0
    assert to_markdown(summarize_runs(offline)) == to_markdown(summarize_runs(load_results(tmp_path)))


def test_a_resumed_run_is_one_wandb_run_and_counted_once(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    overrides = ["debug=fast", "benchmark.num_experiences=2", "model.net.hidden_sizes=[16]", "logger=wandb"]
    with armed("checkpoint_written:1:SIGINT"), pytest.raises(KeyboardInterrupt):  # stopped after task 1, as by Ctrl-C
        run_experiment(compose_run_config(overrides, tmp_path), tmp_path)
    wandb.finish()
    for _ in range(2):  # resumes from the checkpoint; then finds the run finished and reports it again
        run_experiment(compose_run_config(overrides, tmp_path), tmp_path)
    wandb.teardown()
    attempts = sorted((tmp_path / "wandb").glob("offline-run-*"))
    run_id = RunFolder(tmp_path).wandb_id.read_text().strip()
    assert [read_offline_run(path)["id"] for path in attempts] == [run_id] * 3
    (record,) = runs_from_offline(tmp_path)
    assert record["final"]["average_accuracy"] == pytest.approx(load_results(tmp_path)[0]["final"]["average_accuracy"])
