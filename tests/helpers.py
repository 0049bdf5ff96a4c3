"""Shared test helpers: composing the project's Hydra configs, running the CLI and scripts in a
subprocess, a tiny seeded MLP, and locating ../shared data."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict
from torch import nn

from laftr_cl.cli import CONFIG_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """Path of ``../shared/datasets/<name>``; skips the test cleanly when it is absent."""
    path = SHARED_DATASETS / name
    if not (path.is_dir() and any(path.rglob("*-ubyte*"))):
        pytest.skip(f"{path} is not present (the shared datasets sit beside the repository)")
    return path


def compose_config(config_name: str, overrides: list[str] = (), *, hydra_config: bool = False) -> DictConfig:
    """Composes ``configs/<config_name>.yaml`` (``config``, ``fsd_study``, ...) with ``overrides``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=hydra_config)


def compose_run_config(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """Composes ``configs/config.yaml`` as the CLI would, with Hydra's runtime output dir set.

    With ``output_dir`` the config is also registered as the current Hydra config, so that
    ``${hydra:runtime.output_dir}`` in logger configs resolves to it.
    """
    cfg = compose_config("config", overrides, hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(output_dir)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
    return cfg


def run_python(args: list[str], *, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """``python <args>`` with this interpreter (e.g. ``["-m", "laftr_cl.cli", ...]`` or a script and
    its arguments), one torch thread, the checkout first on the import path; output captured as text."""
    base = {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def run_cli(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``laftr-cl <args>`` as a subprocess (``python -m laftr_cl.cli``); keywords as :func:`run_python`."""
    return run_python(["-m", "laftr_cl.cli", *args], **kwargs)


def tiny_mlp(sizes=(6, 5, 4, 3), seed: int = 0, dropout: float = 0.0, dtype=torch.float64) -> nn.Sequential:
    """Flatten → (Linear → ReLU [→ Dropout])* → Linear, initialized from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    for i, o in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(i, o), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers).to(dtype)


def trained_tiny_mlp(sizes=(5, 6, 3), n: int = 40, seed: int = 0, epochs: int = 30) -> SimpleNamespace:
    """A :func:`tiny_mlp` (float64) trained on Gaussian class-mean data: ``.model``, ``.x [n, sizes[0]]``, ``.y [n]``."""
    from laftr_cl.study.training import train_classifier

    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % sizes[-1]
    x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64) + y[:, None].to(torch.float64)
    model = tiny_mlp(sizes, seed=seed)
    train_classifier(model, x, y, epochs=epochs, batch_size=10, lr=1e-2, generator=g)
    return SimpleNamespace(model=model, x=x, y=y)


def tiny_benchmark():
    """Synthetic Split MNIST, 5 tasks, 12 training and 4 test images per class (no files)."""
    from laftr_cl.benchmarks import build_benchmark

    return build_benchmark("split_mnist", root="unused", num_experiences=5,
                           synthetic={"train_per_class": 12, "test_per_class": 4})


def tiny_strategy(benchmark, plugins: list, seed: int = 0, net: nn.Module | None = None):
    """A naive CPU strategy (1 epoch, batches of 8, Adam 1e-2) over a multi-head MLP 784-16-10 (or ``net``)."""
    from avalanche.training.plugins import EvaluationPlugin

    from laftr_cl.models import MLP, TaskMaskedClassifier
    from laftr_cl.training.strategy import build_strategy

    torch.manual_seed(seed)
    model = TaskMaskedClassifier(net or MLP(784, [16], 10), benchmark.task_classes)
    return build_strategy("naive", model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
                          plugins=plugins, evaluator=EvaluationPlugin(), benchmark=benchmark,
                          device=torch.device("cpu"), epochs=1, batch_size=8, eval_batch_size=64)


def train_side_by_side(plain, regularized, experiences) -> list[list[bool]]:
    """Trains both strategies on each experience from the same seed; per experience, whether each
    parameter tensor of the two models is still equal afterwards."""
    same = []
    for exp in experiences:
        for strategy in (plain, regularized):
            torch.manual_seed(100 + exp.current_experience)
            strategy.train(exp)
        same.append([torch.equal(a, b) for a, b in zip(plain.model.parameters(), regularized.model.parameters())])
    return same


def perturbed(model: nn.Module, scale: float = 0.2, seed: int = 1) -> nn.Module:
    """A deep copy with Gaussian noise of std ``scale`` added to every parameter."""
    import copy

    other = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return other


def assert_gradient_matches_finite_differences(value, params: list[torch.Tensor], *, seed: int = 5,
                                               eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-9) -> None:
    """The autograd gradient of the scalar ``value()`` along a random direction in ``params`` equals the
    central finite difference (float64 parameters; ``value`` must draw the same randomness every call)."""
    grads = torch.autograd.grad(value(), params)
    g = torch.Generator().manual_seed(seed)
    direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
    with torch.no_grad():
        for p, v in zip(params, direction):
            p.add_(eps * v)
        plus = value()
        for p, v in zip(params, direction):
            p.sub_(2 * eps * v)
        minus = value()
        for p, v in zip(params, direction):
            p.add_(eps * v)
    analytic = sum((gr * v).sum() for gr, v in zip(grads, direction))
    assert torch.allclose(analytic, (plus - minus) / (2 * eps), rtol=rtol, atol=atol)


def mean_forgetting(strategy, benchmark, num_tasks: int) -> float:
    """Trains ``strategy`` on each experience of an Avalanche task-incremental ``benchmark`` and returns the
    mean over tasks 0..T−2 of (accuracy right after learning it − accuracy after the last task)."""
    key = "Top1_Acc_Exp/eval_phase/test_stream/Task{0:03d}/Exp{0:03d}"
    first = []
    for task, experience in enumerate(benchmark.train_stream):
        strategy.train(experience)
        first.append(strategy.eval(benchmark.test_stream[task:task + 1])[key.format(task)])
    final = strategy.eval(benchmark.test_stream)
    return sum(first[t] - final[key.format(t)] for t in range(num_tasks - 1)) / (num_tasks - 1)


def regularized_from_the_second_task(benchmark, plugin) -> None:
    """Trains a plain and a ``plugin``-regularized :func:`tiny_strategy` side by side on two tasks and asserts
    the regularizer changes nothing on the first task and something on the second, keeping one summary a task
    whose output units are the task's head (``[2, 3]`` for task 1)."""
    plain = tiny_strategy(benchmark, [])
    regularized = tiny_strategy(benchmark, [plugin])
    same = train_side_by_side(plain, regularized, list(benchmark.scenario.train_stream)[:2])
    assert all(same[0]), "the first task must train exactly as without a regularizer"
    assert not all(same[1])
    assert sorted(plugin.summaries) == [0, 1]
    assert plugin.summaries[1].output_units.tolist() == [2, 3]
