"""The comparison table of ``laftr-cl-compare``: one row per group of runs (same settings, other
seeds; :mod:`laftr_cl.reporting.groups`), mean ± std per metric, as Markdown, CSV and plots."""
from __future__ import annotations

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

