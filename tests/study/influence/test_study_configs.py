"""Every study config composes, and every configured method builds on a tiny network."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from helpers import compose_config
from laftr_cl.influence import SolverSettings
from laftr_cl.study.influence.methods import run_method
from laftr_cl.study.influence.setup import selected_methods, solver_settings

BENCHMARKS = {"fashion_mnist": "split_fmnist", "mnist_5k": "split_mnist", "synthetic": "split_mnist"}


def compose_study(name: str, overrides: list[str]):
    return compose_config(f"{name}_study", overrides)


@pytest.mark.parametrize("name", ["influence", "mislabeled"])
@pytest.mark.parametrize("data", ["fashion_mnist", "mnist_5k", "synthetic"])
def test_every_study_config_composes(name, data):
    cfg = compose_study(name, [f"data={data}", "paths.data_dir=/datasets"])
    assert cfg.data.name == data and cfg.metric == "kl"
    assert cfg.benchmark.name == BENCHMARKS[data] and cfg.model.name == "mlp"
    assert cfg.data.root == ("unused" if data == "synthetic" else f"/datasets/{data.replace('_', '-')}")
    assert OmegaConf.to_container(cfg, resolve=True)["model"]["net"]["num_outputs"] == 10
    methods = selected_methods(cfg)
    assert cfg.reference in methods and all("proximity" in spec for spec in methods.values())
    settings = solver_settings(cfg)
    assert settings.epsilon == pytest.approx(cfg.solver.epsilon_scale / cfg.num_train)


def test_selection_errors_name_the_setting():
    cfg = compose_study("influence", ["select=[true_fsd,nope]"])
    with pytest.raises(ValueError, match=r"names \['nope'\], which are not in methods/"):
        selected_methods(cfg)


def test_every_default_method_builds_and_solves_on_a_tiny_net(problem):
    cfg = compose_study("influence", [])
    with open_dict(cfg):
        cfg.methods.subset.size = 10
        cfg.methods.laftr_lowrank.rank = 2
        cfg.methods.laftr_coreset.coreset_size = 2
    for name, spec in selected_methods(cfg).items():
        run = run_method(name, spec, problem.model, (problem.x, problem.y), (problem.x[:2], problem.y[:2]),
                         metric=cfg.metric, solver=SolverSettings(epsilon=0.1, steps=2), seed=0)
        assert run.offsets["1.weight"].shape == (2, *problem.model[1].weight.shape), name
        assert all(torch.isfinite(d).all() for d in run.offsets.values()), name


def test_a_bad_method_option_names_its_entry(problem):
    with pytest.raises(ValueError, match=r"methods\.tiny_subset: subset size=999"):
        run_method("tiny_subset", {"proximity": "subset", "size": 999}, problem.model, (problem.x, problem.y),
                   (problem.x[:1], problem.y[:1]), metric="kl", solver=SolverSettings(epsilon=0.1, steps=1), seed=0)
