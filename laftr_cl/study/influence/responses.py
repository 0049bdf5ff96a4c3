"""Influence estimation with LAFTR: responses of training examples under each proximity term.

For a trained MLP, the response θ*(z) of each of Q training examples (the PBRF, see
``laftr_cl.influence.response``) is solved with every configured proximity term (configs/influence/
methods/): the true FSD over the N training inputs (the reference), LAFTR with each input model, a
diagonal-Fisher quadratic, a stored subset, and none. For each method the table gives the agreement
of its test-loss changes ``[Q, M]`` (divided by ε) with the reference's — Pearson and Spearman over
all (query, test point) pairs; the mean over queries of the Pearson correlation across test points
(which test losses an example moves); the mean over test points of the Spearman correlation across
queries (which examples matter to a test point); the Spearman correlation of the self-influences
``[Q]``; the fraction of (query, test point) pairs whose change has the reference's sign; the
median over queries of the size of its change vector relative to the reference's (1: the right
magnitude) — with its build and solve time and the bytes it keeps beyond θ_s.

Driven by ``scripts/influence.py`` (``configs/influence_study.yaml``). Writes ``results.json`` (the
results format :mod:`laftr_cl.study.influence.aggregate` reads) and ``influence_scatter.png`` into ``out``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from laftr_cl.influence.response import loss_changes, self_loss_changes
from laftr_cl.reporting.tables import markdown_table
from laftr_cl.run.atomic import write_json_atomic
from laftr_cl.study.influence.methods import run_method
from laftr_cl.study.influence.report import INFLUENCE_COLUMNS, plot_scatter
from laftr_cl.study.influence.setup import load_data, mlp_name, selected_methods, solver_settings, trained_mlp
from laftr_cl.study.stats import mean_over_rows, median_norm_ratio, pearson, sign_agreement, spearman
from laftr_cl.study.training import accuracy


def run_influence(cfg: DictConfig, out_dir: str | Path) -> list[dict[str, Any]]:
    """Runs the influence study of ``cfg``, writes its files into ``out_dir``, returns the table rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = selected_methods(cfg)
    split = load_data(cfg)
    model = trained_mlp(cfg, split.x_train, split.y_train, split.num_classes)
    solver = solver_settings(cfg)
    queries = (split.x_train[: cfg.num_queries], split.y_train[: cfg.num_queries])
    changes, self_changes, rows = {}, {}, []
    for name, spec in methods.items():
        run = run_method(name, spec, model, (split.x_train, split.y_train), queries,
                         metric=cfg.metric, solver=solver, seed=cfg.seed)
        changes[name] = loss_changes(model, run.offsets, split.x_test, split.y_test) / solver.epsilon
        self_changes[name] = self_loss_changes(model, run.offsets, *queries) / solver.epsilon
        rows.append({"method": name, "build_s": run.build_seconds, "stored_kb": run.nbytes / 1024,
                     "solve_ms_per_query": 1000 * run.solve_seconds / cfg.num_queries})
        print(f"{name}: built in {run.build_seconds:.1f}s, solved in {run.solve_seconds:.1f}s", flush=True)
    reference, self_reference = changes[cfg.reference], self_changes[cfg.reference]
    for row in rows:
        name = row["method"]
        row.update(pearson=pearson(changes[name], reference), spearman=spearman(changes[name], reference),
                   pearson_per_query=mean_over_rows(pearson, changes[name], reference),
                   spearman_per_test=mean_over_rows(spearman, changes[name].T, reference.T),
                   self_spearman=spearman(self_changes[name], self_reference),
                   sign_agreement=sign_agreement(changes[name], reference),
                   norm_ratio=median_norm_ratio(changes[name], reference))
    table = markdown_table(rows, INFLUENCE_COLUMNS)
    header = (f"{cfg.data.name}: N={cfg.num_train}, Q={cfg.num_queries}, M={cfg.num_test}, "
              f"{mlp_name(cfg, split)}, "
              f"train acc {accuracy(model, split.x_train, split.y_train):.3f}, "
              f"test acc {accuracy(model, split.x_test, split.y_test):.3f}, ε = {solver.epsilon:.3g}")
    print(header + "\n" + table)
    plot_scatter(reference, {n: c for n, c in changes.items() if n != cfg.reference}, out / "influence_scatter.png",
                 title=f"{cfg.data.name}: test-loss change / ε, method vs {cfg.reference}")
    write_json_atomic(out / "results.json", {
        "config": OmegaConf.to_container(cfg, resolve=True), "summary": header, "table": rows,
        "loss_changes": {n: c.tolist() for n, c in changes.items()},
        "self_loss_changes": {n: c.tolist() for n, c in self_changes.items()},
    })
    return rows
