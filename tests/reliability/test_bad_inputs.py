"""Bad input, one table: each case is refused before anything is written, in one paragraph that names
the setting, with a corrected command that is right (the closest match, never a neighbour option).

The command-line cases run ``laftr-cl``'s ``main`` in this process (they end in the pre-flight
check, before Hydra starts); the cases that need the data or the model end where the run builds
them, and say so in the run's record.
"""
from __future__ import annotations

import re
import shlex
import signal
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import compose_run_config, shared_dataset, tiny_benchmark, tiny_strategy
from laftr_cl import cli
from laftr_cl.config.errors import ConfigError
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.run.experiment import run_experiment
from laftr_cl.training.guards import NoTrainingStepError, TrainingGuard
from reliability.fault_runs import cli_here

SYN = ["data.synthetic={train_per_class: 5, test_per_class: 2}", "logger=csv", "train.epochs=1", "device=cpu"]
"""The tiny synthetic run every case starts from."""

# id, the case's own arguments, what the paragraph must name, the fix the corrected command must hold
# (None: the corrected command drops the bad override), text the corrected command must not hold
CASES = [
    ("plus-key-outside-the-plugin", ["regularizer=ewc", "+regularizer.ewc_lambda=5"],
     r"\+regularizer\.ewc_lambda=5: regularizer has no setting 'ewc_lambda'", "regularizer.plugin.ewc_lambda=5", None),
    ("plus-key-in-the-wrong-block", ["+benchmark.epochs=50"], r"benchmark has no setting 'epochs'", "train.epochs=50",
     None),
    ("plus-key-above-the-net", ["+model.dropout=0.5"], r"model has no setting 'dropout'", "model.net.dropout=0.5", None),
    ("plus-key-typo-in-train", ["+train.epoch=5"], r"train has no setting 'epoch'", "train.epochs=5", None),
    ("adam-has-no-momentum", ["+optimizer.momentum=0.9"], r"torch\.optim\.Adam takes no argument 'momentum'", None,
     "momentum"),
    ("negative-weight-decay", ["optimizer.weight_decay=-1"], r"optimizer\.weight_decay=-1: torch\.optim\.Adam refuses",
     "optimizer.weight_decay=0", "weight_decay=-1"),
    ("net-key-nothing-takes", ["+model.net.foo=1"], r"laftr_cl\.models\.MLP takes no argument 'foo'", None, "foo"),
    ("class-order-not-a-list", ["benchmark.class_order=5"], r"benchmark\.class_order=5", "benchmark.class_order=null",
     None),
    ("option-typo", ["benchmark=split_mnst"], r"benchmark has no option 'split_mnst'.*Did you mean 'split_mnist'",
     "benchmark=split_mnist", "permuted_mnist"),
    ("option-with-no-match", ["benchmark=qqq"], r"benchmark has no option 'qqq'; its options are", None, "laftr-cl "),
    ("synthetic-key-typo", ["data.synthetic={train_per_clas: 5}"], r"data\.synthetic\.train_per_clas",
     "data.synthetic={train_per_class: 5, test_per_class: 10}", "train_per_clas:"),
    ("sweep-without-m", ["seed=0,1"], r"`seed=0,1` gives several values.*no -m", "laftr-cl -m", None),
    ("empty-run-dir", ["hydra.run.dir="], r"hydra\.run\.dir='': the run folder is empty", "hydra.run.dir=logs/my_run",
     None),
    ("compile-task-smaller-than-a-batch", ["data.synthetic={train_per_class: 20, test_per_class: 10}",
                                          "train.compile=compile"],
     r"train\.batch_size=128 with train\.compile=compile.*the smallest holds 40", "train.batch_size=40", None),
    ("compile-batch-larger-than-any-task", ["train.batch_size=100000", "train.compile=compile", "regularizer=laftr"],
     r"train\.batch_size=100000 with train\.compile=compile.*the smallest holds 10", "train.batch_size=10", None),
    ("compile-batch-larger-than-the-real-data", ["data.synthetic=null", "train.batch_size=100000",
                                                 "train.compile=compile"],
     r"the smallest can hold at most 13484", "train.batch_size=13484", None),
    ("compile-with-a-plugin-inside-the-step", ["train.compile=compile", "train.batch_size=8", "regularizer=ewc"],
     r"train\.compile='compile'.*regularizer=ewc acts inside the step", "train.compile=none", None),
    ("compile-sweep-with-a-plugin-inside-the-step", ["-m", "regularizer=laftr,ewc", "train.compile=compile",
                                                     "train.batch_size=8"],
     r"regularizer=ewc acts inside the step", "train.compile=none", None),
    ("compile-with-a-combined-plugin-inside-the-step", ["train.compile=compile", "train.batch_size=8",
                                                        "regularizer=laftr", "+regularizer@combine.si=si"],
     r"combine\.si=si acts inside the step", "train.compile=none", None),
    ("slurm-without-sbatch", ["-m", "hydra/launcher=slurm"], r"hydra/launcher=slurm submits each job with SLURM's sbatch",
     None, None),
]


