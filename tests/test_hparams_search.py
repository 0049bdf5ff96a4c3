"""hparams_search presets: they compose, tune existing settings, and a 2-trial Optuna sweep runs
on a validation split and prints the best setting."""
import json

import pytest
import yaml
from omegaconf import OmegaConf

from helpers import REPO_ROOT, compose_run_config, run_cli

PRESETS = sorted(p.stem for p in (REPO_ROOT / "configs" / "hparams_search").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_composes_and_tunes_settings_that_exist(preset, tmp_path):
    cfg = compose_run_config([f"hparams_search={preset}"], tmp_path)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.data.validation_fraction > 0  # scored on held-out training data, not the test set
    assert "optimizer.lr" in sweeper.params
    for key in sweeper.params:
        assert OmegaConf.select(cfg, key) is not None, f"{preset} tunes {key}, which the config does not have"
    if preset != "optuna":
        assert cfg.regularizer.name == preset.removesuffix("_optuna")
        assert any(key.startswith("regularizer.plugin.") for key in sweeper.params)


@pytest.mark.slow
def test_two_trial_optuna_sweep_prints_the_best_setting(tmp_path):
    args = ["hparams_search=coreset_fsd_optuna", "debug=fast", "hydra.sweeper.n_trials=2",
            "benchmark.num_experiences=2", "model.net.hidden_sizes=[16]", f"paths.log_dir={tmp_path}"]
    out = run_cli(args)
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert "Best parameters:" in log and "regularizer.plugin.fsd_lambda" in log
    (best_file,) = tmp_path.glob("multiruns/*/optimization_results.yaml")
    best = yaml.safe_load(best_file.read_text())
    trials = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("multiruns/*/*/results.json"))]
    assert len(trials) == 2
    assert all(t["benchmark"]["eval_split"] == "validation" for t in trials)
    lambdas = {t["config"]["regularizer"]["plugin"]["fsd_lambda"]: t["final"]["average_accuracy"] for t in trials}
    assert len(lambdas) == 2  # the trials tried different λ
    best_lambda = best["best_params"]["regularizer.plugin.fsd_lambda"]
    assert lambdas[best_lambda] == pytest.approx(best["best_value"]) == pytest.approx(max(lambdas.values()))
