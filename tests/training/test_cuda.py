"""CUDA-only checks (``pytest -m cuda``; skipped without a CUDA device): every regularizer runs,
a CUDA run resumes on CUDA, the compiled and captured steps train as the eager one, no host reads
inside an iteration, bf16, and the FSD study. ``scripts/gpu_check.sh`` runs them on a GPU machine."""
from __future__ import annotations

import sys

import pytest
import torch
import torch._inductor.config as inductor_config
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from laftr_cl.cli import CONFIG_DIR
from laftr_cl.fsd import summarize
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.study.fsd.run import run_study
from laftr_cl.training.compiled_step import TrainStep
from reliability.fault_runs import FOUR_TASKS, REGULARIZERS, assert_same_model, results, run_cli, run_here

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs a CUDA device: run scripts/gpu_check.sh on a GPU machine")]

CUDA = torch.device("cuda")
TWO_TASKS = [*FOUR_TASKS, "benchmark.num_experiences=2", "device=cuda"]
EVERY_REGULARIZER = {
    **REGULARIZERS,
    "ewc_online": ["regularizer=ewc_online"], "lwf": ["regularizer=lwf"], "mas": ["regularizer=mas"],
    "joint": ["regularizer=joint"], "coreset_fsd": ["regularizer=coreset_fsd"], "ntk_fsd": ["regularizer=ntk_fsd"],
    "laftr_lowrank": ["regularizer=laftr_lowrank", "regularizer.plugin.rank=3"],
    "laftr full": ["regularizer=laftr", "regularizer.plugin.num_samples=8"],
    "laftr relu coreset": ["regularizer=laftr", "regularizer.plugin.estimator=relu", "regularizer.plugin.inputs=coreset",
                           "regularizer.plugin.coreset_size=10"],
    "laftr exact": ["regularizer=laftr", "regularizer.plugin.estimator=exact", "regularizer.plugin.metric=l2_logit"],
    "laftr classwise kl": ["regularizer=laftr", "regularizer.plugin.classwise=true", "regularizer.plugin.metric=kl",
                           "regularizer.plugin.inputs=diag", "regularizer.plugin.num_samples=20"],
    "laftr latest": ["regularizer=laftr", "regularizer.plugin.anchor=latest", "regularizer.plugin.inputs=diag"],
}


@pytest.mark.parametrize("name", sorted(EVERY_REGULARIZER))
def test_every_regularizer_trains_two_tasks_on_cuda(name, tmp_path):
    out = run_here([*TWO_TASKS, *EVERY_REGULARIZER[name]], tmp_path)
    assert out["complete"] and "cpu" not in out["device"].lower()
    assert all(0 <= acc <= 1 for row in out["accuracy_matrix"] for acc in row)


def test_split_mnist_multi_head_with_laftr_on_cuda(tmp_path):
    out = run_here(["debug=fast", "benchmark=split_mnist", "device=cuda", "regularizer=laftr",
                    "regularizer.plugin.inputs=diag", "regularizer.plugin.num_samples=8"], tmp_path)
    assert out["complete"] and len(out["accuracy_matrix"]) == 5


@pytest.mark.parametrize("regularizer", ["none", "laftr"])
@pytest.mark.slow
def test_a_cuda_run_killed_after_task_1_resumes_on_cuda_to_the_same_result(regularizer, tmp_path):
    overrides = [*TWO_TASKS, *REGULARIZERS[regularizer]]
    reference = run_here(overrides, tmp_path / "uninterrupted")
    killed = tmp_path / "killed"
    result = run_cli([*overrides, f"hydra.run.dir={killed}"], kill_at="checkpoint_written:1")
    assert result.returncode == -9, result.stderr[-2000:]
    resumed = run_here([*overrides, "resume=true"], killed)
    assert resumed["accuracy_matrix"] == reference["accuracy_matrix"]  # bit-exact: docs/gpu.md
    assert_same_model(killed, tmp_path / "uninterrupted")


def laftr_step(mode: str, *, estimator: str = "bernoulli", lr: float = 1e-2) -> tuple[TrainStep, tuple]:
    torch.manual_seed(0)
    model = TaskMaskedClassifier(MLP(784, [64], 10), None).to(CUDA)
    metric = "l2_logit" if estimator == "exact" else "l2_prob"
    plugin = LaftrPlugin(num_samples=16, inputs="full", estimator=estimator, metric=metric)
    generator = torch.Generator().manual_seed(1)
    for task in range(2):
        x = torch.rand(64, 1, 28, 28, generator=generator).to(CUDA)
        plugin.summaries[task] = summarize(model, (x, torch.zeros(64, dtype=torch.long, device=CUDA)), inputs="full")
    with torch.no_grad():  # away from θ_t, so that the FSD term is not 0 whatever the draws
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    step = TrainStep(model, optimizer, torch.nn.CrossEntropyLoss(), [plugin], mode=mode, precision="fp32", device=CUDA)
    batch = (torch.rand(32, 1, 28, 28, device=CUDA), torch.randint(0, 10, (32,), device=CUDA),
             torch.zeros(32, dtype=torch.long, device=CUDA))
    return step, batch


def losses(step: TrainStep, batch: tuple, steps: int) -> torch.Tensor:
    outs = [step(*batch) for _ in range(steps)]
    return torch.stack([torch.stack([o.cross_entropy, o.terms[0], o.total]) for o in outs])


