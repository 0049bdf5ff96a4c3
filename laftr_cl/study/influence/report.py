"""The influence studies' table columns and plots (PNG); tables and JSON are :mod:`laftr_cl.reporting.tables`."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from torch import Tensor

from laftr_cl.influence.detection import DetectionCurve
from laftr_cl.reporting.plots import plt, save_figure  # pyplot on the Agg backend
from laftr_cl.reporting.tables import Column

INFLUENCE_COLUMNS: list[Column] = [
    ("method", "method", ""), ("pearson", "Pearson", ".3f"), ("spearman", "Spearman", ".3f"),
    ("pearson_per_query", "Pearson per query", ".3f"), ("spearman_per_test", "Spearman per test pt", ".3f"),
    ("self_spearman", "self-infl. Spearman", ".3f"), ("sign_agreement", "same sign", ".2f"),
    ("norm_ratio", "size ratio", ".1f"), ("build_s", "build s", ".1f"),
    ("solve_ms_per_query", "solve ms/query", ".0f"), ("stored_kb", "stored KB", ".0f"),
]
MISLABELED_COLUMNS: list[Column] = [
    ("method", "ranking", ""), ("area", "area", ".3f"), ("found_at_f", "found @ f", ".3f"),
    ("found_at_2f", "found @ 2f", ".3f"), ("self_spearman", "Spearman vs ref.", ".3f"),
    ("build_s", "build s", ".1f"), ("solve_s", "solve s", ".0f"), ("stored_kb", "stored KB", ".0f"),
]


def plot_scatter(reference: Tensor, estimates: Mapping[str, Tensor], path: Path, *, title: str) -> None:
    """One panel per method: its values against the reference's (symmetric-log axes), saved to ``path``."""
    names = list(estimates)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    ref = reference.flatten().cpu().numpy()
    for ax, name in zip(axes.flat, names):
        ax.scatter(ref, estimates[name].flatten().cpu().numpy(), s=3, alpha=0.4)
        ax.set_xscale("symlog", linthresh=1e-2)
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("reference", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.tick_params(axis="x", labelrotation=90)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_detection(curves: Mapping[str, DetectionCurve], path: Path, *, title: str) -> None:
    """Fraction of flipped labels found against fraction checked, one line per ranking, saved to ``path``."""
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for name, curve in curves.items():
        style = "--" if name in ("random", "loss") else "-"
        ax.plot(curve.checked.numpy(), curve.found.numpy(), style, label=f"{name} ({curve.area:.3f})", lw=1.2)
    ax.set_xlabel("fraction of training data checked")
    ax.set_ylabel("fraction of flipped labels found")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right", title="ranking (area)", title_fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