def _refusal(args: list[str], monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["laftr-cl", *args])
    sigterm = signal.getsignal(signal.SIGTERM)  # main() handles SIGTERM as Ctrl-C: give pytest its own back
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args, names, fix, not_in_fix", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_in_one_paragraph_before_anything_is_written(args, names, fix, not_in_fix, tmp_path,
                                                                        monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where an empty hydra.run.dir would write
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here, whatever the machine has
    run_dir = tmp_path / "run"
    folder = [] if any(a.startswith("hydra.run.dir") for a in args) else [f"hydra.run.dir={run_dir}",
                                                                            f"hydra.sweep.dir={run_dir}"]
    base = [a for a in SYN if a.split("=")[0] not in {b.split("=")[0] for b in args}]
    flags = [a for a in args if a.startswith("-")]
    code, err = _refusal([*flags, *base, *(a for a in args if a not in flags), *folder], monkeypatch, capsys)
    assert code == 2
    assert err.startswith("laftr-cl: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(names, err), err
    corrected = re.findall(r"`(laftr-cl [^`]*)`", err)
    if fix is not None:
        assert corrected and fix in shlex.split(corrected[-1]) + [corrected[-1][:11]], err
    if not_in_fix is not None and corrected:
        assert not_in_fix not in corrected[-1].split("laftr-cl", 1)[1].replace(f"={tmp_path}", ""), err
    assert list(tmp_path.iterdir()) == []  # nothing written: no run folder, nothing in the current one


def test_the_corrected_command_of_a_typo_composes(monkeypatch, capsys, tmp_path):
    """Copying the suggested command runs the experiment meant, not another one."""
    code, err = _refusal([*SYN, "benchmark=split_mnst", f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)
    command = shlex.split(re.findall(r"`(laftr-cl [^`]*)`", err)[-1])[1:]
    assert compose_run_config(command).benchmark.name == "split_mnist"


def test_compile_with_no_full_minibatch_is_refused_before_training(tmp_path):
    cfg = compose_run_config([*SYN, "train.compile=compile", "train.batch_size=100000", "regularizer=laftr"], tmp_path)
    with pytest.raises(ConfigError, match=r"train\.batch_size=100000 with train\.compile=compile.*the smallest holds 10") \
            as refused:
        run_experiment(cfg, tmp_path)
    assert refused.value.fix == "train.batch_size=10"
    assert list(tmp_path.iterdir()) == []  # refused right after the data loaded: nothing written


def test_a_task_that_trains_no_step_fails_and_is_not_recorded():
    benchmark = tiny_benchmark()
    guard = TrainingGuard(check_every=1, max_regularizer_ratio=1e3, strength="", checkpoint_path=None)
    strategy = tiny_strategy(benchmark, [guard])
    strategy.make_train_dataloader = lambda **kwargs: setattr(strategy, "dataloader", [])  # no minibatch at all
    with pytest.raises(NoTrainingStepError, match=r"Task 1 ended after 1 epoch\(s\) without a single optimizer step"):
        strategy.train(benchmark.scenario.train_stream[0])


class Sorted(nn.Module):
    """An op no gated view reads: each example's features sorted."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, dim=-1).values


def test_laftr_on_a_model_it_cannot_read_is_refused_before_any_training():
    benchmark = tiny_benchmark()
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), Sorted(), nn.Linear(16, 10))
    before = [p.detach().clone() for p in net.parameters()]
    strategy = tiny_strategy(benchmark, [LaftrPlugin(num_samples=4, inputs="diag")], net=net)
    with pytest.raises(ConfigError, match=r"LAFTR cannot linearize torch\.sort.*nothing was trained"):
        strategy.train(benchmark.scenario.train_stream[0])
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_an_optimizer_key_the_optimizer_takes_is_accepted(monkeypatch, capsys, tmp_path):
    from laftr_cl.config.preflight import preflight

    assert preflight(cli.CONFIG_DIR, ["optimizer=sgd", "+optimizer.nesterov=true", "+hydra.job.env_set.FOO=1", *SYN]) == 1
    assert preflight(cli.CONFIG_DIR, ["regularizer=laftr", "+regularizer@combine.replay=replay", *SYN]) == 1
    assert not Path(tmp_path).joinpath("run").exists()


REFUSED_ONCE_BUILT = [
    ("data-not-there", lambda tmp: [f"data.root={tmp / 'nowhere'}"], r"cannot read its data under data\.root="),
    ("compile-batch-larger-than-the-real-tasks", lambda tmp: [f"data.root={shared_dataset('mnist-5k')}",
                                                              "train.compile=compile", "train.batch_size=5000"],
     r"train\.batch_size=5000 with train\.compile=compile.*the smallest holds 1000"),
]


@pytest.mark.parametrize("empty_folder", [False, True], ids=["new-folder", "empty-folder"])
@pytest.mark.parametrize("args, names", [case[1:] for case in REFUSED_ONCE_BUILT], ids=[c[0] for c in REFUSED_ONCE_BUILT])
def test_a_run_refused_once_its_data_is_read_leaves_nothing_behind(args, names, empty_folder, tmp_path, monkeypatch,
                                                                   capsys):
    """What only the data can tell is refused after Hydra set the run folder up: the folder this launch
    created (or the files it wrote into an empty one) goes again."""
    runs = tmp_path / "runs"
    runs.mkdir()
    run_dir = runs / "run" if empty_folder else runs / "new" / "run"
    if empty_folder:
        run_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    out = cli_here([*(a for a in SYN if not a.startswith("data.synthetic")), *args(tmp_path),
                    f"hydra.run.dir={run_dir}"], monkeypatch, capsys)
    code, err = out.returncode, out.stderr
    assert code == 2
    assert err.startswith("laftr-cl: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(names, err), err
    assert [p.relative_to(runs) for p in runs.rglob("*")] == ([Path("run")] if empty_folder else [])
