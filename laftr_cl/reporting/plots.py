"""Plots of a sweep's runs (matplotlib, Agg backend: files only, no display).

* ``accuracy_matrices_<benchmark>_<data>.png``: each run's accuracy matrix as a heatmap (rows:
  after training task i; columns: accuracy on task j), one panel per run, a line per group.
* ``average_accuracy_<benchmark>_<data>.png``: average accuracy over the tasks seen so far after
  each task, mean ± std over seeds, one line per group.
* ``accuracy_vs_memory.png``: final average accuracy (mean ± std over seeds) against the bytes the
  regularizer stores, one panel per benchmark and dataset.

Rows are those of :func:`laftr_cl.reporting.comparison.summarize_runs` (a group of runs each, ``row["runs"]``
the dicts of ``results.json``); a group is labelled by its regularizer and its differing settings.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from laftr_cl.reporting.groups import row_label  # noqa: E402

Row = dict[str, Any]


def _by(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(sorted(groups.items()))


def save_figure(fig: plt.Figure, path: Path, dpi: int = 110) -> Path:
    """Lays out ``fig``, writes it to ``path`` (PNG) and closes it: every figure of laftr-cl ends here."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def accuracy_matrices(rows: list[Row], title: str, path: Path) -> Path:
    """One heatmap per run (accuracy in %), a grid of groups × seeds."""
    columns = max(len(row["runs"]) for row in rows)
    fig, axes = plt.subplots(len(rows), columns, squeeze=False, figsize=(2.6 * columns, 2.4 * len(rows)))
    for ax in axes.flat:
        ax.axis("off")
    for index, row in enumerate(rows):
        for col, run in enumerate(row["runs"]):
            matrix = 100 * np.asarray(run["accuracy_matrix"], dtype=float)
            ax = axes[index, col]
            ax.axis("on")
            ax.imshow(matrix, vmin=0, vmax=100, cmap="viridis")
            for (i, j), value in np.ndenumerate(matrix):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if value < 60 else "black")
            ax.set_title(f"{row_label(row)}, seed {run['config']['seed']}", fontsize=7)
            ax.set_xticks(range(matrix.shape[1]))
            ax.set_yticks(range(matrix.shape[0]))
            ax.tick_params(labelsize=6)
            ax.set_xlabel("evaluated on task", fontsize=7)
            ax.set_ylabel("after task", fontsize=7)
    fig.suptitle(f"{title}: test accuracy (%)", fontsize=10)
    return save_figure(fig, path)


def average_accuracy_curves(rows: list[Row], title: str, path: Path) -> Path:
    """Average accuracy over the seen tasks after each task: mean ± std over seeds per group."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        curves = [run["average_accuracy_per_task"] for run in row["runs"]]
        length = min(len(c) for c in curves)
        values = 100 * np.asarray([c[:length] for c in curves], dtype=float)
        tasks = np.arange(1, length + 1)
        mean, std = values.mean(0), values.std(0)
        ax.plot(tasks, mean, marker="o", label=f"{row_label(row)} (n={row['n']})")
        ax.fill_between(tasks, mean - std, mean + std, alpha=0.2)
    ax.set_xticks(tasks)
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("average accuracy on seen tasks (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def accuracy_vs_memory(rows: list[dict[str, Any]], path: Path) -> Path:
    """Final average accuracy (mean ± std) against stored bytes (symlog axis: no memory is 0), one
    panel per benchmark and dataset, one colour per group."""
    by_benchmark = _by(rows, _panel)
    names = sorted({row_label(row) for row in rows})
    colors = {name: plt.get_cmap("tab10" if len(names) <= 10 else "tab20")(i) for i, name in enumerate(names)}
    fig, axes = plt.subplots(1, len(by_benchmark), squeeze=False, figsize=(4.5 * len(by_benchmark) + 1.5, 4))
    for ax, (benchmark, members) in zip(axes.flat, by_benchmark.items()):
        for row in members:
            if row["average_accuracy"] is None:
                continue
            acc, memory = row["average_accuracy"], row["memory_bytes"].mean if row["memory_bytes"] else 0.0
            ax.errorbar(memory, 100 * acc.mean, yerr=100 * acc.std, fmt="o", capsize=3, color=colors[row_label(row)])
        ax.set_xscale("symlog", linthresh=1e4, linscale=0.5)
        ax.set_xlim(left=-1e3)
        ax.set_xlabel("regularizer memory after the last task (bytes)")
        ax.set_ylabel("final average accuracy (%)")
        ax.set_title(benchmark)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colors[name], label=name) for name in names]
    fig.legend(handles=handles, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(row: Row) -> str:
    return f"{row['benchmark']} on {row['dataset']}"


def write_plots(rows: list[Row], out: Path) -> list[Path]:
    """Every plot of the module into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for title, members in _by(rows, _panel).items():
        stem = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{members[0]['benchmark']}_{members[0]['dataset']}").strip("_")
        written.append(accuracy_matrices(members, title, out / f"accuracy_matrices_{stem}.png"))
        written.append(average_accuracy_curves(members, title, out / f"average_accuracy_{stem}.png"))
    written.append(accuracy_vs_memory(rows, out / "accuracy_vs_memory.png"))
    return written
