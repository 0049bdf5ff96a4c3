"""The study's table (agreement of each estimate with the true FSD) and its scatter plot."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from laftr_cl.reporting.plots import plt, save_figure  # pyplot on the Agg backend
from laftr_cl.reporting.tables import Column
from laftr_cl.study.stats import median_relative_error, pearson, spearman

COLUMNS: list[Column] = [
    ("method", "method", ""), ("setting", "setting", ""), ("target", "target ρ", ""),
    ("numbers", "memory (numbers)", ","), ("keeps_theta", "keeps θ_A", ""), ("pearson", "Pearson", ".3f"),
    ("pearson_log", "Pearson (log)", ".3f"), ("spearman", "Spearman", ".3f"),
    ("spearman_trajectory", "Spearman (trajectory)", ".3f"), ("median_rel_error", "median rel. error", ".3f"),
]
"""One row per method: memory (numbers stored besides θ_A), agreement over the study's points (Spearman
(trajectory): over the checkpoints while training task B only, NaN with fewer than two)."""


def summarize_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per method from per-point records (``method``, ``setting``, ``target``, ``numbers``,
    ``keeps_theta``, ``truth``, ``estimate``), in the order the methods first appear."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record["label"]].append(record)
    rows = []
    for members in groups.values():
        first = members[0]
        truths, estimates = [m["truth"] for m in members], [m["estimate"] for m in members]
        trajectory = [(m["estimate"], m["truth"]) for m in members if m["kind"] == "trajectory"]
        positive = [(e, t) for e, t in zip(estimates, truths) if e > 0 and t > 0]
        rows.append({
            "method": first["method"], "setting": first["setting"], "target": first["target"],
            "numbers": first["numbers"], "keeps_theta": first["keeps_theta"], "points": len(members),
            "pearson": pearson(estimates, truths),
            "pearson_log": pearson(*zip(*[(math.log(e), math.log(t)) for e, t in positive]))
            if len(positive) > 1 else math.nan,
            "spearman": spearman(estimates, truths),
            "spearman_trajectory": spearman(*zip(*trajectory)) if len(trajectory) > 1 else math.nan,
            "median_rel_error": median_relative_error(estimates, truths),
            "mean_ratio": sum(estimates) / sum(truths) if sum(truths) > 0 else math.nan,
        })
    return rows


def scatter_plot(records: list[dict[str, Any]], rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Estimate against true FSD per method (log-log, the line y = x): circles are checkpoints
    along training on B (coloured by step), crosses perturbations of θ_A, triangles θ_A with a checkpoint's
    BatchNorm statistics."""
    labels = list(dict.fromkeys(r["label"] for r in records))
    by_label = {label: [r for r in records if r["label"] == label] for label in labels}
    columns = min(5, len(labels))
    lines = math.ceil(len(labels) / columns)
    fig, axes = plt.subplots(lines, columns, squeeze=False, figsize=(3.1 * columns, 2.9 * lines))
    for ax in axes.flat[len(labels):]:
        ax.axis("off")
    for ax, label, row in zip(axes.flat, labels, rows):
        points = by_label[label]
        for kind, marker in (("trajectory", "o"), ("perturbation", "x"), ("statistics", "^")):
            chosen = [p for p in points if p["kind"] == kind and p["truth"] > 0 and p["estimate"] > 0]
            if chosen:
                ax.scatter([p["truth"] for p in chosen], [p["estimate"] for p in chosen], marker=marker, s=14,
                           c=[math.log10(max(p["position"], 1e-12)) for p in chosen], cmap="viridis")
        values = [v for p in points for v in (p["truth"], p["estimate"]) if v > 0]
        if values:
            low, high = min(values), max(values)
            ax.plot([low, high], [low, high], color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{label}\nSpearman {row['spearman']:.2f}, {row['numbers']:,} numbers", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel(f"true FSD ({row['target']})", fontsize=6)
        ax.set_ylabel("estimate", fontsize=6)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path, dpi=100)
    return path
