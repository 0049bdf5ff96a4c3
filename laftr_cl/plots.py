"""Plots of a sweep's runs (matplotlib, Agg backend: files only, no display).

* ``accuracy_matrices_<benchmark>.png``: each run's accuracy matrix as a heatmap (rows: after
  training task i; columns: accuracy on task j), one panel per run.
* ``average_accuracy_<benchmark>.png``: average accuracy over the tasks seen so far after each
  task, mean ± std over seeds, one line per regularizer.
* ``accuracy_vs_memory.png``: final average accuracy (mean ± std over seeds) against the bytes the
  regularizer stores, one panel per benchmark.

Runs are the dicts of ``results.json`` (see :mod:`laftr_cl.results`); rows are those of
:func:`laftr_cl.compare.summarize_runs`.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

Run = dict[str, Any]


def _by(runs: Iterable[Run], key: Callable[[Run], Any]) -> dict[Any, list[Run]]:
    groups: dict[Any, list[Run]] = defaultdict(list)
    for run in runs:
        groups[key(run)].append(run)
    return dict(sorted(groups.items()))


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def accuracy_matrices(runs: list[Run], benchmark: str, path: Path, *, label: Callable[[Run], str]) -> Path:
    """One heatmap per run (accuracy in %), a grid of regularizers × seeds."""
    by_regularizer = _by(runs, label)
    columns = max(len(members) for members in by_regularizer.values())
    fig, axes = plt.subplots(len(by_regularizer), columns, squeeze=False,
                             figsize=(2.6 * columns, 2.4 * len(by_regularizer)))
    for ax in axes.flat:
        ax.axis("off")
    for row, (name, members) in enumerate(by_regularizer.items()):
        for col, run in enumerate(sorted(members, key=lambda r: r["config"]["seed"])):
            matrix = 100 * np.asarray(run["accuracy_matrix"], dtype=float)
            ax = axes[row, col]
            ax.axis("on")
            ax.imshow(matrix, vmin=0, vmax=100, cmap="viridis")
            for (i, j), value in np.ndenumerate(matrix):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if value < 60 else "black")
            ax.set_title(f"{name}, seed {run['config']['seed']}", fontsize=8)
            ax.set_xticks(range(matrix.shape[1]))
            ax.set_yticks(range(matrix.shape[0]))
            ax.tick_params(labelsize=6)
            ax.set_xlabel("evaluated on task", fontsize=7)
            ax.set_ylabel("after task", fontsize=7)
    fig.suptitle(f"{benchmark}: test accuracy (%)", fontsize=10)
    return _save(fig, path)


def average_accuracy_curves(runs: list[Run], benchmark: str, path: Path, *,
                            label: Callable[[Run], str]) -> Path:
    """Average accuracy over the seen tasks after each task: mean ± std over seeds per regularizer."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, members in _by(runs, label).items():
        curves = [run["average_accuracy_per_task"] for run in members]
        length = min(len(c) for c in curves)
        values = 100 * np.asarray([c[:length] for c in curves], dtype=float)
        tasks = np.arange(1, length + 1)
        mean, std = values.mean(0), values.std(0)
        ax.plot(tasks, mean, marker="o", label=f"{name} (n={len(members)})")
        ax.fill_between(tasks, mean - std, mean + std, alpha=0.2)
    ax.set_xticks(tasks)
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("average accuracy on seen tasks (%)")
    ax.set_title(benchmark)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def accuracy_vs_memory(rows: list[dict[str, Any]], path: Path) -> Path:
    """Final average accuracy (mean ± std) against stored bytes (symlog axis: no memory is 0), one
    panel per benchmark, one colour per regularizer."""
    by_benchmark = _by(rows, lambda row: row["benchmark"])
    names = sorted({row["regularizer"] for row in rows})
    colors = {name: plt.get_cmap("tab10" if len(names) <= 10 else "tab20")(i) for i, name in enumerate(names)}
    fig, axes = plt.subplots(1, len(by_benchmark), squeeze=False, figsize=(4.5 * len(by_benchmark) + 1.5, 4))
    for ax, (benchmark, members) in zip(axes.flat, by_benchmark.items()):
        for row in members:
            if row["average_accuracy"] is None:
                continue
            (acc, acc_std), (memory, _) = row["average_accuracy"], row["memory_bytes"] or (0.0, 0.0)
            ax.errorbar(memory, 100 * acc, yerr=100 * acc_std, fmt="o", capsize=3, color=colors[row["regularizer"]])
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


def write_plots(runs: list[Run], rows: list[dict[str, Any]], out: Path, *,
                benchmark_of: Callable[[Run], str], regularizer_of: Callable[[Run], str]) -> list[Path]:
    """Every plot of the module into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for benchmark, members in _by(runs, benchmark_of).items():
        stem = benchmark.replace(" ", "_").replace("(", "").replace(")", "")
        written.append(accuracy_matrices(members, benchmark, out / f"accuracy_matrices_{stem}.png",
                                         label=regularizer_of))
        written.append(average_accuracy_curves(members, benchmark, out / f"average_accuracy_{stem}.png",
                                               label=regularizer_of))
    written.append(accuracy_vs_memory(rows, out / "accuracy_vs_memory.png"))
    return written
