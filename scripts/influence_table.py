"""Seed-aggregated tables (mean ± std) of influence and mislabeled-detection runs.

    python scripts/influence_table.py logs/influence/multiruns/<time> logs/mislabeled/multiruns/<time>
    python scripts/influence_table.py logs/mislabeled/multiruns/<time> --out docs/influence/mislabeled.md \
        --plot-dir docs/influence

Groups the runs under the given folders by kind and every setting but the seed (see
:mod:`laftr_cl.influence.study.aggregate`), prints one Markdown table per group, and optionally
writes them to ``--out`` and the seed-mean detection curves of each mislabeled group to
``--plot-dir/mislabeled_<data set>.png`` (``_<k>`` appended for a second setting on one data set).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from laftr_cl.influence.study.aggregate import find_runs, group_runs, mean_detection_curves, summary_markdown
from laftr_cl.influence.study.report import plot_detection


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
        args.plot_dir.mkdir(parents=True, exist_ok=True)
        written: set[Path] = set()
        for group in groups.values():
            if group[0].kind != "mislabeled":
                continue
            config = group[0].config
            name = config["data"]["name"]
            path = args.plot_dir / f"mislabeled_{name}.png"
            if path in written:  # a second setting on the same data set, e.g. another flip_fraction
                path = args.plot_dir / f"mislabeled_{name}_{len(written)}.png"
            written.add(path)
            flipped = len(group[0].payload["flipped"])
            plot_detection(mean_detection_curves(group), path,
                           title=f"{name}: {flipped} of {config['num_train']} labels flipped, "
                                 f"mean of {len(group)} seed{'s' if len(group) > 1 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
