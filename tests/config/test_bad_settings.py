"""A table of bad settings: each is answered at the CLI before any data is loaded or model trained,
in one paragraph that names the setting, with exit code 2 and no traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from helpers import REPO_ROOT
from laftr_cl import cli
from laftr_cl.loggers.console import VERBOSE_ENV

LAFTR = "regularizer=laftr"
BAD_SETTINGS = [
    # (command-line overrides, text the answer must contain: the setting, and a fix where known)
    (f"{LAFTR} regularizer.plugin.estimator=foo", "regularizer.plugin.estimator='foo'"),
    (f"{LAFTR} regularizer.plugin.metric=foo", "regularizer.plugin.metric='foo'"),
    (f"{LAFTR} regularizer.plugin.inputs=foo", "regularizer.plugin.inputs='foo'"),
    (f"{LAFTR} regularizer.plugin.gate_draws=foo", "regularizer.plugin.gate_draws='foo'"),
    (f"{LAFTR} regularizer.plugin.anchor=foo", "regularizer.plugin.anchor='foo'"),
    (f"{LAFTR} regularizer.plugin.num_samples=2.5", "regularizer.plugin.num_samples=2.5"),
    (f"{LAFTR} regularizer.plugin.inputs=lowrank regularizer.plugin.rank=100000", "regularizer.plugin.rank=20"),
    (f"{LAFTR} regularizer.plugin.classwise=maybe", "regularizer.plugin.classwise='maybe'"),
    (f"{LAFTR} regularizer.plugin.fsd_lamda=1", "regularizer.plugin.fsd_lambda=1"),
    (f"{LAFTR} +regularizer.plugin.fsd_lamda=1", "Did you mean 'fsd_lambda'"),
    (f"{LAFTR} regularizer.plugin.fsd_lambda=-1", "regularizer.plugin.fsd_lambda=-1"),
    (f"{LAFTR} regularizer.plugin.estimator=exact", "regularizer.plugin.metric=l2_logit"),
    (f"{LAFTR} regularizer.plugin.rates=none", "regularizer.plugin.estimator=relu"),
    (f"model=cifar_net {LAFTR} regularizer.plugin.estimator=exact regularizer.plugin.metric=l2_logit", "needs an MLP"),
    ("regularizer=none regularizer.plugin.fsd_lambda=1", "fsd_lambda is an option of regularizer=coreset_fsd"),
    ("regularizer=ewc_online regularizer.plugin.decay_factor=5", "regularizer.plugin.decay_factor=5"),
    ("regularizer=ewc regularizer.plugin.mode=online", "regularizer.plugin.decay_factor=0.9"),
    ("regularizer=ewc regularizer.plugin.ewc_lambda=-1", "regularizer.plugin.ewc_lambda=-1"),
    ("regularizer=si regularizer.plugin.eps=0", "regularizer.plugin.eps=0"),
    ("regularizer=replay regularizer.plugin.mem_size=0", "regularizer.plugin.mem_size=0"),
    ("regularizer=lwf regularizer.plugin.temperature=0", "regularizer.plugin.temperature=0"),
    ("regularizer=mas regularizer.plugin.alpha=2", "regularizer.plugin.alpha=2"),
    ("regularizer=coreset_fsd regularizer.plugin.coreset_size=0", "regularizer.plugin.coreset_size=0"),
    ("regularizer=nope", "Did you mean 'none'"),
    ("benchmark=mnist_big", "benchmark='mnist_big'"),
    ("experiment=paper_split_mnistt", "Did you mean 'paper_split_mnist'"),
    ("hydra/launcher=nope", "hydra/launcher='nope'"),
    ("train.epoch=1", "train.epochs=1"),
    ("+train.epoch=5", "train.epochs=5"),
    ("train.epochs=abc", "train.epochs='abc'"),
    ("train.epochs=0", "train.epochs=0"),
    ("train.batch_size=0", "train.batch_size=0"),
    ("seed=-1", "seed=-1"),
    ("seed=99999999999", "seed=99999999999"),
    ("optimizer.lr=abc", "optimizer.lr='abc'"),
    ("optimizer.lr=0", "optimizer.lr=0"),
    ("device=tpu", "device='tpu'"),
    ("data.synthetic=foo", "data.synthetic='foo'"),
    ("data.synthetic.train_per_class=0", "data.synthetic.train_per_class=0"),
    ("data.preprocessing=rawx", "Did you mean 'raw'"),
    ("data.validation_fraction=1.5", "data.validation_fraction=1.5"),
    ("model.net.hidden_sizes=[0]", "model.net.hidden_sizes=[0]"),
    ("model.net.hidden_sizes=[1,", "model.net.hidden_sizes"),
    ("model.net.dropout=1.5", "model.net.dropout=1.5"),
    ("resume=maybe", "resume='maybe'"),
    ("guard.max_regularizer_ratio=-1", "guard.max_regularizer_ratio=-1"),
    ("-m regularizer=none,ewc regularizer.plugin.ewc_lambda=5", "ewc_lambda is an option of regularizer=ewc"),
    ("-m seed=0,-1", "seed=-1"),
    ("benchmark=permuted_mnist benchmark.scenario=task", "benchmark.scenario=domain"),
    ("train.precision=fp16", "train.precision='fp16'"),
    ("train.compile=fast", "train.compile='fast'"),
    ("device=cpu train.compile=cudagraph", "train.compile=compile"),
    ("regularizer.strategy=naiv", "Did you mean 'naive'"),
    ("regularizer=joint train.precision=bf16", "train.precision=fp32"),
    ("-m train.precision=fp32,fp16", "train.precision='fp16'"),  # caught before the sweep starts
]
if not torch.cuda.is_available():
    BAD_SETTINGS.append(("device=cuda", "CUDA is not available"))


def _answer(args: list[str], capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["laftr-cl", *args])
    monkeypatch.setenv(VERBOSE_ENV, "1")  # keep this process's warning display and wandb settings as they are
    with pytest.raises(SystemExit) as stop:
        cli.main()
    out = capsys.readouterr()
    return stop.value.code, out.out + out.err


@pytest.mark.parametrize("overrides, expected", BAD_SETTINGS, ids=[o for o, _ in BAD_SETTINGS])
def test_bad_setting_is_answered_in_one_paragraph_before_training(overrides, expected, tmp_path, capsys,
                                                                   monkeypatch):
    flags = [a for a in overrides.split() if a.startswith("-")]
    args = [*flags, "debug=fast", f"paths.log_dir={tmp_path}", *(a for a in overrides.split() if a not in flags)]
    code, output = _answer(args, capsys, monkeypatch)
    assert code == 2
    assert expected in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("laftr-cl: "), output
    assert "Traceback" not in output and "HYDRA_FULL_ERROR" not in output
    assert "laftr-cl ..." not in output  # the example fix became the corrected command
    assert not any(tmp_path.iterdir())  # no run folder: nothing started


def test_the_corrected_command_replaces_the_bad_override():
    command = cli.corrected_command(["regularizer=laftr", "regularizer.plugin.fsd_lamda=1"],
                                    "regularizer.plugin.fsd_lamda", "regularizer.plugin.fsd_lambda=1")
    assert command == "laftr-cl regularizer=laftr regularizer.plugin.fsd_lambda=1"
    assert cli.corrected_command(["+train.epoch=5", "seed=1"], "train.epoch", "train.epochs=5") == \
        "laftr-cl seed=1 train.epochs=5"


def test_home_in_data_root_is_expanded(tmp_path, monkeypatch):
    from laftr_cl.config.preflight import expand_home

    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_home(["data.root=~/data", "seed=1", "paths.log_dir=~"]) == \
        [f"data.root={tmp_path}/data", "seed=1", f"paths.log_dir={tmp_path}"]


def test_a_quoted_home_in_data_root_is_the_home_folder_not_a_folder_named_tilde(tmp_path, monkeypatch):
    from helpers import compose_run_config
    from laftr_cl.config.checks import ConfigError
    from laftr_cl.run.experiment import run_experiment

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    cfg = compose_run_config(["data.root='~/nowhere'", "logger=csv"], tmp_path)
    with pytest.raises((ConfigError, FileNotFoundError), match=str(tmp_path / "nowhere")):
        run_experiment(cfg, tmp_path)
    assert not (tmp_path / "~").exists()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "laftr_cl.cli", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("overrides, expected", [
    ("regularizer.plugin.fsd_lamda=1", "regularizer=none has no options"),
    ("data.synthetic=foo", "data.synthetic='foo'"),
    ("benchmark=permuted_mnist benchmark.scenario=task", "one shared head"),
])
@pytest.mark.slow
def test_bad_setting_through_the_command(overrides, expected, tmp_path):
    out = _cli("debug=fast", f"paths.log_dir={tmp_path}", *overrides.split())
    assert out.returncode == 2, out.stderr[-2000:]
    output = out.stdout + out.stderr
    assert expected in output
    assert "Traceback" not in output and "HYDRA_FULL_ERROR" not in output
    assert [line for line in output.splitlines() if line.startswith("laftr-cl: ")] == [output.strip().splitlines()[-1]]
    assert not list(tmp_path.rglob("results.json"))


@pytest.mark.slow
def test_traceback_on_request(tmp_path):
    out = subprocess.run([sys.executable, "-m", "laftr_cl.cli", "seed=-1", f"paths.log_dir={tmp_path}"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, cli.TRACEBACK_ENV: "1"})
    assert out.returncode != 0 and "Traceback" in out.stderr and "ConfigError" in out.stderr
