"""Seconds to fit one class's input model on CIFAR-shaped inputs (d = 3072), and its bytes.

Each row fits the input model of a classwise LAFTR summary on ``N`` synthetic CIFAR inputs of one
class (``laftr_cl.benchmarks.synthetic``: Gaussian, the real data's shape and scale) and reports the
median of ``--repeats`` fits, in wall-clock seconds and in CPU seconds of this process (the two
differ when other jobs share the cores; with one thread, CPU seconds are what the fit costs).
``lowrank (exact eigh, before)`` is the float64 eigendecomposition of the 3072 × 3072 covariance
that ``inputs=lowrank`` used before the randomized factorization (:mod:`laftr_cl.fsd.input_models.pca`).
``--with-net`` adds a whole ``summarize`` (firing rates of the paper's CIFAR net and the input model)
per class, with ``diag`` inputs (≈ the cost of the network's forward pass alone) and with ``lowrank``.

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


def summary_bytes(inputs: str, rank: int) -> Callable[[torch.Tensor], int]:
    """A function summarizing ``x`` (one class) on the paper's CIFAR net and returning the summary's bytes."""
    net = CifarNet(3, 10).eval()

    def run(x: torch.Tensor) -> int:
        labels = torch.zeros(x.shape[0], dtype=torch.long)
        return summarize(net, (x, labels), inputs=inputs, rank=rank, classwise=True).nbytes()["total"]

    return run


def timed(fit: Callable[[torch.Tensor], int], x: torch.Tensor, repeats: int) -> tuple[float, float, int]:
    """Median wall-clock and CPU (process) seconds of ``repeats`` calls of ``fit(x)``, and its bytes."""
    wall, cpu, nbytes = [], [], 0
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        nbytes = fit(x)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), nbytes


def row(examples: int, name: str, wall: float, cpu: float, nbytes: int) -> str:
    return f"| {examples} | {name} | {wall:.3f} | {cpu:.3f} | {nbytes:,} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, nargs="+", default=[500, 5000], help="N, inputs of the class")
    parser.add_argument("--rank", type=int, default=50, help="k of the lowrank input model (paper_split_cifar: 50)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-exact", action="store_true", help="leave out the exact eigh (≈ 15 s a fit)")
    parser.add_argument("--with-net", action="store_true", help="also time summarize() on the CIFAR net")
    args = parser.parse_args()
    print(f"cpu, {torch.get_num_threads()} threads; d = 3072; median of {args.repeats} fits")
    print("| N per class | input model | wall s per class | CPU s per class | bytes per class |\n"
          "| --- | --- | --- | --- | --- |")
    for examples in args.examples:
        x = one_class(examples)
        for name, fit in fitters(args.rank, args.skip_exact).items():
            print(row(examples, name, *timed(fit, x, args.repeats)), flush=True)
        if args.with_net:
            for inputs in ("diag", "lowrank"):
                measured = timed(summary_bytes(inputs, args.rank), x, args.repeats)
                print(row(examples, f"summarize(CifarNet, {inputs})", *measured), flush=True)

if __name__ == "__main__":
    main()
