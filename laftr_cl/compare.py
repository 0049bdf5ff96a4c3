"""``laftr-cl-compare SWEEP_DIR``: one table from every ``results.json`` under a folder.

Rows are (benchmark, regularizer) pairs; each cell is the mean ± standard deviation over the
runs (seeds) of that pair. Writes ``comparison.md`` and ``comparison.csv`` into the folder (or
``--out``), the plots of :mod:`laftr_cl.plots` (unless ``--no-plots``), and prints the Markdown
table. Runs evaluated on a validation split (``data.validation_fraction > 0``, hyperparameter
searches) form their own rows, ``<benchmark> (validation)``, never mixed with test-set runs.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

COLUMNS = [
    ("average_accuracy", "final avg. accuracy"),
    ("backward_transfer", "BWT"),
    ("forgetting", "forgetting"),
    ("memory_bytes", "summary memory (bytes)"),
    ("wall_time_s", "wall time (s)"),
]


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every complete ``results.json`` below ``folder`` (incomplete runs are skipped)."""
    runs = []
    for path in sorted(Path(folder).rglob("results.json")):
        payload = json.loads(path.read_text())
        if payload.get("complete"):
            payload["path"] = str(path)
            runs.append(payload)
    return runs


def _run_values(run: dict[str, Any]) -> dict[str, float | None]:
    memory = run.get("summary_memory_bytes") or {}
    return {**run["final"], "memory_bytes": memory.get("total", 0),
            "wall_time_s": run["wall_time_s"]}


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def benchmark_of(run: dict[str, Any]) -> str:
    """The run's benchmark name, marked ``(validation)`` when it was evaluated on a validation split."""
    name = run["config"]["benchmark"]["name"]
    fraction = (run["config"].get("data") or {}).get("validation_fraction") or 0
    return f"{name} (validation)" if fraction > 0 else name


def regularizer_of(run: dict[str, Any]) -> str:
    return run["config"]["regularizer"]["name"]


def summarize_runs(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (benchmark, regularizer): ``n`` runs, seeds, and (mean, std) per column."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(benchmark_of(run), regularizer_of(run))].append(run)
    rows = []
    for (benchmark, regularizer), members in sorted(groups.items()):
        values = [_run_values(run) for run in members]
        row: dict[str, Any] = {"benchmark": benchmark, "regularizer": regularizer,
                               "n": len(members),
                               "seeds": sorted(run["config"]["seed"] for run in members)}
        for key, _ in COLUMNS:
            present = [v[key] for v in values if v.get(key) is not None]
            row[key] = _mean_std(present) if present else None
        rows.append(row)
    return rows


def _cell(key: str, stat: tuple[float, float] | None) -> str:
    if stat is None:
        return "–"
    mean, std = stat
    if key == "memory_bytes":
        return f"{mean:,.0f}"
    if key == "wall_time_s":
        return f"{mean:.1f} ± {std:.1f}"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """Accuracy, BWT and forgetting in percent points; memory in bytes; time in seconds."""
    head = ["benchmark", "regularizer", "runs"] + [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        cells = [row["benchmark"], row["regularizer"], str(row["n"])]
        cells += [_cell(key, row[key]) for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["benchmark", "regularizer", "runs", "seeds"]
                        + [f"{key}_{part}" for key, _ in COLUMNS for part in ("mean", "std")])
        for row in rows:
            stats = [x for key, _ in COLUMNS for x in (row[key] or (None, None))]
            writer.writerow([row["benchmark"], row["regularizer"], row["n"],
                             " ".join(map(str, row["seeds"])), *stats])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="laftr-cl-compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a sweep folder (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: folder)")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    args = parser.parse_args(argv)
    runs = load_results(args.folder)
    if not runs:
        parser.error(f"no complete results.json under {args.folder}: point it at a run or sweep folder")
    write_comparison(runs, args.out or args.folder, plots=not args.no_plots)


def write_comparison(runs: list[dict[str, Any]], out: Path, *, plots: bool = True) -> list[dict[str, Any]]:
    """Writes ``comparison.md``, ``comparison.csv`` (and the plots) of ``runs`` into ``out``,
    prints the Markdown table and returns the rows."""
    rows = summarize_runs(runs)
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(rows)
    (out / "comparison.md").write_text(markdown)
    write_csv(rows, out / "comparison.csv")
    if plots:
        from laftr_cl.plots import write_plots  # matplotlib only when plotting

        write_plots(runs, rows, out, benchmark_of=benchmark_of, regularizer_of=regularizer_of)
    print(markdown, end="")
    return rows


if __name__ == "__main__":
    main()
