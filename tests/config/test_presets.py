"""Every protocol preset composes with every regularizer, and each pair trains (a short synthetic run)."""
from __future__ import annotations

import pytest
from hydra.utils import get_class, instantiate

from helpers import REPO_ROOT, compose_run_config
from laftr_cl.config.checks import ConfigError, validate_config
from laftr_cl.regularizers.specs import spec_for
from laftr_cl.regularizers.structure import lacks
from laftr_cl.run.experiment import run_experiment

PRESETS = sorted(p.stem for p in (REPO_ROOT / "configs" / "experiment").glob("paper_*.yaml"))
REGULARIZERS = sorted(p.stem for p in (REPO_ROOT / "configs" / "regularizer").glob("*.yaml"))
SHORT = ["debug=fast", "benchmark.num_experiences=2", "train.epochs=1", "train.first_task_epochs=null",
         "hydra.mode=RUN"]
SMALL_NET = {"mlp": ["model.net.hidden_sizes=[16]"],
             "cifar_net": ["data.synthetic.train_per_class=2", "data.synthetic.test_per_class=1"]}
RUN_PRESETS = ("paper_split_mnist", "paper_permuted_mnist", "paper_split_cifar")
"""The protocols that the paper_compare_* sweeps reuse are the 5k/fmnist presets: those three cover the
benchmarks and models; Split CIFAR runs every regularizer but LAFTR, whose low-rank summary of 3072-d
inputs takes minutes on the CPU."""


def refused_by_its_declaration(cfg) -> bool:
    """Whether the regularizer's declaration refuses this preset — its own check (DER and iCaRL need one
    head, GEM its QP solver) or a structure the preset's model lacks (liftr on the paper's conv net, which
    max-pools); then validation must refuse it, naming the same setting or the model."""
    spec = spec_for(cfg.regularizer.name)
    options = {k: v for k, v in (cfg.regularizer.plugin or {}).items() if k != "_target_"}
    problem = spec.check(options, cfg) if spec.check is not None else None
    net = instantiate(cfg.model.net)
    lacking = any(lacks(need.structure, net) for need in spec.requires if not need.when)
    if problem is None and not lacking:
        return False
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    if problem is not None:
        assert err.value.setting == problem[0]
    else:
        assert f"regularizer={spec.name}" in str(err.value) and f"model={cfg.model.name}" in str(err.value)
    return True


def test_there_are_presets_and_regularizers():
    assert {"paper_split_mnist", "paper_permuted_mnist", "paper_split_cifar"} <= set(PRESETS)
    assert {"laftr", "ewc", "none", "joint", "replay"} <= set(REGULARIZERS)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_with_every_regularizer(preset, tmp_path):
    for regularizer in REGULARIZERS:
        cfg = compose_run_config([f"experiment={preset}", f"regularizer={regularizer}"], tmp_path)
        assert cfg.regularizer.name == regularizer
        if refused_by_its_declaration(cfg):
            continue
        validate_config(cfg)
        if cfg.regularizer.plugin is not None and not spec_for(regularizer).owns_loop:  # (a strategy needs the model)
            # the plugin takes every option the preset leaves
            plugin = instantiate(cfg.regularizer.plugin)
            assert isinstance(plugin, get_class(cfg.regularizer.plugin._target_))


@pytest.mark.parametrize("preset, expected", [
    ("paper_split_mnist", {"estimator": "relu", "num_samples": 40, "inputs": "full"}),
    ("paper_permuted_mnist", {"estimator": "relu", "num_samples": 40, "inputs": "full"}),
    ("paper_split_cifar", {"estimator": "bernoulli", "metric": "kl", "num_samples": 200, "fsd_lambda": 10.0,
                           "inputs": "lowrank", "rank": 50, "classwise": True}),
])
def test_the_papers_laftr_settings_apply_with_laftr_and_yield_to_the_command_line(preset, expected):
    plugin = compose_run_config([f"experiment={preset}"]).regularizer.plugin
    assert {k: plugin[k] for k in expected} == expected
    mine = compose_run_config([f"experiment={preset}", "regularizer.plugin.num_samples=7"]).regularizer.plugin
    assert mine.num_samples == 7


@pytest.mark.parametrize("preset", ["paper_split_mnist", "paper_permuted_mnist", "paper_compare_split_mnist",
                                    "paper_compare_permuted_mnist"])
def test_mnist_presets_feed_raw_pixels_as_the_authors_code(preset):
    assert compose_run_config([f"experiment={preset}"]).data.preprocessing == "raw"


@pytest.mark.parametrize("preset", RUN_PRESETS)
def test_every_regularizer_trains_under_the_preset(preset, tmp_path):
    model = compose_run_config([f"experiment={preset}"]).model.name
    for regularizer in REGULARIZERS:
        if preset == "paper_split_cifar" and regularizer.startswith("laftr"):
            continue
        out = tmp_path / regularizer
        out.mkdir()
        cfg = compose_run_config([f"experiment={preset}", f"regularizer={regularizer}", *SHORT, *SMALL_NET[model]], out)
        if refused_by_its_declaration(cfg):
            continue
        results = run_experiment(cfg, out)
        assert results["complete"] and len(results["accuracy_matrix"]) == (1 if regularizer == "joint" else 2)


@pytest.mark.parametrize("multirun, overrides, jobs", [
    (None, ["hydra.mode=RUN", "+frontier_point=si", "seed=0"], 1),  # a single point of a sweep preset
    (False, ["+frontier_point=si"], 1),  # `-r` ignores the preset's sweep
    (None, ["+frontier_point=si"], 3),  # the command line's point wins over the preset's list; 3 seeds
    (True, ["+frontier_point=si", "seed=0,1"], 2),
])
def test_a_sweep_preset_checks_the_jobs_hydra_will_run(multirun, overrides, jobs):
    from laftr_cl.cli import CONFIG_DIR
    from laftr_cl.config.preflight import preflight

    assert preflight(CONFIG_DIR, ["experiment=frontier_split_mnist", *overrides], multirun=multirun) == jobs
