"""The accuracy–memory frontier: final accuracy against every byte a method keeps after the last task.

Reads the complete ``results.json`` of a folder (``laftr-cl-compare --frontier FOLDER``), groups
them by (benchmark, method, budget) — and, where runs of one budget differ in any other setting
(the scenario, epochs, λ, the learning rate…), by those settings too, each such variant a method of
its own, ``ewc [benchmark.scenario=class]`` — and reports per group the seeds' mean ± std, min and n of the
final average accuracy, with the bytes in two columns: *per task* (what grows with the number of
tasks: rates and input statistics, stored examples and their outputs) and *copies of θ*
(parameter-sized tensors kept once: snapshots and importances). ``total = T · per_task + copies ·
|θ|`` bytes, with T the number of tasks.

A *method* is a line on the plot, a *budget* a point on it:

* ``laftr``: ``laftr <anchor>[ classwise]`` with budget ``diag``, ``lowrank k`` or ``full`` (and
  ``coreset m``); ``float16`` is added when the summary was stored in half precision, ``S=<n>``
  when a run drew other than the default number of inputs per task and step.
* ``coreset_fsd``: budget ``m`` stored examples per task; ``replay``: buffer size; every other
  regularizer (``ewc``, ``ewc_online``, ``si``, …) has one budget.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from laftr_cl.regularizers.specs import spec_for
from laftr_cl.reporting.groups import (
    FIXED,
    Stat,
    differing_settings,
    group_key,
    refuse_repeated_seeds,
    seed_groups,
    seed_stat,
)
from laftr_cl.reporting.output import open_out, write_text
from laftr_cl.reporting.tables import markdown_table

THETA_PARTS = ("snapshot", "importances")
"""Memory parts that are parameter-sized copies of θ; every other part is counted per task."""


@dataclass(frozen=True)
class FrontierPoint:
    """One (benchmark, method, budget) over its seeds. Accuracies in percent, bytes as counted."""

    benchmark: str
    method: str
    budget: str
    accuracies: tuple[float, ...]
    seeds: tuple[int, ...]
    bytes_per_task: float
    theta_copies: float
    total_bytes: float

    @property
    def stat(self) -> Stat:
        """Mean ± std, min and n of :attr:`accuracies` (:func:`~laftr_cl.reporting.groups.seed_stat`)."""
        return seed_stat(self.accuracies)

    @property
    def mean(self) -> float:
        return self.stat.mean

    @property
    def std(self) -> float:
        return self.stat.std

    @property
    def min(self) -> float:
        return self.stat.min


def method_and_budget(config: dict[str, Any]) -> tuple[str, str]:
    """The plot line and point of a run, from its resolved config (see the module docstring)."""
    regularizer = config["regularizer"]
    name, plugin = regularizer["name"], regularizer.get("plugin") or {}
    if name.startswith("laftr"):
        method = f"laftr {plugin.get('anchor', 'per_task')}" + (" classwise" if plugin.get("classwise") else "")
        if plugin.get("storage_dtype") == "float16":
            method += " float16"
        draws = plugin.get("num_samples")
        if draws is not None and draws != spec_for("laftr").options["num_samples"].default:
            method += f" S={draws}"  # more draws cost compute, not memory: a line of its own
        inputs = plugin.get("inputs", "full")
        budget = {"lowrank": f"lowrank {plugin.get('rank')}", "coreset": f"coreset {plugin.get('coreset_size')}"}
        return method, budget.get(inputs, inputs)
    if name == "coreset_fsd":
        return name, f"m={plugin.get('coreset_size')}"
    if name == "replay":
        return name, f"buffer {plugin.get('mem_size')}"
    return name, "-"


def theta_bytes(config: dict[str, Any]) -> int:
    """Bytes of one float32 copy of the run's parameters (the model is built from its config)."""
    from hydra.utils import instantiate

    net = instantiate(config["model"]["net"])
    return 4 * sum(p.numel() for p in net.parameters())


def split_bytes(memory: dict[str, int] | None, num_tasks: int, theta: int) -> tuple[float, float, float]:
    """``(bytes per task, copies of θ, total bytes)`` of a run's ``summary_memory_bytes``."""
    memory = {k: v for k, v in (memory or {}).items() if k != "total"}
    theta_part = sum(v for k, v in memory.items() if k.rsplit(".", 1)[-1] in THETA_PARTS)  # laftr.snapshot too
    rest = sum(v for k, v in memory.items() if k.rsplit(".", 1)[-1] not in THETA_PARTS)
    return rest / num_tasks, theta_part / theta, float(rest + theta_part)


