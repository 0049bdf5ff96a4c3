"""The parts of a run, each built from the composed config: device, benchmark, model, loggers,
evaluator. :func:`laftr_cl.run.experiment.run_experiment` puts them together; the scripts and
studies build the same parts with the same functions."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch
from avalanche.evaluation.metrics import bwt_metrics, forgetting_metrics
from avalanche.training.plugins import EvaluationPlugin
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.base import TensorBenchmark
from laftr_cl.config.checks import ConfigError
from laftr_cl.models import TaskMaskedClassifier
from laftr_cl.training.device_metrics import device_metrics


def resolve_device(setting: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; otherwise the named device."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def load_benchmark(cfg: DictConfig, device: torch.device) -> TensorBenchmark:
    """Builds the configured benchmark; data stays on ``device`` when ``data.on_device``."""
    bm = cfg.benchmark
    synthetic = cfg.data.synthetic
    try:
        return build_benchmark(
            bm.name,
            root=to_absolute_path(str(Path(cfg.data.root).expanduser())),
            scenario=bm.scenario,
            num_experiences=bm.num_experiences,
            class_order=list(bm.class_order) if bm.class_order is not None else None,
            seed=cfg.seed,
            synthetic=OmegaConf.to_container(synthetic) if synthetic is not None else None,
            device=device if cfg.data.on_device else "cpu",
            download=cfg.data.download,
            validation_fraction=cfg.data.get("validation_fraction", 0.0),
            preprocessing=cfg.data.get("preprocessing", "standardize"),
        )
    except ValueError as err:  # the builders' setting errors name the setting and the fix
        raise ConfigError(str(err)) from err


def build_model(cfg: DictConfig, benchmark: TensorBenchmark, device: torch.device) -> TaskMaskedClassifier:
    """The configured network, multi-head (masked to each task's classes) for task scenarios.

    Runs one input of the benchmark's shape through it so that a model that does not fit the
    benchmark fails here, with the settings to change, not deep inside training.
    """
    net = instantiate(cfg.model.net)
    task_classes = benchmark.task_classes if benchmark.scenario_kind == "task" else None
    model = TaskMaskedClassifier(net, task_classes).to(device)
    probe = torch.zeros(1, *benchmark.input_shape, device=device)
    try:
        with torch.no_grad():
            logits = model.net.eval()(probe)
    except RuntimeError as err:
        raise ConfigError(
            f"model={cfg.model.name} cannot take the inputs of benchmark={cfg.benchmark.name} "
            f"(one input has shape {tuple(benchmark.input_shape)}): {err}. Pick a model made "
            "for this benchmark (e.g. model=mlp for MNIST-like data, model=cifar_net for CIFAR).") from err
    if logits.shape[-1] < benchmark.num_classes:
        raise ConfigError(
            f"model={cfg.model.name} has {logits.shape[-1]} outputs but "
            f"benchmark={cfg.benchmark.name} has {benchmark.num_classes} classes: leave "
            "model.net.num_outputs at ${benchmark.num_classes}.")
    model.net.train()
    return model


def run_config_dict(cfg: DictConfig) -> dict[str, Any]:
    """The resolved run config as plain data, without Hydra's own ``hydra`` node."""
    full = OmegaConf.to_container(cfg, resolve=True)
    full.pop("hydra", None)
    return full


def build_loggers(cfg: DictConfig, full: dict[str, Any]) -> list[Any]:
    """Instantiates every logger under ``logger``; ``config: null`` gets ``full``, the run config
    as plain data (:func:`run_config_dict`)."""
    return [
        instantiate(entry, _partial_=True)(config=full) if "config" in entry else instantiate(entry)
        for entry in cfg.logger.values()
    ]


def build_evaluator(loggers: list[Any]) -> EvaluationPlugin:
    """Per-epoch and per-experience metrics only, accuracy and loss added up on the device (no
    host read per iteration, see :mod:`~laftr_cl.training.device_metrics`)."""
    return EvaluationPlugin(
        device_metrics(),
        forgetting_metrics(experience=True, stream=True),
        bwt_metrics(experience=True, stream=True),
        loggers=loggers,
    )
