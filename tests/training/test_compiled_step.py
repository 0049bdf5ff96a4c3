"""``train.compile``: the compiled step trains as the eager one, resumes, and refuses what it cannot run.

torch.compile on this 2-core CPU needs about 20 s per compiled step (Inductor generates and builds
C++): measured here, the first compile of the LAFTR step took 21 s, and the whole file 24 s once
Inductor's on-disk cache held the graphs (expect about a minute and a half on a cold cache).
"""
from __future__ import annotations

import pytest
import torch
import torch._inductor.config as inductor_config
from avalanche.training.plugins import EWCPlugin

from laftr_cl.config.checks import ConfigError
from laftr_cl.fsd import summarize
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.training.compiled_step import TrainStep
from reliability.fault_runs import FOUR_TASKS, assert_same_model, checkpoint, run_here, run_killed

TWO_TASKS = [*FOUR_TASKS, "benchmark.num_experiences=2", "regularizer=laftr", "regularizer.plugin.num_samples=8",
             "regularizer.plugin.inputs=diag", "train.compile=compile"]


@pytest.fixture
def eager_random_draws():
    """Compiled code draws with torch's own generator (Inductor's default is its own RNG)."""
    with inductor_config.patch(fallback_random=True):
        yield


def laftr_at_two_tasks() -> tuple[torch.nn.Module, LaftrPlugin, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = TaskMaskedClassifier(MLP(784, [32], 10), None)
    plugin = LaftrPlugin(num_samples=8, inputs="full", estimator="bernoulli", metric="l2_prob")
    generator = torch.Generator().manual_seed(1)
    for task in range(2):
        x = torch.rand(64, 1, 28, 28, generator=generator)
        plugin.summaries[task] = summarize(model, (x, torch.zeros(64, dtype=torch.long)), inputs="full")
    return model, plugin, torch.optim.Adam(model.parameters(), lr=1e-2)


def test_compiled_laftr_step_gives_the_eager_losses_at_two_earlier_tasks(eager_random_draws):
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    t = torch.zeros(16, dtype=torch.long)
    runs = {}
    for mode in ("none", "compile"):
        model, plugin, optimizer = laftr_at_two_tasks()
        step = TrainStep(model, optimizer, torch.nn.CrossEntropyLoss(), [plugin], mode=mode, precision="fp32",
                         device=torch.device("cpu"))
        torch.manual_seed(5)
        outs = [step(x, y, t) for _ in range(4)]
        runs[mode] = (torch.stack([torch.stack([o.cross_entropy, o.terms[0], o.total]) for o in outs]),
                      [p.detach().clone() for p in model.parameters()])
    (eager, eager_params), (compiled, compiled_params) = runs["none"], runs["compile"]
    assert eager[1:, 1].min() > 1e-3  # the FSD term is really there after the first update
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-6)
    for a, b in zip(compiled_params, eager_params):  # Adam's m/√v turns 1e-7 gradient differences of
        torch.testing.assert_close(a, b, rtol=0, atol=1e-3)  # near-zero gradients into ~1e-4 (lr 1e-2)


@pytest.mark.slow
def test_a_compiled_run_killed_after_task_1_resumes_to_the_uninterrupted_result(tmp_path, eager_random_draws):
    reference = run_here(TWO_TASKS, tmp_path / "uninterrupted")
    assert run_killed(TWO_TASKS, tmp_path / "killed", "checkpoint_written:1") == -9
    assert checkpoint(tmp_path / "killed")["progress"] == {"tasks_done": 1, "epochs_done": 0}
    resumed = run_here([*TWO_TASKS, "resume=true"], tmp_path / "killed")
    assert resumed["complete"] and resumed["accuracy_matrix"] == reference["accuracy_matrix"]
    assert_same_model(tmp_path / "killed", tmp_path / "uninterrupted")


def test_compiled_steps_drop_the_last_partial_minibatch(make_strategy):
    strategy, benchmark = make_strategy(None, compile="compile")
    strategy.experience = benchmark.scenario.train_stream[0]
    strategy.adapted_dataset = strategy.experience.dataset
    strategy.make_train_dataloader()
    assert benchmark.train[0].y.shape[0] == 100 and len(strategy.dataloader) == 100 // 16
    assert all(x.shape[0] == 16 for x, _, _ in strategy.dataloader)


@pytest.mark.parametrize(("options", "message"), [
    ({"compile": "cudagraph"}, "train.compile=cudagraph captures the step in a CUDA graph"),
    ({"compile": "fast"}, "train.compile='fast' is not a mode"),
    ({"precision": "fp16"}, "train.precision='fp16' is not a precision"),
])
def test_settings_that_cannot_run_are_named(make_strategy, options, message):
    with pytest.raises(ConfigError, match=message):
        make_strategy(None, **options)


def test_a_plugin_acting_inside_the_step_is_refused_with_the_fix(make_strategy):
    with pytest.raises(ConfigError, match=r"EWCPlugin acts inside the step \(before_backward\).*train.compile=none"):
        make_strategy(EWCPlugin(ewc_lambda=1.0), compile="compile")