def _point(run: dict[str, Any]) -> tuple[str, str, str]:
    return (run["benchmark"]["name"], *method_and_budget(run["config"]))


def is_validation_run(run: dict[str, Any]) -> bool:
    """Whether ``run`` was scored on a validation split (``data.validation_fraction`` > 0, e.g. a search's trial)."""
    return ((run["config"].get("data") or {}).get("validation_fraction") or 0) > 0


def _variants(runs: list[dict[str, Any]]) -> list[tuple[tuple[str, str, str], list[dict[str, Any]]]]:
    """``[((benchmark, method, budget), runs)]``: the runs of one point have every setting but the seed
    in common; where a budget holds runs of several settings, the method names what differs."""
    groups = seed_groups(runs, lambda run: [_point(run), group_key(run)])
    by_point: dict[tuple[str, str, str], list[tuple[dict[str, Any], list[dict[str, Any]]]]] = defaultdict(list)
    for (point, settings), members in groups:
        by_point[tuple(point)].append((settings, members))
    out = []
    for (benchmark, method, budget), variants in by_point.items():
        differ = [k for k in differing_settings([settings for settings, _ in variants]) if k not in FIXED]
        for settings, members in variants:
            extra = ", ".join(f"{key}={settings.get(key)}" for key in differ)
            out.append(((benchmark, f"{method} [{extra}]" if extra else method, budget), members))
    return sorted(out, key=lambda group: group[0])


def frontier_points(runs: Iterable[dict[str, Any]]) -> list[FrontierPoint]:
    """Runs grouped into points (see the module docstring); validation-split runs are left out.

    Raises:
        DuplicateSeedsError: a point holds one seed twice (two sweeps of the same point).
    """
    theta_cache: dict[str, int] = {}
    tested = [run for run in runs if not is_validation_run(run)]
    points = []
    for (benchmark, method, budget), members in _variants(tested):
        refuse_repeated_seeds(members, lambda r: r["config"]["seed"], lambda r: r.get("path", "?"),
                              f"the frontier point {benchmark} / {method} / {budget}",
                              "Point laftr-cl-compare at one sweep folder per point, or delete the extra runs.")
        key = json.dumps(members[0]["config"]["model"]["net"], sort_keys=True)
        theta = theta_cache.setdefault(key, theta_bytes(members[0]["config"]))
        splits = [split_bytes(r.get("summary_memory_bytes"), len(r["accuracy_matrix"]), theta) for r in members]
        points.append(FrontierPoint(
            benchmark=benchmark, method=method, budget=budget,
            accuracies=tuple(100 * r["final"]["average_accuracy"] for r in members),
            seeds=tuple(sorted(r["config"]["seed"] for r in members)),
            bytes_per_task=statistics.fmean(s[0] for s in splits),
            theta_copies=statistics.fmean(s[1] for s in splits),
            total_bytes=statistics.fmean(s[2] for s in splits),
        ))
    return points


def _size(nbytes: float) -> str:
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes:.0f} B"


FRONTIER_COLUMNS = [("benchmark", "benchmark", ""), ("method", "method", ""), ("budget", "budget", ""), ("n", "n", ""),
                    ("accuracy", "final accuracy", ""), ("min", "min", ".2f"), ("per_task", "bytes per task", ""),
                    ("copies", "copies of θ", ".2f"), ("total", "total kept", "")]


def to_markdown(points: list[FrontierPoint]) -> str:
    """One table row per point, sorted by benchmark, method, then total bytes."""
    rows = [{"benchmark": p.benchmark, "method": p.method, "budget": p.budget, "n": len(p.accuracies),
             "accuracy": f"{p.mean:.2f} ± {p.std:.2f}", "min": p.min, "per_task": _size(p.bytes_per_task),
             "copies": p.theta_copies, "total": _size(p.total_bytes)}
            for p in sorted(points, key=lambda p: (p.benchmark, p.method, p.total_bytes))]
    return markdown_table(rows, FRONTIER_COLUMNS)


