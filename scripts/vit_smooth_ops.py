"""How well LAFTR's estimate tracks the true FSD on a ViT, with ``smooth_ops`` exact or linearized.

Split MNIST (5 tasks, task-incremental heads), the project's ViT (patch 7, width 32, depth 1, 2 heads)
under the masked multi-head: train task 0 (3 epochs, Adam 3e-3, batch 64), summarize it, train task 1
the same way without a regularizer, then compare on task 0's training data the true FSD (``true_fsd``)
with LAFTR's estimates (S = 400 draws) for each estimator, input model and ``smooth_ops``. Prints
mean ± std over the seeds and the worst seed's ratio estimate / true.

    python scripts/vit_smooth_ops.py --root <folder with MNIST> --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import copy
import statistics

import torch
import torch.nn.functional as F
from avalanche.benchmarks.classic import SplitMNIST

from laftr_cl.fsd import fsd, summarize, true_fsd
from laftr_cl.models import TaskMaskedClassifier, ViT

CASES = [(inputs, estimator, smooth) for inputs in ("full", "coreset") for estimator in ("bernoulli", "relu")
         for smooth in ("exact", "linearized")]


def tensors(experience) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = zip(*[(item[0], item[1]) for item in experience.dataset])
    return torch.stack(x), torch.tensor(y)


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, task: int, seed: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(3):
        for batch in torch.randperm(len(x), generator=order).split(64):
            loss = F.cross_entropy(model(x[batch], torch.full((len(batch),), task)), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def one_seed(root: str, seed: int) -> dict[tuple, float]:
    torch.manual_seed(seed)
    benchmark = SplitMNIST(5, return_task_id=True, seed=0, dataset_root=root)
    classes = [sorted(e.classes_in_this_experience) for e in benchmark.train_stream]
    model = TaskMaskedClassifier(ViT(1, 784, 10, patch_size=7, width=32, depth=1, heads=2), classes)
    (x0, y0), (x1, y1) = tensors(benchmark.train_stream[0]), tensors(benchmark.train_stream[1])
    train(model, x0, y0, 0, seed)
    reference = copy.deepcopy(model)
    summaries = {inputs: summarize(model, (x0, y0), inputs=inputs, coreset_size=100, output_units=classes[0],
                                   task_label=0, generator=torch.Generator().manual_seed(seed))
                 for inputs in ("full", "coreset")}
    train(model, x1, y1, 1, seed)
    out = {}
    with torch.no_grad():
        for metric in ("l2_prob", "l2_logit"):
            out[("true", metric)] = true_fsd(model, reference, (x0, y0), metric=metric, output_units=classes[0],
                                             task_label=0).item()
            for inputs, estimator, smooth in CASES:
                out[(inputs, estimator, smooth, metric)] = fsd(
                    model, [summaries[inputs]], estimator=estimator, metric=metric, num_samples=400,
                    smooth_ops=smooth, generator=torch.Generator().manual_seed(seed)).item()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="the MNIST folder (Avalanche's dataset_root)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    runs = [one_seed(args.root, seed) for seed in args.seeds]

    def stats(key: tuple) -> str:
        values = [r[key] for r in runs]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {spread:.3f}"

    print(f"seeds {args.seeds}; FSD of task 0 after training task 1 (on task 0's training data)")
    print("| inputs | estimator | smooth_ops | l2_prob | l2_logit | worst ratio est/true (l2_prob) |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| (true FSD) | | | {stats(('true', 'l2_prob'))} | {stats(('true', 'l2_logit'))} | |")
    for inputs, estimator, smooth in CASES:
        ratios = [r[(inputs, estimator, smooth, "l2_prob")] / r[("true", "l2_prob")] for r in runs]
        worst = max(ratios, key=lambda v: abs(v - 1))
        print(f"| {inputs} | {estimator} | {smooth} | {stats((inputs, estimator, smooth, 'l2_prob'))} | "
              f"{stats((inputs, estimator, smooth, 'l2_logit'))} | {worst:.2f} |", flush=True)


if __name__ == "__main__":
    main()
