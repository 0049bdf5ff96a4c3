"""End-to-end runs: every benchmark for 2 tasks on synthetic data, real MNIST-5k, sweeps, errors."""
import json
from pathlib import Path

import pytest

from helpers import compose_run_config, run_cli, shared_dataset
from laftr_cl.config.checks import ConfigError
from laftr_cl.loggers.wandb_offline import read_offline_run
from laftr_cl.run.experiment import run_experiment

TWO_TASKS = {
    "split_mnist": ["benchmark.num_experiences=2"],
    "split_fmnist": ["benchmark.num_experiences=2"],
    "permuted_mnist": ["benchmark.num_experiences=2"],
    "split_cifar10": ["benchmark.num_experiences=2", "model=cifar_net"],
    "split_cifar100": ["benchmark.num_experiences=2", "model=cifar_net",
                       "data.synthetic.train_per_class=2", "data.synthetic.test_per_class=1"],
    "split_cifar110_6": ["model=cifar_net", "data.synthetic.train_per_class=2",
                         "data.synthetic.test_per_class=1"],
}


def _check_results(path: Path, rows: int, cols: int) -> dict:
    results = json.loads(path.read_text())
    assert results["complete"] is True
    assert len(results["accuracy_matrix"]) == rows
    assert all(len(row) == cols for row in results["accuracy_matrix"])
    assert all(0.0 <= acc <= 1.0 for row in results["accuracy_matrix"] for acc in row)
    assert set(results["final"]) == {"average_accuracy", "backward_transfer", "forgetting"}
    assert results["wall_time_s"] > 0 and results["device"].startswith("cpu")
    assert results["config"]["benchmark"]["name"] == results["benchmark"]["name"]
    return results


@pytest.mark.parametrize("benchmark", sorted(TWO_TASKS))
def test_short_run_of_every_benchmark_writes_complete_results(benchmark, tmp_path):
    cfg = compose_run_config([f"benchmark={benchmark}", "debug=fast", *TWO_TASKS[benchmark]], tmp_path)
    payload = run_experiment(cfg, tmp_path)
    tasks = cfg.benchmark.num_experiences
    results = _check_results(tmp_path / "results.json", rows=tasks, cols=tasks)
    assert results == json.loads(json.dumps(payload))
    assert (tmp_path / "csv" / "eval_results.csv").is_file()


