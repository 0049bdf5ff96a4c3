"""Every config option composes, and unknown options fail with Hydra's own message."""
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from helpers import REPO_ROOT, compose_run_config, run_cli

CONFIGS = REPO_ROOT / "configs"


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


@pytest.mark.parametrize("group", ["benchmark", "model", "regularizer", "optimizer", "logger",
                                   "experiment"])
def test_every_option_of_a_group_composes_and_resolves(group, tmp_path):
    options = _options(group)
    assert options, f"configs/{group} is empty"
    for option in options:
        cfg = compose_run_config([f"{group}={option}"], tmp_path)
        container = OmegaConf.to_container(cfg, resolve=True)
        assert "${" not in str(container), f"{group}={option} leaves an interpolation unresolved"
        if group in ("benchmark", "model", "regularizer"):  # the option picked is the one in the config
            assert container[group]["name"] == option


def test_default_config_is_split_mnist_mlp_naive(tmp_path):
    cfg = compose_run_config([], tmp_path)
    assert (cfg.benchmark.name, cfg.model.name, cfg.regularizer.name) == ("split_mnist", "mlp", "none")
    assert cfg.model.net.num_outputs == cfg.benchmark.num_classes == 10


def test_unknown_option_lists_the_choices():
    with pytest.raises(ConfigCompositionException) as err:
        compose_run_config(["regularizer=nope"])
    message = str(err.value) + str(err.value.__cause__)
    assert "nope" in message and "ewc" in message and "replay" in message


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="not_a_setting"):
        compose_run_config(["train.not_a_setting=3"])


@pytest.mark.slow
def test_cli_help_and_cfg_job():
    out = run_cli(["--help"])
    assert out.returncode == 0 and "regularizer: " in out.stdout and "laftr-cl" in out.stdout
    job = run_cli(["benchmark=split_fmnist", "regularizer=ewc", "--cfg", "job"])
    assert job.returncode == 0
    cfg = OmegaConf.create(job.stdout)
    assert cfg.benchmark.name == "split_fmnist"
    assert cfg.regularizer.plugin._target_ == "avalanche.training.plugins.EWCPlugin"


@pytest.mark.slow
def test_cli_help_lists_only_the_groups_a_run_uses():
    out = run_cli(["--help"])
    groups = out.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "experiment: " in groups and "hydra/launcher: " in groups
    assert not any(line.startswith(("influence", "study", "method_settings")) for line in groups.splitlines())


@pytest.mark.slow
def test_cli_unknown_option_names_the_choices():
    out = run_cli(["benchmark=mnist_big", "--cfg", "job"])
    assert out.returncode != 0
    assert "mnist_big" in out.stderr and "split_mnist" in out.stderr
