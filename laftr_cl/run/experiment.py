"""One continual-learning run from a composed config: build (:mod:`laftr_cl.run.build`), train task
by task, record (:mod:`laftr_cl.run.results`), checkpoint (:mod:`laftr_cl.run.checkpoint`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from avalanche.training.determinism.rng_manager import RNGManager
from hydra.utils import instantiate
from omegaconf import DictConfig

from laftr_cl.benchmarks.fingerprint import data_fingerprint
from laftr_cl.config.checks import coreset_notes, regularizer_spec, validate_config
from laftr_cl.config.compile_checks import check_full_batches
from laftr_cl.loggers.avalanche import keep_interrupted_logs
from laftr_cl.loggers.wandb_summary import finish_wandb
from laftr_cl.regularizers.combination import parts
from laftr_cl.regularizers.memory import kept_bytes
from laftr_cl.run.atomic import write_json_atomic
from laftr_cl.run.build import (
    build_evaluator,
    build_loggers,
    build_model,
    device_name,
    load_benchmark,
    resolve_device,
    run_config_dict,
)
from laftr_cl.run.checkpoint import Progress, RunCheckpoints
from laftr_cl.run.folder import RunFolder
from laftr_cl.run.results import ResultsRecorder
from laftr_cl.training.batchnorm import check_batchnorm
from laftr_cl.training.guards import TrainingGuard
from laftr_cl.training.parts import RegularizerParts
from laftr_cl.training.strategy import build_strategy

log = logging.getLogger(__name__)


def run_experiment(cfg: DictConfig, output_dir: str | Path) -> dict[str, Any]:
    """Trains on every experience in order, evaluating on all test experiences after each.

    ``results.json`` in ``output_dir`` is rewritten and ``checkpoint.pt`` replaced after every
    task; a run whose folder holds a checkpoint continues from it (``resume``, see
    :class:`~laftr_cl.run.checkpoint.RunCheckpoints`). Returns the content of ``results.json``.
    """
    validate_config(cfg)
    config = run_config_dict(cfg)  # the resolved config as plain data, once
    device = resolve_device(cfg.device)
    RNGManager.set_random_seeds(cfg.seed)
    benchmark = load_benchmark(cfg, device)
    check_full_batches(cfg.train.get("compile", "none"), [t.y.shape[0] for t in benchmark.train], cfg.train.batch_size)
    notes = coreset_notes(cfg, benchmark)
    for note in notes:
        log.info(note)
    model = build_model(cfg, benchmark, device)
    optimizer = instantiate(cfg.optimizer, params=model.parameters())
    found = [(part, regularizer_spec(cfg, part)) for part in parts(cfg)]
    plugins = {part.path: instantiate(part.config.plugin) for part, spec in found
               if part.config.get("plugin") is not None and not spec.owns_loop}
    owner = next((part for part, spec in found if spec.owns_loop), None)
    for checked in plugins.values():  # e.g. LAFTR on an op it cannot linearize: refused before anything is logged
        if hasattr(checked, "check_model"):
            checked.check_model(model, benchmark.input_shape, benchmark.train[0].task_label)
    check_batchnorm(cfg, model)
    batchnorm = instantiate(cfg.batchnorm.plugin) if cfg.batchnorm.plugin is not None else None
    fingerprint = data_fingerprint(benchmark)
    checkpoints = RunCheckpoints(Path(output_dir), config, device, resume=cfg.resume,
                                 enabled=cfg.checkpoint.enabled, data=fingerprint,
                                 every_n_epochs=cfg.checkpoint.every_n_epochs)
    if checkpoints.previous is not None:
        keep_interrupted_logs(cfg.logger)
    guard = TrainingGuard.from_config(cfg.guard, cfg, device,
                                      checkpoints.path if cfg.checkpoint.enabled else None)
    loggers = build_loggers(cfg, config)
    strategy = build_strategy(
        owner.config.strategy if owner is not None else cfg.regularizer.strategy,
        model=model,
        optimizer=optimizer,
        plugins=[guard] + list(plugins.values()) + ([batchnorm] if batchnorm is not None else []),
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
        RunFolder(output_dir).results,
        config,
        num_experiences=num_exp,
        expected_rows=1 if joint else num_exp,
        device=device_name(device),
        benchmark_info={"name": benchmark.name, "scenario": benchmark.scenario_kind,
                        "task_classes": benchmark.task_classes,
                        "train_sizes": [t.y.shape[0] for t in benchmark.train],
                        "eval_split": benchmark.extra.get("eval_split", "test"), "notes": notes,
                        "data_fingerprint": fingerprint},
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
        recorder.record(metrics, seen, kept_bytes([plugin, batchnorm]))
        checkpoints.save(Progress(tasks_done=index + 1))
        log.info("after %d task(s): average accuracy on seen tasks %.4f", seen,
                 recorder.seen_average[-1])
    payload = recorder.payload()
    write_json_atomic(recorder.path, payload)
    finish_wandb(payload)
    return payload