@pytest.mark.parametrize("regularizer", ["ewc", "ewc_online", "si", "lwf", "mas", "replay"])
def test_each_baseline_regularizer_runs_and_reports_its_memory(regularizer, tmp_path):
    cfg = compose_run_config(["debug=fast", "benchmark.num_experiences=2", f"regularizer={regularizer}",
                              "model.net.hidden_sizes=[16]"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    memory = results["summary_memory_bytes"]
    theta = (784 * 16 + 16 + 16 * 10 + 10) * 4  # bytes of one copy of the MLP 784-16-10's parameters
    # after 2 tasks: per task an importance and a θ copy (ewc), one running pair (ewc_online, si, mas),
    # the previous model (lwf), or every input seen so far (2 tasks × 5 classes × 16, under mem_size=200)
    # with a label and task id each (replay)
    expected = {"ewc": 4 * theta, "ewc_online": 2 * theta, "si": 2 * theta, "mas": 2 * theta, "lwf": theta,
                "replay": 2 * 5 * 16 * (784 * 4 + 16)}
    assert memory["total"] == expected[regularizer]


def test_joint_training_records_one_row(tmp_path):
    cfg = compose_run_config(["debug=fast", "benchmark.num_experiences=2", "regularizer=joint"], tmp_path)
    run_experiment(cfg, tmp_path)
    results = _check_results(tmp_path / "results.json", rows=1, cols=2)
    assert results["final"]["backward_transfer"] is None


def test_seed_fixes_a_cpu_run(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        out.mkdir()
        cfg = compose_run_config(["debug=fast", "benchmark.num_experiences=2", "seed=3"], out)
        runs.append(run_experiment(cfg, out)["accuracy_matrix"])
    assert runs[0] == runs[1]


def test_real_mnist_5k_first_task_is_learned(tmp_path):
    root = shared_dataset("mnist-5k")
    cfg = compose_run_config(["logger=csv", "device=cpu", f"data.root={root}", "train.epochs=1",
                              "benchmark.num_experiences=5", "model.net.hidden_sizes=[64]"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    # 0 vs 1 with 1,000 real training digits: naive training separates them almost perfectly
    assert results["accuracy_matrix"][0][0] > 0.95
    assert len(results["accuracy_matrix"]) == 5


def test_a_linear_model_learns_real_digits(tmp_path):
    # model.net.hidden_sizes=[] is a softmax regression: ~0.9 on MNIST after two epochs. (On debug=fast's
    # synthetic clusters a few steps leave it at its random init, which maps whole classes wrongly.)
    root = shared_dataset("mnist-5k")
    cfg = compose_run_config(["logger=csv", "device=cpu", f"data.root={root}", "train.epochs=2",
                              "benchmark.num_experiences=1", "model.net.hidden_sizes=[]"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    assert results["benchmark"]["task_classes"] == [list(range(10))]
    assert results["accuracy_matrix"][0][0] > 0.8


def test_coreset_larger_than_a_task_keeps_what_exists_and_says_so(tmp_path):
    cfg = compose_run_config(["debug=fast", "benchmark.num_experiences=2", "regularizer=coreset_fsd",
                              "regularizer.plugin.coreset_size=100000", "model.net.hidden_sizes=[16]"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    (note,) = results["benchmark"]["notes"]
    assert "coreset_size=100000" in note and "[0, 1]" in note and "keep all the examples" in note
    sizes = results["benchmark"]["train_sizes"]
    # the coresets hold every example of their task: inputs of 784 float32 each (and their logits)
    assert results["summary_memory_bytes"]["total"] >= sum(sizes[:2]) * 784 * 4


@pytest.mark.parametrize("override, setting", [
    ("train.epochs=0", "train.epochs"),
    ("train.batch_size=0", "train.batch_size"),
    ("regularizer=ewc regularizer.plugin.ewc_lambda=-1", "regularizer.plugin.ewc_lambda"),
    ("regularizer=replay regularizer.plugin.mem_size=0", "regularizer.plugin.mem_size"),
    ("optimizer.lr=0", "optimizer.lr"),
    ("device=tpu", "device"),
])
def test_bad_settings_name_the_setting(override, setting, tmp_path):
    cfg = compose_run_config(["debug=fast", *override.split()], tmp_path)
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")) as err:
        run_experiment(cfg, tmp_path)
    assert "laftr-cl ..." in str(err.value) and "\n" not in str(err.value)


def test_model_that_does_not_fit_the_benchmark_is_named(tmp_path):
    cfg = compose_run_config(["debug=fast", "model=cifar_net"], tmp_path)
    with pytest.raises(ConfigError, match="model=cifar_net cannot take the inputs of benchmark=split_mnist"):
        run_experiment(cfg, tmp_path)


def test_wandb_offline_and_tensorboard_loggers_write_real_files(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose_run_config(["debug=fast", "benchmark.num_experiences=2", "regularizer=ewc",
                              "logger=[csv,tensorboard,wandb]"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    run = read_offline_run(runs[0])
    assert run["group"] == "split_mnist" and run["tags"] == ["ewc", "mlp"]
    assert run["config"]["regularizer"]["plugin"]["ewc_lambda"] == cfg.regularizer.plugin.ewc_lambda
    assert run["summary"]["final/average_accuracy"] == pytest.approx(results["final"]["average_accuracy"])
    assert any(key.startswith("Top1_Acc_Stream") for row in run["history"] for key in row)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_cli_missing_dataset_says_which_files(tmp_path):
    out = run_cli([f"data.root={tmp_path / 'nowhere'}", "logger=csv", f"paths.log_dir={tmp_path}"])
    assert out.returncode == 2
    assert "data.root" in out.stderr and "train-images-idx3-ubyte" in out.stderr


@pytest.mark.parametrize("launcher", ["basic", "local_parallel", "submitit_local_jobs"])
@pytest.mark.slow
def test_multirun_gives_one_result_per_job(launcher, tmp_path):
    args = ["-m", "debug=fast", "benchmark.num_experiences=2", "regularizer=none,ewc", "seed=0,1",
            f"paths.log_dir={tmp_path}", "model.net.hidden_sizes=[16]"]
    if launcher != "basic":
        args.append(f"hydra/launcher={launcher}")
    out = run_cli(args)
    assert out.returncode == 0, out.stderr[-3000:]
    results = sorted(tmp_path.glob("multiruns/*/*/results.json"))
    assert len(results) == 4
    combos = {(r["config"]["regularizer"]["name"], r["config"]["seed"])
              for r in map(lambda p: json.loads(p.read_text()), results)}
    assert combos == {("none", 0), ("none", 1), ("ewc", 0), ("ewc", 1)}
