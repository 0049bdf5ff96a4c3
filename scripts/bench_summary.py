"""Seconds to fit one class's input model on CIFAR-shaped inputs (d = 3072), and its bytes.

Each row fits the input model of a classwise LAFTR summary on ``N`` synthetic CIFAR inputs of one
class (``laftr_cl.benchmarks.synthetic``: Gaussian, the real data's shape and scale) and reports the
median of ``--repeats`` fits. ``lowrank (exact eigh)`` is the float64 eigendecomposition of the
3072 × 3072 covariance that ``inputs=lowrank`` used before the randomized factorization
(:mod:`laftr_cl.fsd.input_models.pca`). ``--with-net`` adds a whole ``summarize`` (firing rates of the
paper's CIFAR net and the input model) per class, with ``diag`` inputs (≈ the cost of the
network's forward pass alone) and with ``lowrank``.

    python scripts/bench_summary.py                           # N = 500 (CIFAR-100) and 5000 (CIFAR-10)
    python scripts/bench_summary.py --examples 500 --with-net
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from laftr_cl.benchmarks.settings import SyntheticSpec
from laftr_cl.benchmarks.synthetic import synthetic_data
from laftr_cl.fsd import summarize
from laftr_cl.fsd.input_models import DiagGaussian, FullGaussian, LowRankGaussian
from laftr_cl.fsd.input_models.pca import exact_principal_components
from laftr_cl.models import CifarNet

CIFAR_SHAPE = (3, 32, 32)


def one_class(examples: int) -> torch.Tensor:
    """``[examples, 3, 32, 32]`` synthetic inputs of one CIFAR class."""
    data = synthetic_data(CIFAR_SHAPE, 1, SyntheticSpec(train_per_class=examples, test_per_class=1), seed=0)
    return data.x_train


def fitters(rank: int, skip_exact: bool) -> dict[str, Callable[[torch.Tensor], int]]:
    """Input model name → function fitting it on ``x [N, 3, 32, 32]`` and returning its bytes."""
    rows = {
        f"lowrank k={rank}": lambda x: LowRankGaussian.fit(x.flatten(1), rank=rank).nbytes(),
        "diag": lambda x: DiagGaussian.fit(x.flatten(1)).nbytes(),
        "full": lambda x: FullGaussian.fit(x.flatten(1)).nbytes(),
    }
    if not skip_exact:
        rows[f"lowrank k={rank} (exact eigh, before)"] = _exact_lowrank_bytes(rank)
    return rows


def _exact_lowrank_bytes(rank: int) -> Callable[[torch.Tensor], int]:
    def fit(x: torch.Tensor) -> int:
        pcs = exact_principal_components(x.flatten(1), rank)
        return 4 * (pcs.mean.numel() + pcs.directions.numel() + pcs.variances.numel())

    return fit


def timed(fit: Callable[[torch.Tensor], int], x: torch.Tensor, repeats: int) -> tuple[float, int]:
    seconds, nbytes = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        nbytes = fit(x)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, nargs="+", default=[500, 5000], help="N, inputs of the class")
    parser.add_argument("--rank", type=int, default=50, help="k of the lowrank input model (paper_split_cifar: 50)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-exact", action="store_true", help="leave out the exact eigh (≈ 15 s a fit)")
    parser.add_argument("--with-net", action="store_true", help="also time summarize() on the CIFAR net")
    args = parser.parse_args()
    print(f"cpu, {torch.get_num_threads()} threads; d = 3072; median of {args.repeats} fits")
    print("| N per class | input model | s per class | bytes per class |\n| --- | --- | --- | --- |")
    for examples in args.examples:
        x = one_class(examples)
        for name, fit in fitters(args.rank, args.skip_exact).items():
            seconds, nbytes = timed(fit, x, args.repeats)
            print(f"| {examples} | {name} | {seconds:.3f} | {nbytes:,} |", flush=True)
        if args.with_net:
            net = CifarNet(3, 10).eval()
            labels = torch.zeros(examples, dtype=torch.long)
            for inputs in ("diag", "lowrank"):
                seconds, nbytes = timed(
                    lambda x: summarize(net, (x, labels), inputs=inputs, rank=args.rank, classwise=True).nbytes()["total"],
                    x, args.repeats)
                print(f"| {examples} | summarize(CifarNet, {inputs}) | {seconds:.3f} | {nbytes:,} |", flush=True)

if __name__ == "__main__":
    main()
