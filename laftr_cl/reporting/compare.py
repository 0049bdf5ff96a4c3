"""``laftr-cl-compare SWEEP_DIR``: one table from every ``results.json`` under a folder.

Runs are grouped by their resolved config minus the seed and run plumbing (see
:mod:`laftr_cl.reporting.groups`): one row per group, named by the benchmark, the dataset as the user
ran it (``MNIST-5k``), the regularizer, and one column per other setting that differs between
rows (``benchmark.scenario``, ``train.epochs``, ``regularizer.plugin.fsd_lambda``, …). Each metric
cell is the mean ± standard deviation over the group's seeds (``(n = 1)`` for a single seed), with
the minimum final accuracy and ``n`` beside it. A seed that appears twice in a group is refused
(``--duplicates latest`` keeps the newest). Failed and unfinished runs are listed under the table,
never averaged. Writes ``comparison.md`` and ``comparison.csv`` into the folder (or ``--out``) and
the plots of :mod:`laftr_cl.reporting.plots` (unless ``--no-plots``), and prints the Markdown.

``--frontier`` writes the accuracy–memory frontier instead (:mod:`laftr_cl.reporting.frontier`): one row per
(benchmark, method, budget) with the bytes kept per task and the copies of θ, ``frontier.md`` and
one ``frontier_<benchmark>.png`` per benchmark (``experiment=frontier_<benchmark>`` makes the runs).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable

from laftr_cl.reporting.groups import (
    DuplicateSeedsError,
    Stat,
    differing_settings,
    dropped_duplicates,
    group_runs,
    seed_stat,
)
from laftr_cl.reporting.tables import markdown_table, write_csv

COLUMNS = [
    ("average_accuracy", "final avg. accuracy"),
    ("backward_transfer", "BWT"),
    ("forgetting", "forgetting"),
    ("memory_bytes", "summary memory (bytes)"),
    ("wall_time_s", "wall time (s)"),
]
PERCENT = {"average_accuracy", "backward_transfer", "forgetting"}
TITLES = {"benchmark.name": "benchmark", "dataset": "data", "regularizer.name": "regularizer"}


def scan_results(folder: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(complete, left_out)``: the complete ``results.json`` below ``folder`` (oldest first) and
    the others (failed or unfinished), each with its ``path``."""
    complete, left_out = [], []
    paths = sorted(Path(folder).rglob("results.json"), key=lambda p: (p.stat().st_mtime, str(p)))
    for path in paths:
        payload = json.loads(path.read_text())
        payload["path"] = str(path)
        (complete if payload.get("complete") else left_out).append(payload)
    return complete, left_out


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every complete ``results.json`` below ``folder`` (failed and unfinished runs are left out)."""
    return scan_results(folder)[0]


def _run_values(run: dict[str, Any]) -> dict[str, float | None]:
    memory = run.get("summary_memory_bytes") or {}
    return {**run["final"], "memory_bytes": memory.get("total", 0), "wall_time_s": run.get("wall_time_s")}


def summarize_runs(runs: Iterable[dict[str, Any]], *, duplicates: str = "refuse") -> list[dict[str, Any]]:
    """One row per group (see the module docstring).

    A row holds ``benchmark``, ``dataset``, ``regularizer``, ``settings`` (the differing settings:
    dotted key → value, None where a setting does not apply), ``columns`` (those keys, the same for
    every row), ``n``, ``seeds``, ``runs`` (the member dicts), ``dropped_duplicates`` and a
    :class:`Stat` (or None) per metric of :data:`COLUMNS`.
    """
    groups = group_runs(runs, duplicates=duplicates)
    columns = differing_settings([settings for settings, _ in groups])
    rows = []
    for settings, members in groups:
        values = [_run_values(run) for run in members]
        row: dict[str, Any] = {
            "benchmark": settings.get("benchmark.name"), "dataset": settings["dataset"],
            "regularizer": settings.get("regularizer.name"),
            "settings": {key: settings.get(key) for key in columns}, "columns": columns,
            "n": len(members), "seeds": [run["config"].get("seed") for run in members], "runs": members,
            "dropped_duplicates": dropped_duplicates(members)}
        for key, _ in COLUMNS:
            row[key] = seed_stat(v.get(key) for v in values)
        rows.append(row)
    rows.sort(key=lambda r: [json.dumps(r["settings"][k], default=str) for k in columns])
    return rows


def _cell(key: str, stat: Stat | None) -> str:
    if stat is None:
        return "–"
    if key == "memory_bytes":
        return f"{stat.mean:,.0f}"
    scale, digits = (100, 2) if key in PERCENT else (1, 1)
    mean = f"{scale * stat.mean:.{digits}f}"
    return f"{mean} (n = 1)" if stat.n == 1 else f"{mean} ± {scale * stat.std:.{digits}f}"


def _setting(value: Any) -> str:
    return "–" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def to_markdown(rows: list[dict[str, Any]], left_out: list[dict[str, Any]] = ()) -> str:
    """Accuracy, BWT and forgetting in percent points; memory in bytes; time in seconds."""
    columns = rows[0]["columns"] if rows else []
    head = [TITLES.get(key, key) for key in columns] + ["n", COLUMNS[0][1], "min"]
    head += [title for _, title in COLUMNS[1:]]
    lines = []
    for row in rows:
        cells = [_setting(row["settings"][key]) for key in columns]
        cells.append(str(row["n"]) + (" †" if row["dropped_duplicates"] else ""))
        accuracy = row["average_accuracy"]
        cells += [_cell("average_accuracy", accuracy), "–" if accuracy is None else f"{100 * accuracy.min:.2f}"]
        cells += [_cell(key, row[key]) for key, _ in COLUMNS[1:]]
        lines.append(dict(enumerate(cells)))
    table = markdown_table(lines, [(i, title, "") for i, title in enumerate(head)])
    notes = []
    if any(row["dropped_duplicates"] for row in rows):
        notes.append("† a seed ran more than once in this group: only its newest run is counted.")
    for run in left_out:
        error = run.get("error") or {}
        why = f"failed: {error.get('message', '').splitlines()[0][:200]}" if run.get("status") == "failed" \
            else "unfinished (interrupted or still running)"
        notes.append(f"left out: {run['path']} — {why}")
    return table + "\n" + "".join(f"\n{note}" for note in notes) + ("\n" if notes else "")


def csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``comparison.csv``: the differing settings, ``n``, the seeds, and mean/std/min per metric."""
    columns = rows[0]["columns"] if rows else []
    table = []
    for row in rows:
        line = {TITLES.get(key, key): _setting(row["settings"][key]) for key in columns}
        line.update(n=row["n"], seeds=" ".join(map(str, row["seeds"])))
        for key, _ in COLUMNS:
            line.update(zip((f"{key}_{part}" for part in ("mean", "std", "min")), row[key][:3] if row[key] else (None,) * 3))
        table.append(line)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="laftr-cl-compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a sweep folder (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: folder)")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    parser.add_argument("--duplicates", choices=("refuse", "latest"), default="refuse",
                        help="a seed twice in one group: refuse (default) or keep its newest run")
    parser.add_argument("--frontier", action="store_true",
                        help="write the accuracy-memory frontier (frontier.md, frontier_<benchmark>.png) instead")
    args = parser.parse_args(argv)
    runs, left_out = scan_results(args.folder)
    if not runs:
        parser.error(f"no complete results.json under {args.folder}: point it at a run or sweep folder"
                     + (f" ({len(left_out)} failed or unfinished)" if left_out else ""))
    if args.frontier:
        from laftr_cl.loggers.console import quiet
        from laftr_cl.reporting.frontier import write_frontier

        quiet()  # the frontier builds each model (θ's size), importing Avalanche
        try:
            write_frontier(runs, args.out or args.folder, plots=not args.no_plots)
        except DuplicateSeedsError as err:
            print(f"laftr-cl-compare: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        return
    write_comparison(runs, args.out or args.folder, plots=not args.no_plots, duplicates=args.duplicates,
                     left_out=left_out)


def write_comparison(runs: list[dict[str, Any]], out: Path, *, plots: bool = True, duplicates: str = "refuse",
                     left_out: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Writes ``comparison.md``, ``comparison.csv`` (and the plots) of ``runs`` into ``out``,
    prints the Markdown table and returns the rows. A repeated seed exits with status 2."""
    try:
        rows = summarize_runs(runs, duplicates=duplicates)
    except DuplicateSeedsError as err:
        print(f"laftr-cl-compare: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(rows, left_out)
    (out / "comparison.md").write_text(markdown)
    write_csv(out / "comparison.csv", csv_rows(rows))
    if plots:
        from laftr_cl.reporting.plots import write_plots  # matplotlib only when plotting

        write_plots(rows, out)
    print(markdown, end="")
    return rows


if __name__ == "__main__":
    main()
