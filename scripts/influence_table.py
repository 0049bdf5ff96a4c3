"""Seed-aggregated tables (mean ± std) of influence and mislabeled-detection runs.

    python scripts/influence_table.py logs/influence/multiruns/<time> logs/mislabeled/multiruns/<time>
    python scripts/influence_table.py logs/mislabeled/multiruns/<time> --out docs/influence/mislabeled.md \
        --plot-dir docs/influence

Groups the runs under the given folders by kind and every setting but the seed (see
:mod:`laftr_cl.study.influence.aggregate`), prints one Markdown table per group, and optionally
writes them to ``--out`` and the seed-mean detection curves of each mislabeled group to
``--plot-dir/mislabeled_<data set>.png`` (``_<k>`` appended for a second setting on one data set).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from laftr_cl.study.influence.aggregate import find_runs, group_runs, summary_markdown, write_detection_plots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run or multirun folders (searched recursively)")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--plot-dir", type=Path, help="write mislabeled_<data>.png (seed-mean curves) here")
    args = parser.parse_args(argv)
    try:
        runs = find_runs(args.folders)
    except FileNotFoundError as err:
        print(f"influence_table: {err}", file=sys.stderr)
        return 2
    if not runs:
        print(f"influence_table: no results.json of scripts/influence.py or scripts/mislabeled.py under "
              f"{', '.join(map(str, args.folders))}: run them first (see docs/results.md).", file=sys.stderr)
        return 2
    groups = group_runs(runs)
    text = summary_markdown(groups)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.plot_dir:
        write_detection_plots(groups, args.plot_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
