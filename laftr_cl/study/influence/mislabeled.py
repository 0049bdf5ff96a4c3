"""Mislabeled-example detection by self-influence, with LAFTR and the baselines.

The labels of ``flip_fraction`` of N training examples are changed to another class; an MLP is
trained on them; every example gets its response (the PBRF, ``laftr_cl.influence.response``) under
each configured proximity term, and its self-influence — the change of its own loss under its
response, divided by ε — ranks it (larger: checked first). Two baselines need no response: the
trained model's loss on the example (``loss``) and random orders (``random``: the mean curve of
``random_orders`` seeded orders). The table gives each ranking's area under the curve "fraction of
flipped labels found against fraction of data checked" (``laftr_cl.influence.detection``: random 0.5
in expectation, perfect 1 − f/2), the fraction found after checking f and 2f of the data, and the
Spearman correlation of the self-influences with the reference's.

Driven by ``scripts/mislabeled.py`` (``configs/mislabeled_study.yaml``). Writes ``results.json`` and
``detection_curves.png`` into ``out``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from laftr_cl.influence.detection import detection_curve, random_curve
from laftr_cl.influence.response import self_loss_changes
from laftr_cl.reporting.tables import markdown_table
from laftr_cl.run.atomic import write_json_atomic
from laftr_cl.study.influence.data import flip_labels
from laftr_cl.study.influence.methods import run_method
from laftr_cl.study.influence.report import MISLABELED_COLUMNS, plot_detection
from laftr_cl.study.influence.setup import load_data, mlp_name, selected_methods, solver_settings, trained_mlp
from laftr_cl.study.stats import spearman
from laftr_cl.study.training import accuracy, example_losses


def run_mislabeled(cfg: DictConfig, out_dir: str | Path) -> list[dict[str, Any]]:
    """Runs the mislabeled-detection study of ``cfg``, writes its files into ``out_dir``, returns the table rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = selected_methods(cfg)
    split = load_data(cfg)
    noisy, flipped = flip_labels(split.y_train, cfg.flip_fraction, split.num_classes,
                                 torch.Generator().manual_seed(cfg.seed + 1))
    model = trained_mlp(cfg, split.x_train, noisy, split.num_classes)
    solver = solver_settings(cfg)
    data = (split.x_train, noisy)
    scores = {"loss": example_losses(model, *data).double()}
    rows = {name: {"method": name, "build_s": 0.0, "solve_s": 0.0, "stored_kb": 0.0} for name in ("random", "loss")}
    for name, spec in methods.items():
        run = run_method(name, spec, model, data, data, metric=cfg.metric, solver=solver,
                         seed=cfg.seed)
        scores[name] = self_loss_changes(model, run.offsets, *data) / solver.epsilon
        rows[name] = {"method": name, "build_s": run.build_seconds, "solve_s": run.solve_seconds,
                      "stored_kb": run.nbytes / 1024}
        print(f"{name}: built in {run.build_seconds:.1f}s, solved in {run.solve_seconds:.1f}s", flush=True)
    curves = {"random": random_curve(flipped, num_orders=cfg.random_orders,
                                     generator=torch.Generator().manual_seed(cfg.seed + 2))}
    curves |= {name: detection_curve(score, flipped) for name, score in scores.items()}
    for name, row in rows.items():
        row.update(area=curves[name].area, found_at_f=curves[name].found_at(cfg.flip_fraction),
                   found_at_2f=curves[name].found_at(min(1.0, 2 * cfg.flip_fraction)),
                   self_spearman=spearman(scores[name], scores[cfg.reference]) if name in scores else float("nan"))
    fit_flipped = float((model(split.x_train[flipped]).argmax(-1) == noisy[flipped]).float().mean())
    header = (f"{cfg.data.name}: N={cfg.num_train}, {int(flipped.sum())} labels flipped (f={cfg.flip_fraction}), "
              f"{mlp_name(cfg, split)}, "
              f"train acc (noisy labels) {accuracy(model, *data):.3f}, flipped labels fitted {fit_flipped:.3f}, "
              f"test acc {accuracy(model, split.x_test, split.y_test):.3f}, ε = {solver.epsilon:.3g}; "
              f"perfect area {1 - cfg.flip_fraction / 2:.3f}")
    print(header + "\n" + markdown_table(list(rows.values()), MISLABELED_COLUMNS))
    plot_detection(curves, out / "detection_curves.png", title=f"{cfg.data.name}: {int(flipped.sum())} of "
                   f"{cfg.num_train} labels flipped")
    write_json_atomic(out / "results.json", {
        "config": OmegaConf.to_container(cfg, resolve=True), "summary": header, "table": list(rows.values()),
        "flipped": flipped.nonzero().flatten().tolist(),
        "scores": {name: s.tolist() for name, s in scores.items()},
        "curves": {name: c.found.tolist() for name, c in curves.items()},
    })
    return list(rows.values())
