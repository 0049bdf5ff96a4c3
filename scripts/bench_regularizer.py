"""Time per training step of each regularizer, as a ratio to an unregularized step.

MLP 784-512-512-10, batch 128, Adam. For each T in ``--tasks`` the regularizers are first given
T genuinely earlier tasks (a real Avalanche run over T small synthetic Permuted MNIST tasks
fills EWC's Fisher and LAFTR's summaries), then one training step — forward, cross-entropy,
the regularizer's ``before_backward`` (which adds λ·penalty to the loss), backward, Adam — is
timed over ``--steps`` steps after warm-up, every method in the same process. The methods are
timed in turn, ``--rounds`` times over, and each one's median round is reported: a slow-down
from another job on the machine hits one round of every method alike, not one method's total.

    python scripts/bench_regularizer.py                      # CPU
    python scripts/bench_regularizer.py --device cuda --steps 500 --compile none compile cudagraph
    python scripts/bench_regularizer.py --model resnet18 --tasks 1 5 --steps 2   # reduced ResNet-18, Split CIFAR-100
    python scripts/bench_regularizer.py --model vit --tasks 1 5 --steps 10       # the small ViT, Split MNIST
    python scripts/bench_regularizer.py --methods none "laftr bernoulli" "liftr deterministic, diag"   # chosen rows

``--model resnet18``: the CL papers' reduced ResNet-18 (width 20, 1.1 M parameters, BatchNorm) on
32×32×3 inputs, multi-head over Split CIFAR-100's 20 tasks; the earlier tasks are its first T
experiences, and the per-part bytes of one LAFTR task summary are printed after the table.

``--compile`` adds, for each mode, rows whose whole step runs through
:class:`~laftr_cl.training.compiled_step.TrainStep` (``compile``: torch.compile; ``cudagraph``: one
replayed CUDA graph); methods that act inside the step (EWC) have no compiled rows.

Columns: ms per step, ratio to ``none`` (the first mode's unregularized step) at the same T, and
the bytes the regularizer keeps per earlier task.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import torch
from avalanche.training.plugins import EvaluationPlugin, EWCPlugin
from torch import nn

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.fsd import summarize
from laftr_cl.models import MLP, ResNet18, TaskMaskedClassifier, ViT
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.regularizers.liftr import LiftrPlugin
from laftr_cl.regularizers.memory import memory_bytes
from laftr_cl.run.build import resolve_device
from laftr_cl.training.compiled_step import TrainStep, is_step_penalty
from laftr_cl.training.strategy import build_strategy

METHODS: dict[str, Callable[[int], Any]] = {
    "none": lambda s: None,
    "ewc": lambda s: EWCPlugin(ewc_lambda=1.0),
    "laftr bernoulli": lambda s: LaftrPlugin(estimator="bernoulli", metric="l2_prob", num_samples=s),
    "laftr bernoulli, diag inputs": lambda s: LaftrPlugin(estimator="bernoulli", metric="l2_prob", num_samples=s,
                                                          inputs="diag"),
    "laftr bernoulli, lowrank inputs": lambda s: LaftrPlugin(estimator="bernoulli", metric="l2_prob", num_samples=s,
                                                             inputs="lowrank", rank=20),
    "laftr bernoulli, lowrank inputs, current BN stats": lambda s: LaftrPlugin(
        estimator="bernoulli", metric="l2_prob", num_samples=s, inputs="lowrank", rank=20, bn_stats="current"),
    "laftr exact": lambda s: LaftrPlugin(estimator="exact", metric="l2_logit", num_samples=s),
    "laftr relu, lowrank inputs, no rates": lambda s: LaftrPlugin(estimator="relu", metric="l2_prob", num_samples=s,
                                                                  inputs="lowrank", rank=20, rates="none"),
    "liftr deterministic": lambda s: LiftrPlugin(mode="deterministic", covariance="full"),
    "liftr deterministic, diag": lambda s: LiftrPlugin(mode="deterministic", covariance="diag"),
    "liftr stochastic": lambda s: LiftrPlugin(mode="stochastic", covariance="full", num_samples=s),
    "liftr stochastic, diag": lambda s: LiftrPlugin(mode="stochastic", covariance="diag", num_samples=s),
}


@dataclass(frozen=True)
class Setup:
    """A network and the benchmark whose first T experiences are its earlier tasks."""

    title: str
    benchmark: str
    num_experiences: int | None  # None: T experiences
    input_shape: tuple[int, ...]
    num_outputs: int
    make_net: Callable[[], nn.Module]
    multi_head: bool
    methods: tuple[str, ...]


SETUPS = {
    "mlp": Setup("MLP 784-512-512-10", "permuted_mnist", None, (1, 28, 28), 10,
                 lambda: MLP(784, [512, 512], 10), multi_head=False,
                 methods=("none", "ewc", "laftr bernoulli", "laftr bernoulli, diag inputs", "laftr exact")),
    "resnet18": Setup("reduced ResNet-18 (width 20), Split CIFAR-100 20 tasks, multi-head", "split_cifar100", 20,
                      (3, 32, 32), 100, lambda: ResNet18(3, 100), multi_head=True,
                      methods=("none", "ewc", "laftr bernoulli", "laftr bernoulli, diag inputs",
                               "laftr bernoulli, lowrank inputs", "laftr bernoulli, lowrank inputs, current BN stats")),
    "vit": Setup("ViT (patch 4, width 64, depth 2, 4 heads; model=vit), Split MNIST 5 tasks, multi-head",
                 "split_mnist", 5, (1, 28, 28), 10, lambda: ViT(1, 784, 10), multi_head=True,
                 methods=("none", "ewc", "laftr bernoulli", "laftr bernoulli, diag inputs",
                          "laftr relu, lowrank inputs, no rates")),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prepared(setup: Setup, method: str, tasks: int, samples: int, device: torch.device) -> tuple[nn.Module, Any]:
    """A model and a plugin that have really been through ``tasks`` earlier experiences."""
    torch.manual_seed(0)
    bench = build_benchmark(setup.benchmark, root="unused", num_experiences=setup.num_experiences or max(tasks, 1),
                            synthetic={"train_per_class": 13, "test_per_class": 1}, device=device)
    model = TaskMaskedClassifier(setup.make_net(), bench.task_classes if setup.multi_head else None).to(device)
    plugin = METHODS[method](samples)
    if plugin is None or tasks == 0:
        return model, plugin
    strategy = build_strategy("naive", model=model, optimizer=torch.optim.Adam(model.parameters()),
                              plugins=[plugin], evaluator=EvaluationPlugin(), benchmark=bench,
                              device=device, epochs=1, batch_size=128, eval_batch_size=128)
    for exp in list(bench.scenario.train_stream)[:tasks]:
        strategy.train(exp)
    return model, plugin


def step_timer(setup: Setup, model: nn.Module, plugin: Any, tasks: int, batch: int,
               device: torch.device) -> Callable[[int], float]:
    """A function of ``steps`` that runs that many training steps (``plugin.before_backward`` adding
    its penalty) and returns the ms per step; warmed up before it is returned."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, *setup.input_shape, device=device)
    y = torch.randint(0, setup.num_outputs, (batch,), device=device)
    fake = SimpleNamespace(model=model, device=device, loss=None,
                           clock=SimpleNamespace(train_exp_counter=tasks))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        fake.loss = loss_fn(model.net(x), y)
        if plugin is not None:
            plugin.before_backward(fake)
        fake.loss.backward()
        optimizer.step()

    def timed(steps: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        return 1000 * (time.perf_counter() - start) / steps

    timed(5)
    return timed


def compiled_step_timer(setup: Setup, model: nn.Module, plugin: Any, batch: int, device: torch.device,
                        mode: str) -> Callable[[int], float]:
    """As :func:`step_timer`, the step run by ``TrainStep(mode=...)`` (compiled or captured while warming up)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    penalties = [plugin] if plugin is not None else []
    step = TrainStep(model, optimizer, nn.CrossEntropyLoss(), penalties, mode=mode, precision="fp32", device=device)
    x = torch.randn(batch, *setup.input_shape, device=device)
    y = torch.randint(0, setup.num_outputs, (batch,), device=device)
    t = torch.zeros(batch, dtype=torch.long, device=device)

    def timed(steps: int) -> float:
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step(x, y, t)
        _sync(device)
        return 1000 * (time.perf_counter() - start) / steps

    timed(5)
    return timed


def timers_of(setup: Setup, prepared_methods: dict[str, tuple[nn.Module, Any]], tasks: int, batch: int,
              device: torch.device, modes: list[str]) -> dict[str, tuple[str, Callable[[int], float]]]:
    """Row name → (method, timer): the eager step (mode ``none``) and, on copies of the model and
    plugin, each compiled mode where the method's term can be compiled."""
    timers = {}
    for mode in modes:
        for method, (model, plugin) in prepared_methods.items():
            if mode == "none":
                timers[method] = (method, step_timer(setup, model, plugin, tasks, batch, device))
            elif plugin is None or is_step_penalty(plugin):
                timer = compiled_step_timer(setup, copy.deepcopy(model), copy.deepcopy(plugin), batch, device, mode)
                timers[f"{method} ({mode})"] = (method, timer)
    return timers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", choices=sorted(SETUPS), default="mlp")
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 3, 9])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per method and round")
    parser.add_argument("--rounds", type=int, default=3, help="each method is timed this many times, in turn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=40, help="S, LAFTR's draws per task and step")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=None,
                        help="rows to time (default: the model's usual rows)")
    parser.add_argument("--compile", nargs="+", default=["none"], choices=["none", "compile", "cudagraph"],
                        help="step modes to time: none (eager), compile, cudagraph (CUDA only)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    setup = SETUPS[args.model]
    print(f"device: {name}; {setup.title}, batch {args.batch_size}, S = {args.samples}, "
          f"median of {args.rounds} rounds of {args.steps} timed steps")
    print("| T | method | ms / step | ratio to none | bytes per task |\n| --- | --- | --- | --- | --- |")
    for tasks in args.tasks:
        methods = args.methods or setup.methods
        prepared_methods = {method: prepared(setup, method, tasks, args.samples, device) for method in methods}
        timers = timers_of(setup, prepared_methods, tasks, args.batch_size, device, args.compile)
        rounds: dict[str, list[float]] = {row: [] for row in timers}
        for _ in range(args.rounds):
            for row, (_, timer) in timers.items():
                rounds[row].append(timer(args.steps))
        base = statistics.median(next(iter(rounds.values())))  # the first mode's unregularized step
        for row, (method, _) in timers.items():
            plugin = prepared_methods[method][1]
            ms = statistics.median(rounds[row])
            memory = memory_bytes(plugin) if plugin is not None else None
            per_task = f"{memory['total'] // tasks:,}" if memory else "0"
            print(f"| {tasks} | {row} | {ms:.2f} | {ms / base:.2f}x | {per_task} |", flush=True)
    if args.model in ("resnet18", "vit"):
        print_summary_parts(prepared_methods)


def print_summary_parts(prepared_methods: dict[str, tuple[nn.Module, Any]]) -> None:
    """Bytes of the first task's LAFTR summary by part, and with one firing rate per channel instead of per
    position (summarized again on 8 random inputs: every part's size depends only on the network and options)."""
    print("\n| LAFTR summary of one task | rates | inputs | snapshot | total |\n| --- | --- | --- | --- | --- |")
    for method, (model, plugin) in prepared_methods.items():
        if not isinstance(plugin, LaftrPlugin):
            continue
        summary = plugin.summaries[0]
        rows = {method: summary.nbytes()}
        convolutions_only = bool(summary.firing_rates) and all(len(r.shape) == 4 for r in summary.firing_rates)
        if not convolutions_only:  # per-channel rates exist for convolutions only, and need kept rates
            print(f"| {method} | {rows[method]['rates']:,} | {rows[method]['inputs']:,} | "
                  f"{rows[method]['snapshot']:,} | {rows[method]['total']:,} |")
            continue
        per_channel = summarize(model, (torch.randn(8, *summary.input_shape), torch.zeros(8, dtype=torch.long)),
                                output_units=summary.output_units.tolist(), task_label=0,
                                **{**plugin.method.summary_options, "rates": "per_channel"})
        rows[f"{method}, per-channel rates"] = per_channel.nbytes()
        for name, parts in rows.items():
            print(f"| {name} | {parts['rates']:,} | {parts['inputs']:,} | {parts['snapshot']:,} | {parts['total']:,} |")


if __name__ == "__main__":
    main()
