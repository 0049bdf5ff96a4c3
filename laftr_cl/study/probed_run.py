"""One continual-learning run built from ``laftr-cl`` overrides, with a probe plugin beside the
regularizer: what the diagnostic scripts (``scripts/collapse_diagnostic.py``,
``scripts/fsd_under_training.py``) train. CPU, seeded; no logger, no run folder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from avalanche.core import SupervisedPlugin
from avalanche.training.determinism.rng_manager import RNGManager
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from laftr_cl.config.root import CONFIG_DIR
from laftr_cl.run.build import build_evaluator, build_model, load_benchmark, resolve_device
from laftr_cl.training.strategy import build_strategy


@dataclass
class ProbedRun:
    """The composed config, the benchmark (tensors and scenario), the regularizer plugin and the
    strategy that trains with it and the probe."""

    cfg: DictConfig
    benchmark: Any
    regularizer: Any
    strategy: Any


def probed_run(overrides: list[str], probe: Callable[[Any, Any], SupervisedPlugin],
               check: Callable[[DictConfig, Any], None] | None = None) -> ProbedRun:
    """Composes ``configs/config.yaml`` with ``overrides``, seeds, builds the benchmark and model on the
    CPU, instantiates ``cfg.regularizer.plugin``, runs ``check(cfg, regularizer)`` (it may exit with a
    message), and returns a naive strategy with the plugins ``[regularizer, probe(regularizer, benchmark)]``."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    device = resolve_device("cpu")
    RNGManager.set_random_seeds(cfg.seed)
    benchmark = load_benchmark(cfg, device)
    model = build_model(cfg, benchmark, device)
    optimizer = instantiate(cfg.optimizer, params=model.parameters())
    regularizer = instantiate(cfg.regularizer.plugin)
    if check is not None:
        check(cfg, regularizer)
    strategy = build_strategy("naive", model=model, optimizer=optimizer,
                              plugins=[regularizer, probe(regularizer, benchmark)],
                              evaluator=build_evaluator([]), benchmark=benchmark, device=device,
                              epochs=cfg.train.epochs, batch_size=cfg.train.batch_size,
                              eval_batch_size=cfg.train.eval_batch_size)
    return ProbedRun(cfg, benchmark, regularizer, strategy)