def plot_frontier(points: list[FrontierPoint], benchmark: str, path: Path) -> Path:
    """Accuracy (mean, error bar = std over seeds) against bytes kept, log axes, a line per method.

    Left: every byte kept after the last task (``total``). Right: bytes per task only (what grows with
    the number of tasks); methods that keep nothing per task (EWC, SI) are left out of that panel.
    """
    from laftr_cl.reporting.plots import plt, save_figure  # pyplot on the Agg backend

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    by_method: dict[str, list[FrontierPoint]] = defaultdict(list)
    for p in points:
        if p.benchmark == benchmark:
            by_method[p.method].append(p)
    for ax, key, label in ((axes[0], "total_bytes", "bytes kept after the last task"),
                           (axes[1], "bytes_per_task", "bytes kept per task (copies of θ not counted)")):
        for index, (method, members) in enumerate(sorted(by_method.items())):
            shown = sorted((p for p in members if getattr(p, key) > 0), key=lambda p: getattr(p, key))
            if not shown:
                continue
            xs = [getattr(p, key) for p in shown]
            ax.errorbar(xs, [p.mean for p in shown], yerr=[p.std for p in shown], marker="o", capsize=3,
                        label=method, color=f"C{index}")
            for p, x in zip(shown, xs):
                if p.budget != "-":
                    ax.annotate(p.budget, (x, p.mean), textcoords="offset points", xytext=(3, 3), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel(f"{label} (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("final average accuracy (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{benchmark}: accuracy against memory (mean ± std over seeds)")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    return path


def pareto(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """The points no other point of the same benchmark beats in both mean accuracy and total bytes."""
    front = []
    for p in points:
        beaten = any(q.benchmark == p.benchmark and q is not p and q.mean >= p.mean and q.total_bytes <= p.total_bytes
                     and (q.mean > p.mean or q.total_bytes < p.total_bytes) for q in points)
        if not beaten:
            front.append(p)
    return sorted(front, key=lambda p: (p.benchmark, p.total_bytes))


class NoFrontierPoint(ValueError):
    """Every complete run was scored on a validation split: the frontier (test accuracy) has no point."""


def write_frontier(runs: Iterable[dict[str, Any]], out: Path, *, plots: bool = True,
                   left_out: Iterable[str] = ()) -> list[FrontierPoint]:
    """Writes ``frontier.md`` (the table, the Pareto-optimal points, and ``left_out``: one line per
    file not counted) and, with ``plots``, one ``frontier_<benchmark>.png`` per benchmark into
    ``out``; prints the Markdown; returns the points.

    Raises:
        NoFrontierPoint: every run was scored on a validation split (nothing is written).
    """
    runs = list(runs)
    validation = [run for run in runs if is_validation_run(run)]
    points = frontier_points(runs)
    if not points:
        raise NoFrontierPoint(
            f"the {len(validation)} complete run(s) were all scored on a validation split (data.validation_fraction "
            "> 0: the trials of a search), and the frontier reports test accuracy, so it has no point. Run the "
            "chosen settings on the test split (data.validation_fraction=0, seeds 0-4) and point --frontier at "
            "those runs, or compare the search's trials without --frontier.")
    best = "\n".join(f"- {p.benchmark}: {p.method} {p.budget} ({p.mean:.2f}, {_size(p.total_bytes)})"
                     for p in pareto(points))
    notes = [f"left out: {len(validation)} run(s) scored on a validation split (data.validation_fraction > 0); "
             "the frontier reports test accuracy."] if validation else []
    notes += [f"left out: {line}" for line in left_out]
    markdown = (f"{to_markdown(points)}\n\nPareto-optimal (accuracy vs total bytes):\n\n{best}\n"
                + "".join(f"\n{note}" for note in notes) + ("\n" if notes else ""))
    open_out(out)
    write_text(out / "frontier.md", markdown)
    if plots:
        for benchmark in sorted({p.benchmark for p in points}):
            plot_frontier(points, benchmark, out / f"frontier_{benchmark}.png")
    print(markdown, end="")
    return points


__all__ = ["FRONTIER_COLUMNS", "FrontierPoint", "NoFrontierPoint", "THETA_PARTS", "frontier_points", "is_validation_run",
           "method_and_budget", "pareto", "plot_frontier", "split_bytes", "theta_bytes", "to_markdown", "write_frontier"]
