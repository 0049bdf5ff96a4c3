"""Milliseconds per training iteration of the rehearsal baselines against ``replay``, on one machine.

Each method trains a synthetic class-incremental Split MNIST (one head) through the normal run path
(``run_experiment``); a timing plugin measures each training epoch of the tasks after the first (where
the buffer is in use) and divides by its iterations, so the time includes fetching the replayed
examples, which ``ReplayPlugin`` does inside its data loader and DER, ER-ACE and A-GEM inside the
step. Methods are interleaved over ``--repeats`` rounds; the table gives the median::

    python scripts/bench_rehearsal.py --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from avalanche.core import SupervisedPlugin  # noqa: E402

import laftr_cl.run.experiment as experiment  # noqa: E402
from helpers import compose_run_config  # noqa: E402

METHODS = {
    "replay": ["regularizer=replay"],
    "der": ["regularizer=der"],
    "er_ace": ["regularizer=er_ace"],
    "agem": ["regularizer=agem"],
    "gdumb": ["regularizer=gdumb"],
    "icarl": ["regularizer=icarl"],
    "laftr+replay": ["regularizer=laftr", "regularizer.plugin.inputs=lowrank", "regularizer.plugin.anchor=latest",
                     "+regularizer@combine.replay=replay"],
}


class EpochTimer(SupervisedPlugin):
    """Wall time and iterations of each training epoch after the first task."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[tuple[float, int]] = []
        self._start = 0.0

    def before_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        self._start = time.perf_counter()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if strategy.clock.train_exp_counter > 0:
            self.epochs.append((time.perf_counter() - self._start, strategy.clock.train_epoch_iterations))


def ms_per_iteration(overrides: list[str], base: list[str]) -> float:
    """One run of ``base + overrides``; ms per training iteration of its tasks after the first."""
    timer = EpochTimer()
    build = experiment.build_strategy

    def with_timer(*args: Any, plugins: Any, **kwargs: Any) -> Any:
        return build(*args, plugins=[*plugins, timer], **kwargs)

    experiment.build_strategy = with_timer
    try:
        with tempfile.TemporaryDirectory() as folder:
            experiment.run_experiment(compose_run_config([*base, *overrides], Path(folder)), folder)
    finally:
        experiment.build_strategy = build
    seconds, iterations = map(sum, zip(*timer.epochs))
    return 1000 * seconds / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--train-per-class", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    base = ["benchmark=split_mnist", "benchmark.scenario=class", "logger=csv", "checkpoint.enabled=false",
            f"data.synthetic={{train_per_class: {args.train_per_class}, test_per_class: 10}}",
            "train.epochs=1", "train.batch_size=32", f"device={args.device}"]
    times: dict[str, list[float]] = {m: [] for m in args.methods}
    for _ in range(args.repeats):
        for method in args.methods:
            times[method].append(ms_per_iteration(METHODS[method], base))
    reference = statistics.median(times["replay"]) if "replay" in times else None
    print("| method | ms / iteration (median) | runs | ratio to replay |\n| --- | --- | --- | --- |")
    for method, values in times.items():
        median = statistics.median(values)
        ratio = f"{median / reference:.2f}" if reference else "–"
        print(f"| {method} | {median:.2f} | {', '.join(f'{v:.2f}' for v in values)} | {ratio} |")


if __name__ == "__main__":
    main()
