"""The comparison table of ``laftr-cl-compare`` from Weights & Biases runs instead of ``results.json``.

laftr-cl's wandb runs are grouped by benchmark, tagged with the regularizer (then the model),
carry the full run config, and hold the final metrics in their summary (``final/...``,
``accuracy_matrix``, ``average_accuracy_per_task``, ``summary_memory_bytes``, ``wall_time_s``).
Each run becomes a dict shaped like ``results.json`` with the run's whole config, so the same
grouping (every setting but the seed and run plumbing), table and plots follow. A requeued job
that continued its wandb run is one run; two runs of one seed and settings are refused (see
``--duplicates``).

    laftr-cl-compare-wandb ENTITY/PROJECT --out comparison/     # through the wandb API (network)
    laftr-cl-compare-wandb --offline logs/ --out comparison/    # offline run folders, no network
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterable, Mapping

from laftr_cl.loggers.wandb_offline import read_offline_run
from laftr_cl.reporting.comparison import write_comparison

FINAL_PREFIX = "final/"


def run_record(*, config: Mapping[str, Any], summary: Mapping[str, Any], tags: Iterable[str],
               group: str) -> dict[str, Any]:
    """One wandb run as a ``results.json``-shaped dict.

    ``config`` is the run's config; a run that lacks them gets its benchmark from its group and its
    regularizer from its first tag. ``complete`` is whether the summary has the final average
    accuracy (a run that stopped early has none).
    """
    tags = list(tags)
    benchmark = (config.get("benchmark") or {}).get("name") or group
    regularizer = (config.get("regularizer") or {}).get("name") or (tags[0] if tags else None)
    if not benchmark or not regularizer:
        raise ValueError(f"A wandb run (group={group!r}, tags={tags}) names no benchmark or regularizer: "
                         "laftr-cl runs are grouped by benchmark and tagged with the regularizer.")
    matrix = summary.get("accuracy_matrix") or []
    per_task = summary.get("average_accuracy_per_task") or [
        sum(row[: i + 1]) / (i + 1) for i, row in enumerate(matrix)]
    return {
        "config": {**config, "benchmark": {**(config.get("benchmark") or {}), "name": benchmark},
                   "regularizer": {**(config.get("regularizer") or {}), "name": regularizer},
                   "seed": config.get("seed", 0)},
        "final": {k[len(FINAL_PREFIX):]: v for k, v in summary.items() if k.startswith(FINAL_PREFIX)},
        "accuracy_matrix": matrix,
        "average_accuracy_per_task": per_task,
        "summary_memory_bytes": summary.get("summary_memory_bytes"),
        "wall_time_s": summary.get("wall_time_s", summary.get("_runtime")),
        "complete": f"{FINAL_PREFIX}average_accuracy" in summary,
    }


def runs_from_api(api: Any, project: str) -> list[dict[str, Any]]:
    """Complete runs of ``project`` (``entity/project``) read through a ``wandb.Api()``-like object:
    ``api.runs(project)`` yields objects with ``config``, ``summary``, ``tags`` and ``group``."""
    records = []
    for run in api.runs(project):
        summary = getattr(run.summary, "_json_dict", None) or dict(run.summary)
        record = run_record(config=dict(run.config), summary=summary, tags=run.tags, group=run.group or "")
        if record["complete"]:
            records.append(record)
    return records


def runs_from_offline(folder: str | Path) -> list[dict[str, Any]]:
    """Complete runs among the offline run folders (``wandb/offline-run-<time>-<id>``) below ``folder``;
    the attempts of one run id (a requeued or resumed job) are one run: its last attempt."""
    latest: dict[str, dict[str, Any]] = {}
    for run_dir in sorted(Path(folder).rglob("offline-run-*"), key=lambda p: p.name):  # by start time
        if run_dir.is_dir():
            run = read_offline_run(run_dir)
            latest[run["id"] or str(run_dir)] = run
    records = []
    for run in latest.values():
        record = run_record(config=run["config"], summary=run["summary"], tags=run["tags"], group=run["group"])
        if record["complete"]:
            records.append(record)
    return records


def main(argv: list[str] | None = None, api: Any = None) -> None:
    parser = argparse.ArgumentParser(prog="laftr-cl-compare-wandb", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("project", nargs="?", help="entity/project to read through the wandb API")
    source.add_argument("--offline", type=Path, help="a folder holding offline run folders (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the table and plots")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    parser.add_argument("--duplicates", choices=("refuse", "latest"), default="refuse",
                        help="a seed twice in one group: refuse (default) or keep its newest run")
    args = parser.parse_args(argv)
    if args.offline is not None:
        runs = runs_from_offline(args.offline)
    else:
        if api is None:
            import wandb

            api = wandb.Api()
        runs = runs_from_api(api, args.project)
    if not runs:
        parser.error(f"no finished laftr-cl runs in {args.offline or args.project}")
    write_comparison(runs, args.out, plots=not args.no_plots, duplicates=args.duplicates)


if __name__ == "__main__":
    main()
