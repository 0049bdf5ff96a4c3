"""Milliseconds per training iteration: a plain PyTorch loop, laftr-cl's pipeline, Avalanche's default.

All three train the same MLP (784-512-512-10, Adam) with the same batch size on the first
experience of Permuted MNIST (the unpermuted digits). Each path is warmed up by one untimed
call, then timed over ``--epochs`` epochs; the table gives ms per iteration and the ratio to
the plain loop, measured in one run.

    python scripts/bench_pipeline.py --data-root ../shared/datasets/mnist-5k
    python scripts/bench_pipeline.py --synthetic 6000 --device cuda --compile none cudagraph  # no files needed

``--compile`` times laftr-cl's pipeline once per ``train.compile`` mode (``none`` is Avalanche's
loop; ``compile`` and ``cudagraph`` run the whole step compiled and drop the last partial batch).

Avalanche's default path (a PIL image and a transform per sample, ``default_evaluator``)
needs real MNIST files, so it is skipped with ``--synthetic``.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from torch import nn

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.run.build import build_evaluator, resolve_device
from laftr_cl.training.strategy import build_strategy
from laftr_cl.training.tensor_loader import TensorBatchLoader


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(run: Callable[[], int], device: torch.device) -> float:
    """Runs ``run`` once to warm up, then once timed; ms per iteration of the timed call."""
    run()
    _sync(device)
    start = time.perf_counter()
    iterations = run()
    _sync(device)
    return 1000 * (time.perf_counter() - start) / iterations


def plain_loop(x, y, device, epochs, batch_size) -> Callable[[], int]:
    model = MLP(784, [512, 512], 10).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run() -> int:
        steps = 0
        for _ in range(epochs):
            for xb, yb, _t in TensorBatchLoader(x, y, 0, batch_size, shuffle=True):
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
                steps += 1
        return steps

    return run


def _naive_run(strategy, experience) -> Callable[[], int]:
    def run() -> int:
        strategy.train(experience)
        return strategy.clock.train_epoch_iterations * strategy.train_epochs

    return run


def laftr_cl_pipeline(benchmark, device, epochs, batch_size, compile_mode="none") -> Callable[[], int]:
    model = TaskMaskedClassifier(MLP(784, [512, 512], 10), None).to(device)
    strategy = build_strategy(
        "naive", model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
        plugins=[], evaluator=build_evaluator([]), benchmark=benchmark, device=device,
        epochs=epochs, batch_size=batch_size, eval_batch_size=1000, compile=compile_mode)
    return _naive_run(strategy, benchmark.scenario.train_stream[0])


def avalanche_default(root, device, epochs, batch_size) -> Callable[[], int]:
    from avalanche.benchmarks.classic import PermutedMNIST
    from avalanche.training import Naive

    scenario = PermutedMNIST(n_experiences=1, seed=0, dataset_root=root)
    model = MLP(784, [512, 512], 10).to(device)
    strategy = Naive(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
                     criterion=nn.CrossEntropyLoss(), train_mb_size=batch_size,
                     train_epochs=epochs, device=device)
    return _naive_run(strategy, scenario.train_stream[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/datasets/mnist-5k")
    parser.add_argument("--synthetic", type=int, default=0,
                        help="use this many synthetic training images per class instead of files")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--compile", nargs="+", default=["none"], choices=["none", "compile", "cudagraph"],
                        help="train.compile modes of laftr-cl's pipeline to time")
    args = parser.parse_args()

    device = resolve_device(args.device)
    torch.manual_seed(0)
    synthetic = {"train_per_class": args.synthetic, "test_per_class": 10} if args.synthetic else None
    benchmark = build_benchmark("permuted_mnist", root=args.data_root, num_experiences=1,
                                synthetic=synthetic, device=device)
    first = benchmark.train[0]
    rows = [("plain PyTorch loop", _timed(plain_loop(first.x, first.y, device, args.epochs, args.batch_size), device))]
    for mode in args.compile:
        label = "laftr-cl (regularizer none)" if mode == "none" else f"laftr-cl (regularizer none, train.compile={mode})"
        rows.append((label, _timed(laftr_cl_pipeline(benchmark, device, args.epochs, args.batch_size, mode), device)))
    if not synthetic:
        rows.append(("Avalanche default (PIL per sample)",
                     _timed(avalanche_default(args.data_root, device, args.epochs, args.batch_size), device)))
    plain = rows[0][1]
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, "
          f"torch threads {torch.get_num_threads()}, {first.y.shape[0]} images, "
          f"batch {args.batch_size}, {args.epochs} epochs")
    print("| path | ms / iteration | ratio to plain |\n| --- | --- | --- |")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} | {ms / plain:.2f}x |")


if __name__ == "__main__":
    main()