def test_compiled_step_gives_the_eager_losses_on_cuda():
    runs = {}
    for mode in ("none", "compile"):
        step, batch = laftr_step(mode)
        torch.manual_seed(5)
        with inductor_config.patch(fallback_random=True):
            runs[mode] = losses(step, batch, 5)
    torch.testing.assert_close(runs["compile"], runs["none"], rtol=1e-4, atol=1e-6)


def test_cuda_graph_step_gives_the_eager_losses_with_the_exact_estimator():
    """No random draws: replaying the captured step must reproduce the eager steps."""
    runs = {}
    for mode in ("none", "cudagraph"):
        step, batch = laftr_step(mode, estimator="exact")
        runs[mode] = losses(step, batch, 8)  # 3 eager warm-up steps, the capture, 4 more replays
    torch.testing.assert_close(runs["cudagraph"], runs["none"], rtol=1e-4, atol=1e-6)


def test_cuda_graph_replays_draw_fresh_gates_and_inputs():
    """With the weights frozen (lr 0) the eager FSD term varies only through the draws: so must the
    replayed one's, with the same mean."""
    terms = {}
    for mode in ("none", "cudagraph"):
        step, batch = laftr_step(mode, lr=0.0)
        torch.manual_seed(0)
        terms[mode] = losses(step, batch, 40)[:, 1]
    replayed = terms["cudagraph"][4:]
    assert replayed.unique().numel() == replayed.numel()
    assert abs(replayed.mean() - terms["none"].mean()) < 4 * terms["none"].std() / 40 ** 0.5 + 1e-6


@pytest.mark.parametrize("mode", ["compile", "cudagraph"])
def test_a_compiled_laftr_run_matches_the_eager_one_on_cuda(mode, tmp_path):
    overrides = [*TWO_TASKS, *REGULARIZERS["laftr"], "train.batch_size=16"]
    eager = run_here(overrides, tmp_path / "eager")
    compiled = run_here([*overrides, f"train.compile={mode}"], tmp_path / mode)
    assert compiled["complete"]
    for row_e, row_c in zip(eager["accuracy_matrix"], compiled["accuracy_matrix"]):
        assert all(abs(a - b) < 0.15 for a, b in zip(row_e, row_c))


@pytest.mark.slow
def test_a_compiled_cuda_run_resumes(tmp_path):
    overrides = [*TWO_TASKS, *REGULARIZERS["laftr"], "train.compile=cudagraph"]
    reference = run_here(overrides, tmp_path / "uninterrupted")
    killed = tmp_path / "killed"
    assert run_cli([*overrides, f"hydra.run.dir={killed}"], kill_at="checkpoint_written:1").returncode == -9
    resumed = run_here([*overrides, "resume=true"], killed)
    assert resumed["complete"] and len(resumed["accuracy_matrix"]) == len(reference["accuracy_matrix"])
    assert results(killed)["final"]["average_accuracy"] == pytest.approx(reference["final"]["average_accuracy"], abs=0.15)


def test_bf16_laftr_run_on_cuda(tmp_path):
    out = run_here([*TWO_TASKS, *REGULARIZERS["laftr"], "train.precision=bf16"], tmp_path)
    assert out["complete"] and out["final"]["average_accuracy"] > 0.1


def test_no_host_reads_in_a_cuda_training_epoch(make_strategy, monkeypatch):
    from test_host_syncs import reads_in_second_task_epoch

    for compile_mode in ("none", "cudagraph"):
        strategy, benchmark = make_strategy(LaftrPlugin(num_samples=4, inputs="diag"), device="cuda",
                                            check_every=10**6, compile=compile_mode)
        calls, iterations = reads_in_second_task_epoch(strategy, benchmark, monkeypatch)
        assert iterations > 3 and calls == [], compile_mode


def test_the_fsd_study_runs_on_cuda(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="fsd_study", overrides=[
            "device=cuda", "data.synthetic={train_per_class: 20, test_per_class: 1}", "model.net.hidden_sizes=[16]",
            "train.epochs_a=1", "train.epochs_b=1", "train.batch_size=16", "checkpoints.count=2",
            "perturbations.count=1", "fsd.repeats=1", "fsd.num_samples=8", "methods.laftr.rank=[3]",
            "methods.laftr.coreset_size=[5]", "methods.coreset.sizes=[5]", "methods.ntk.sizes=[5]"])
    rows = run_study(cfg, tmp_path)
    assert rows and all(row["points"] == 3 for row in rows)


@pytest.mark.parametrize("script", ["influence.py", "mislabeled.py"])
@pytest.mark.slow
def test_the_influence_scripts_run_on_cuda(script, tmp_path):
    import json
    import os
    import subprocess

    from helpers import REPO_ROOT
    tiny = ["device=cuda", "data=synthetic", "data.synthetic.train_per_class=6", "data.synthetic.test_per_class=2",
            "model.net.hidden_sizes=[8]", "train.epochs=2", "solver.steps=3", "methods.subset.size=10",
            "methods.laftr_coreset.coreset_size=2", "num_train=40", "num_test=8"]
    extra = ["num_queries=3"] if script == "influence.py" else ["flip_fraction=0.2"]
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), *tiny, *extra, f"hydra.run.dir={tmp_path}"],
                            cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "results.json").read_text())["table"]
