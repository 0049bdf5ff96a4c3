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
import sys
from pathlib import Path

from laftr_cl.reporting.comparison import write_comparison
from laftr_cl.reporting.groups import DuplicateSeedsError
from laftr_cl.reporting.scan import scan_results


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


if __name__ == "__main__":
    main()
