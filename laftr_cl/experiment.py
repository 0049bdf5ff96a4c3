"""One continual-learning run from a composed config: build, train task by task, record."""
from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any

import torch
from avalanche.evaluation.metrics import bwt_metrics, forgetting_metrics
from avalanche.training.determinism.rng_manager import RNGManager
from avalanche.training.plugins import EvaluationPlugin
from hydra.utils import instantiate, to_absolute_path
from omegaconf import DictConfig, OmegaConf

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.benchmarks.base import TensorBenchmark
from laftr_cl.checkpointing import Progress, RunCheckpoints
from laftr_cl.config_check import ConfigError, coreset_notes, regularizer_spec, validate_config
from laftr_cl.models import TaskMaskedClassifier
from laftr_cl.regularizers.combination import parts
from laftr_cl.results import ResultsRecorder, write_json_atomic
from laftr_cl.training.device_metrics import device_metrics
from laftr_cl.training.guards import TrainingGuard
from laftr_cl.training.parts import RegularizerParts
from laftr_cl.training.strategy import build_strategy

log = logging.getLogger(__name__)


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


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Instantiates every logger under ``logger``; ``config: null`` gets the full run config."""
    full = run_config_dict(cfg)
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


def run_experiment(cfg: DictConfig, output_dir: str | Path) -> dict[str, Any]:
    """Trains on every experience in order, evaluating on all test experiences after each.

    ``results.json`` in ``output_dir`` is rewritten and ``checkpoint.pt`` replaced after every
    task; a run whose folder holds a checkpoint continues from it (``resume``, see
    :class:`~laftr_cl.checkpointing.RunCheckpoints`). Returns the content of ``results.json``.
    """
    validate_config(cfg)
    device = resolve_device(cfg.device)
    RNGManager.set_random_seeds(cfg.seed)
    benchmark = load_benchmark(cfg, device)
    notes = coreset_notes(cfg, benchmark)
    for note in notes:
        log.info(note)
    model = build_model(cfg, benchmark, device)
    optimizer = instantiate(cfg.optimizer, params=model.parameters())
    found = [(part, regularizer_spec(cfg, part)) for part in parts(cfg)]
    plugins = {part.path: instantiate(part.config.plugin) for part, spec in found
               if part.config.get("plugin") is not None and not spec.owns_loop}
    owner = next((part for part, spec in found if spec.owns_loop), None)
    checkpoints = RunCheckpoints(Path(output_dir), run_config_dict(cfg), device, resume=cfg.resume,
                                 enabled=cfg.checkpoint.enabled,
                                 every_n_epochs=cfg.checkpoint.every_n_epochs)
    checkpoints.keep_logs(cfg.logger)
    guard = TrainingGuard.from_config(cfg.guard, cfg, device,
                                      checkpoints.path if cfg.checkpoint.enabled else None)
    loggers = build_loggers(cfg)
    strategy = build_strategy(
        owner.config.strategy if owner is not None else cfg.regularizer.strategy,
        model=model,
        optimizer=optimizer,
        plugins=[guard] + list(plugins.values()),
        evaluator=build_evaluator(loggers),
        benchmark=benchmark,
        device=device,
        epochs=cfg.train.epochs,
        batch_size=cfg.train.batch_size,
        eval_batch_size=cfg.train.eval_batch_size,
        compile=cfg.train.get("compile", "none"),
        precision=cfg.train.get("precision", "fp32"),
        owner=owner.config.plugin if owner is not None else None,
    )
    plugin = RegularizerParts([(part.name, strategy if part is owner else plugins[part.path])
                               for part, _ in found if part is owner or part.path in plugins])
    joint = cfg.regularizer.strategy == "joint"
    num_exp = benchmark.num_experiences
    recorder = ResultsRecorder(
        Path(output_dir) / "results.json",
        run_config_dict(cfg),
        num_experiences=num_exp,
        expected_rows=1 if joint else num_exp,
        device=device_name(device),
        benchmark_info={"name": benchmark.name, "scenario": benchmark.scenario_kind,
                        "task_classes": benchmark.task_classes,
                        "train_sizes": [t.y.shape[0] for t in benchmark.train],
                        "eval_split": benchmark.extra.get("eval_split", "test"), "notes": notes},
    )
    train_stream, test_stream = benchmark.scenario.train_stream, benchmark.scenario.test_stream
    steps = [(train_stream, num_exp)] if joint else [(exp, i + 1) for i, exp in enumerate(train_stream)]
    first_epochs = cfg.train.first_task_epochs or cfg.train.epochs

    def epochs_of_task(index: int) -> int:
        return first_epochs if steps[index][1] == 1 else cfg.train.epochs

    start = checkpoints.attach(strategy, plugin, recorder, epochs_of_task)
    for index, (to_train, seen) in enumerate(steps[start.tasks_done:], start=start.tasks_done):
        done_epochs = start.epochs_done if index == start.tasks_done else 0
        strategy.train_epochs = epochs_of_task(index) - done_epochs
        strategy.train(to_train, num_workers=cfg.num_workers)
        metrics = strategy.eval(test_stream, num_workers=cfg.num_workers)
        recorder.record(metrics, seen, plugin.memory_bytes())
        checkpoints.save(Progress(tasks_done=index + 1))
        log.info("after %d task(s): average accuracy on seen tasks %.4f", seen,
                 recorder.seen_average[-1])
    payload = recorder.payload()
    write_json_atomic(recorder.path, payload)
    _finish_wandb(payload)
    return payload


def _finish_wandb(payload: dict[str, Any]) -> None:
    """Puts the final metrics in the wandb run's summary (when a wandb logger is active)."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is None:
        return
    wandb.run.summary.update({f"final/{k}": v for k, v in payload["final"].items() if v is not None})
    wandb.run.summary["accuracy_matrix"] = payload["accuracy_matrix"]
    wandb.run.summary["average_accuracy_per_task"] = payload["average_accuracy_per_task"]
    wandb.run.summary["summary_memory_bytes"] = payload["summary_memory_bytes"]
    wandb.run.summary["wall_time_s"] = payload["wall_time_s"]
    wandb.finish()
