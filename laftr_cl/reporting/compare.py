"""``laftr-cl-compare SWEEP_DIR``: one table from every ``results.json`` under a folder.

Runs are grouped by their resolved config minus the seed and run plumbing (see
:mod:`laftr_cl.reporting.groups`): one row per group, named by the benchmark, the dataset as the user
ran it (``MNIST-5k``), the regularizer, and one column per other setting that differs between
rows (``benchmark.scenario``, ``train.epochs``, ``regularizer.plugin.fsd_lambda``, …). Each metric
cell is the mean ± standard deviation over the group's seeds (``(n = 1)`` for a single seed), with
the minimum final accuracy and ``n`` beside it. A seed that appears twice in a group is refused
(``--duplicates latest`` keeps the newest). Each ``results.json`` is read against its schema
(:mod:`laftr_cl.reporting.schema`): failed and unfinished runs, and files that are no run's results
(invalid JSON, missing or mistyped fields, a ``final`` that disagrees with its accuracy matrix), are
listed under the table with the reason, never averaged. An ``--out`` that is a file, or a disk that
cannot take the report, is one paragraph (exit status 2 or 4) and leaves no half-written file.
Writes ``comparison.md`` and ``comparison.csv`` into the folder (or ``--out``) and the plots of
:mod:`laftr_cl.reporting.plots` (unless ``--no-plots``), and prints the Markdown.

``--frontier`` writes the accuracy–memory frontier instead (:mod:`laftr_cl.reporting.frontier`): one row per
(benchmark, method, budget) with the bytes kept per task and the copies of θ, ``frontier.md`` and
one ``frontier_<benchmark>.png`` per benchmark (``experiment=frontier_<benchmark>`` makes the runs).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from laftr_cl.reporting.comparison import write_comparison
from laftr_cl.reporting.groups import DuplicateSeedsError
from laftr_cl.reporting.output import ReportUnwritable
from laftr_cl.reporting.scan import left_out_reason, scan_results


def _stop(message: str, code: int) -> NoReturn:
    print(f"laftr-cl-compare: {message}", file=sys.stderr)
    raise SystemExit(code)


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
    if not args.folder.is_dir():
        _stop(f"{args.folder} is no folder: point it at a run or sweep folder.", 2)
    runs, left_out = scan_results(args.folder)
    if not runs:
        listed = "".join(f" {run['path']} — {left_out_reason(run)}." for run in left_out[:5])
        more = f" (and {len(left_out) - 5} more)" if len(left_out) > 5 else ""
        _stop(f"no complete laftr-cl run under {args.folder}: point it at a run or sweep folder."
              + (f" Left out:{listed}{more}" if left_out else ""), 2)
    out = args.out or args.folder
    try:
        if args.frontier:
            from laftr_cl.loggers.console import quiet
            from laftr_cl.reporting.frontier import NoFrontierPoint, write_frontier

            quiet()  # the frontier builds each model (θ's size), importing Avalanche
            try:
                write_frontier(runs, out, plots=not args.no_plots,
                               left_out=[f"{run['path']} — {left_out_reason(run)}" for run in left_out])
            except NoFrontierPoint as err:
                _stop(f"--frontier on {args.folder}: {err}", 2)
        else:
            write_comparison(runs, out, plots=not args.no_plots, duplicates=args.duplicates, left_out=left_out)
    except DuplicateSeedsError as err:
        _stop(str(err), 2)
    except ReportUnwritable as err:
        _stop(str(err), err.exit_code)


if __name__ == "__main__":
    main()
