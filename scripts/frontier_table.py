"""The accuracy–memory frontier table and one plot per benchmark, from ``results.json`` files.

    python scripts/frontier_table.py logs/frontier --out docs/frontier

Prints the Markdown table (mean ± std, min and n over seeds; bytes per task and copies of θ) and
the Pareto-optimal points, and writes ``frontier.md`` and ``frontier_<benchmark>.png`` into
``--out``. See :mod:`laftr_cl.frontier` for what a method and a budget are.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from laftr_cl.frontier import frontier_points, load_runs, pareto, plot_frontier, to_markdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="folders searched for results.json (recursively)")
    parser.add_argument("--out", default=None, help="folder for frontier.md and the plots (default: the first folder)")
    args = parser.parse_args(argv)
    points = frontier_points(load_runs(args.folders))
    if not points:
        raise SystemExit(f"frontier_table: no complete test-set results.json under {', '.join(args.folders)}.")
    out = Path(args.out or args.folders[0])
    table = to_markdown(points)
    best = "\n".join(f"- {p.benchmark}: {p.method} {p.budget} ({p.mean:.2f}, {p.total_bytes / 1e3:.1f} KB)"
                     for p in pareto(points))
    out.mkdir(parents=True, exist_ok=True)
    (out / "frontier.md").write_text(f"{table}\n\nPareto-optimal (accuracy vs total bytes):\n\n{best}\n")
    for benchmark in sorted({p.benchmark for p in points}):
        plot_frontier(points, benchmark, out / f"frontier_{benchmark}.png")
    print(table)
    print("\nPareto-optimal (accuracy vs total bytes):\n" + best)


if __name__ == "__main__":
    main()
