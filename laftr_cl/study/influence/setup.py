"""From a composed study config (``configs/influence_study.yaml``, ``configs/mislabeled_study.yaml``) to
data, a trained MLP, solver settings and the methods to run."""
from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from laftr_cl.config.checks import ConfigError
from laftr_cl.influence.response import SolverSettings
from laftr_cl.models import MLP
from laftr_cl.run.build import resolve_device
from laftr_cl.study.influence.data import Split, load_split
from laftr_cl.study.training import train_classifier


def load_data(cfg: DictConfig) -> Split:
    """``cfg.num_train`` training and ``cfg.num_test`` test examples of ``cfg.benchmark`` read from ``cfg.data``,
    on ``cfg.device`` (drawn on the CPU first, so that a seed picks the same examples on every device)."""
    synthetic = OmegaConf.to_container(cfg.data.synthetic) if cfg.data.synthetic is not None else None
    split = load_split(cfg.benchmark.name, root=cfg.data.root, num_train=cfg.num_train, num_test=cfg.num_test,
                       seed=cfg.seed, synthetic=synthetic)
    device = resolve_device(cfg.get("device", "cpu"))
    return Split(split.x_train.to(device), split.y_train.to(device), split.x_test.to(device), split.y_test.to(device),
                 split.num_classes)


def trained_mlp(cfg: DictConfig, x: Tensor, y: Tensor, num_classes: int) -> nn.Module:
    """An MLP (``cfg.model.net.hidden_sizes``) trained on ``x [N, ...]``, ``y [N]`` as ``cfg.train`` says, in eval mode."""
    if cfg.model.name != "mlp":
        raise ConfigError(f"model={cfg.model.name}: the influence studies train an MLP (their proximity terms "
                          "and solver are sized for one); use model=mlp and set model.net.hidden_sizes.")
    torch.manual_seed(cfg.seed)
    model = MLP(x[0].numel(), list(cfg.model.net.hidden_sizes), num_classes).to(x.device)
    train_classifier(model, x, y, epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, lr=cfg.train.lr,
                     generator=torch.Generator().manual_seed(cfg.seed))
    return model


def mlp_name(cfg: DictConfig, split: Split) -> str:
    """The trained MLP's layer widths, e.g. ``"MLP 784-256-10"``."""
    widths = [split.x_train[0].numel(), *cfg.model.net.hidden_sizes, split.num_classes]
    return "MLP " + "-".join(map(str, widths))


def solver_settings(cfg: DictConfig) -> SolverSettings:
    """``cfg.solver`` with ε = ``epsilon_scale / num_train``."""
    solver = cfg.solver
    return SolverSettings(epsilon=solver.epsilon_scale / cfg.num_train, l2=solver.l2, steps=solver.steps,
                          lr=solver.lr, momentum=solver.momentum, chunk_size=solver.chunk_size)


def selected_methods(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """``cfg.methods`` restricted to ``cfg.select`` (all of them when it is null), as plain dicts, in
    ``select`` order; the reference must be among them."""
    methods = OmegaConf.to_container(cfg.methods, resolve=True)
    names = list(methods) if cfg.select is None else list(cfg.select)
    unknown = [name for name in names if name not in methods]
    if unknown:
        raise ValueError(f"select={names} names {unknown}, which are not in methods/ (known: {list(methods)}).")
    if cfg.reference not in names:
        raise ValueError(f"reference={cfg.reference!r} is not among the selected methods {names}: add it to select.")
    return {name: methods[name] for name in names}
