"""The FSD-accuracy study: how well does each estimator track the true FSD over task A's data?

Train a model on task A (θ_A), fit every method of :mod:`laftr_cl.study.fsd.methods` at θ_A, then
move θ away from θ_A — K checkpoints while training on task B, and optionally random
perturbations of θ_A of growing size — and at each θ compare every estimate with the true FSD
over all of A's training set (:func:`laftr_cl.fsd.true_fsd`). Writes into the output folder:
``fsd_study.md`` (settings and table), ``fsd_study.csv`` (the table), ``fsd_study_points.csv``
(every estimate and truth) and ``fsd_study.png`` (estimate vs truth per method).
"""
from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from laftr_cl.config.checks import ConfigError
from laftr_cl.fsd import true_fsd
from laftr_cl.reporting.tables import markdown_table, write_csv
from laftr_cl.run.build import build_model, load_benchmark, resolve_device
from laftr_cl.study.fsd.methods import build_methods
from laftr_cl.study.fsd.report import COLUMNS, scatter_plot, summarize_records
from laftr_cl.study.fsd.trajectory import perturbations, train_b_with_checkpoints, train_task

log = logging.getLogger(__name__)


def run_study(cfg: DictConfig, out_dir: str | Path) -> list[dict[str, Any]]:
    """Runs the study of ``cfg`` (``configs/fsd_study.yaml``), writes its files, returns the table rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    benchmark = load_benchmark(cfg, device)
    task_a, task_b = (_task(benchmark, cfg.train, key) for key in ("task_a", "task_b"))
    model = build_model(cfg, benchmark, device)
    generator = torch.Generator().manual_seed(cfg.seed)
    train = dict(batch_size=cfg.train.batch_size, lr=cfg.train.lr, generator=generator)
    start = time.perf_counter()
    train_task(model, task_a, epochs=cfg.train.epochs_a, **train)
    log.info("trained on task A (%d examples) in %.1f s", task_a.y.shape[0], time.perf_counter() - start)

    units = model.output_units(task_a.task_label)
    data_a = (task_a.x, task_a.y)
    methods = build_methods(OmegaConf.to_container(cfg.methods), metric=cfg.fsd.metric,
                            num_samples=cfg.fsd.num_samples, repeats=cfg.fsd.repeats, seed=cfg.seed,
                            is_mlp=cfg.model.name == "mlp")
    cache: dict = {}
    fitted = []
    for method in methods:
        start = time.perf_counter()
        fitted.append((method, method.fit(model, data_a, units, cache)))
        log.info("fitted %s in %.1f s", method.label, time.perf_counter() - start)

    reference = copy.deepcopy(model)
    points = perturbations(model, generator=generator, **cfg.perturbations)
    points += train_b_with_checkpoints(model, task_b, epochs=cfg.train.epochs_b, count=cfg.checkpoints.count,
                                       spacing=cfg.checkpoints.spacing, **train)
    current = copy.deepcopy(reference)
    targets = sorted({method.target for method in methods})
    records = []
    for point in points:
        current.load_state_dict(point.state)
        truth = {t: true_fsd(current, reference, data_a, metric=t, output_units=units,
                             batch_size=cfg.fsd.truth_batch_size).item() for t in targets}
        for method, fit in fitted:
            records.append({"label": method.label, "method": method.family, "setting": method.setting,
                            "target": method.target, "numbers": fit.numbers, "keeps_theta": fit.keeps_snapshot,
                            "kind": point.kind, "position": point.position, "truth": truth[method.target],
                            "estimate": fit.estimate(current)})
        log.info("%s %g: true FSD %s", point.kind, point.position, truth)
    rows = summarize_records(records)
    _write(cfg, out, rows, records)
    return rows


def _task(benchmark: Any, train: DictConfig, key: str) -> Any:
    index = train[key]
    if not isinstance(index, int) or not 0 <= index < benchmark.num_experiences:
        raise ConfigError(f"train.{key}={index!r} is not an experience of {benchmark.name} "
                          f"(0 … {benchmark.num_experiences - 1}): e.g. train.{key}={0 if key == 'task_a' else 1}.")
    return benchmark.train[index]


def _write(cfg: DictConfig, out: Path, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    title = (f"FSD study: {cfg.benchmark.name}, {cfg.model.name}, task {cfg.train.task_a} then "
             f"{cfg.train.task_b}, ρ = {cfg.fsd.metric}")
    settings = (f"{title}\n\nPoints: {cfg.checkpoints.count} checkpoints ({cfg.checkpoints.spacing} spacing) "
                f"while training task B, {cfg.perturbations.count} perturbations of θ_A. Sampled LAFTR estimates "
                f"average {cfg.fsd.repeats} × S = {cfg.fsd.num_samples} draws. Memory: numbers stored for task "
                "A besides θ_A and the head's indices.\n\n")
    table = markdown_table(rows, COLUMNS) + "\n"
    (out / "fsd_study.md").write_text(settings + table)
    write_csv(out / "fsd_study.csv", rows)
    write_csv(out / "fsd_study_points.csv", records)
    scatter_plot(records, rows, out / "fsd_study.png", title)
    print(table, end="")
