"""Seed-aggregated tables of the influence studies: mean ± std over the ``results.json`` of many runs.

A run folder is one written by ``scripts/influence.py`` (kind ``influence``: it holds
``loss_changes``) or ``scripts/mislabeled.py`` (kind ``mislabeled``: it holds ``curves``). Runs are
grouped by kind, data set and every setting except the seed, so a Hydra multirun over
``seed=0,1,2`` gives one table per data set with three seeds in each cell.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from laftr_cl.influence.detection import DetectionCurve
from laftr_cl.reporting.groups import refuse_repeated_seeds, seed_groups, seed_stat
from laftr_cl.reporting.tables import Column, markdown_table
from laftr_cl.study.influence.report import INFLUENCE_COLUMNS, MISLABELED_COLUMNS, plot_detection


@dataclass(frozen=True)
class Run:
    """One study run: ``kind`` (influence | mislabeled), its folder, config and ``results.json`` payload."""

    kind: str
    folder: Path
    config: dict[str, Any]
    payload: dict[str, Any]


def find_runs(roots: Iterable[Path]) -> list[Run]:
    """Every study run under ``roots`` (each a run folder or a folder above run folders), sorted by path."""
    runs = []
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(
                f"No such folder: {root}. Pass the run or multirun folders that scripts/influence.py or "
                "scripts/mislabeled.py wrote (logs/influence/..., logs/mislabeled/...).")
        for path in sorted(root.rglob("results.json")):
            payload = json.loads(path.read_text())
            if "loss_changes" in payload:
                kind = "influence"
            elif "curves" in payload:
                kind = "mislabeled"
            else:
                continue
            runs.append(Run(kind=kind, folder=path.parent, config=payload["config"], payload=payload))
    return runs


def _settings(run: Run) -> dict[str, Any]:
    """The run's kind and its whole config except ``seed``: equal for the seeds of one setting."""
    return {"kind": run.kind, **{k: v for k, v in run.config.items() if k != "seed"}}


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs with the same kind and the same settings but the seed, in first-seen order
    (:func:`~laftr_cl.reporting.groups.seed_groups`), keyed by their settings as JSON.

    Raises:
        DuplicateSeedsError: a group holds one seed twice (two sweeps of one setting).
    """
    groups = {}
    for settings, members in seed_groups(runs, _settings):
        refuse_repeated_seeds(members, lambda r: r.config["seed"], lambda r: str(r.folder),
                              f"the {settings['kind']} study with the same settings",
                              "Pass one sweep folder per setting, or delete the extra runs.")
        groups[json.dumps(settings, sort_keys=True)] = members
    return groups


def aggregate_rows(runs: Sequence[Run], columns: Sequence[Column]) -> list[dict[str, Any]]:
    """One row per method (in the first run's order): each numeric column as ``"mean ± std"`` over the
    runs, formatted with the column's spec (a missing or non-finite value is left out of the mean)."""
    tables = [{row["method"]: row for row in run.payload["table"]} for run in runs]
    rows = []
    for method in tables[0]:
        row: dict[str, Any] = {"method": method}
        for key, _, spec in columns[1:]:
            stat = seed_stat(table[method].get(key) for table in tables if method in table)
            row[key] = "–" if stat is None else (
                format(stat.mean, spec) if len(runs) == 1 else f"{format(stat.mean, spec)} ± {format(stat.std, spec)}")
        rows.append(row)
    return rows


def describe_group(runs: Sequence[Run]) -> str:
    """A header line: kind, data set, N, ε, seeds, and each run's own summary line."""
    config = runs[0].config
    seeds = ", ".join(str(run.config["seed"]) for run in runs)
    epsilon = config["solver"]["epsilon_scale"]
    head = (f"**{runs[0].kind}: {config['data']['name']}**, N={config['num_train']}, ε = {epsilon:g}/N, "
            f"seeds {seeds} (mean ± std over {len(runs)} run{'s' if len(runs) > 1 else ''})")
    return head + "".join(f"\n- seed {run.config['seed']}: {run.payload['summary']}" for run in runs)


def mean_detection_curves(runs: Sequence[Run]) -> dict[str, DetectionCurve]:
    """Per ranking, the mean over ``runs`` (same N) of its detection curve, and the mean curve's area."""
    names = list(runs[0].payload["curves"])
    curves = {}
    for name in names:
        found = torch.tensor([run.payload["curves"][name] for run in runs], dtype=torch.float64).mean(0)
        checked = torch.arange(found.numel(), dtype=torch.float64) / (found.numel() - 1)
        curves[name] = DetectionCurve(checked=checked, found=found, area=float(torch.trapezoid(found, checked)))
    return curves


def summary_markdown(groups: Mapping[str, Sequence[Run]]) -> str:
    """Every group as its header and table, separated by blank lines."""
    parts = []
    for runs in groups.values():
        columns = INFLUENCE_COLUMNS if runs[0].kind == "influence" else MISLABELED_COLUMNS
        parts.append(describe_group(runs) + "\n\n" + markdown_table(aggregate_rows(runs, columns), columns))
    return "\n\n".join(parts)


def write_detection_plots(groups: Mapping[str, Sequence[Run]], plot_dir: Path) -> list[Path]:
    """The seed-mean detection curves of each mislabeled group as ``plot_dir/mislabeled_<data>.png``
    (``_<k>`` appended for a second setting on one data set); returns the paths written."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for group in groups.values():
        if group[0].kind != "mislabeled":
            continue
        config = group[0].config
        name = config["data"]["name"]
        path = plot_dir / f"mislabeled_{name}.png"
        if path in written:  # a second setting on the same data set, e.g. another flip_fraction
            path = plot_dir / f"mislabeled_{name}_{len(written)}.png"
        written.append(path)
        flipped = len(group[0].payload["flipped"])
        plot_detection(mean_detection_curves(group), path,
                       title=f"{name}: {flipped} of {config['num_train']} labels flipped, "
                             f"mean of {len(group)} seed{'s' if len(group) > 1 else ''}")
    return written
