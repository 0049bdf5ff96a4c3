"""What moves when LAFTR loses task 0: one run, a row per epoch of every later task.

    python scripts/collapse_diagnostic.py experiment=paper_split_mnist \
        data.root=../shared/datasets/mnist-5k data.preprocessing=raw seed=1

Any ``laftr-cl`` override works (``regularizer.plugin.fsd_lambda=…``, ``estimator=bernoulli``, …).
Columns, all on task 0 (its head: the first task's output units):

* ``acc``: test accuracy now; ``acc_head``: θ_0's shared layers with today's head (only the head
  moved); ``acc_shared``: today's shared layers with θ_0's head (only the shared layers moved).
* ``share0``: share of task 0's test inputs predicted as its first class (0.5 = balanced).
* ``est``: the regularizer's own estimate of FSD_0 (mean of 20 draws of the configured estimator);
  ``lin_real``: the same estimator on task 0's real training inputs (1000 stored inputs), i.e.
  without the input model; ``true``: the true FSD on task 0's training data.
* ``g_ce``, ``g_fsd``: gradient norms of the cross-entropy and of λ·FSD on one minibatch;
  ``cos``: cosine between the two gradients.
* ``dW_dead``, ``dW_live``: how far task 0's head rows moved from θ_0 (Frobenius norm) on the last
  hidden layer's units that never fire on task 0's training data at θ_0 (``dead``, listed once at
  the start) and on the others; ``on_new``: share of (task-0 test input, last-layer unit) pairs that
  are off at θ_0 and on now — what the gate linearization (θ_0's gates) cannot see.
"""
from __future__ import annotations

import copy
import sys
from typing import Any

import torch
from avalanche.core import SupervisedPlugin
from torch import nn

from laftr_cl.fsd import fsd, summarize, true_fsd
from laftr_cl.study.probed_run import probed_run

COLUMNS = ("task", "epoch", "acc", "acc_head", "acc_shared", "share0", "est", "lin_real", "true",
           "g_ce", "g_fsd", "cos", "dW_dead", "dW_live", "on_new")


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, units: list[int]) -> tuple[float, float]:
    with torch.no_grad():
        pred = net(x)[:, units].argmax(-1)
    target = torch.as_tensor([units.index(int(c)) for c in y.tolist()])
    return (pred == target).float().mean().item(), (pred == 0).float().mean().item()


def _features(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The last hidden layer's activations ``[N, h]`` (everything but the output Linear)."""
    return nn.Sequential(*list(net)[:-1])(x)


def _mixed(shared_from: nn.Sequential, head_from: nn.Sequential) -> nn.Sequential:
    """``shared_from``'s layers with ``head_from``'s last Linear."""
    net = copy.deepcopy(shared_from)
    net[-1].load_state_dict(head_from[-1].state_dict())
    return net


class CollapseProbe(SupervisedPlugin):
    """Records the table's row after every training epoch of tasks ≥ 1 (see the module docstring)."""

    def __init__(self, laftr: Any, benchmark: Any, options: dict[str, Any], fsd_lambda: float) -> None:
        super().__init__()
        self.laftr, self.options, self.fsd_lambda = laftr, options, fsd_lambda
        self.x_test, self.y_test = benchmark.test[0].x, benchmark.test[0].y
        self.x_train, self.y_train = benchmark.train[0].x, benchmark.train[0].y
        self.units = benchmark.task_classes[0]
        self.rows: list[tuple] = []

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        if strategy.experience.current_experience == 0:
            net = strategy.model.net
            self.reference = copy.deepcopy(net).eval()
            self.real = summarize(strategy.model, (self.x_train, self.y_train), inputs="coreset",
                                  coreset_size=len(self.y_train), output_units=self.units)
            with torch.no_grad():
                self.dead = (_features(self.reference, self.x_train) > 0).sum(0) == 0
            print(f"last hidden layer: {int(self.dead.sum())} of {self.dead.numel()} units never fire on task 0 at θ_0",
                  flush=True)

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        task = strategy.experience.current_experience
        if task == 0:
            return
        net = strategy.model.net
        was_training = net.training
        net.eval()
        acc, share0 = _accuracy(net, self.x_test, self.y_test, self.units)
        acc_head, _ = _accuracy(_mixed(self.reference, net), self.x_test, self.y_test, self.units)
        acc_shared, _ = _accuracy(_mixed(net, self.reference), self.x_test, self.y_test, self.units)
        bank = self.laftr.method.prepare(strategy.model, list(self.laftr.summaries.values()))
        with torch.no_grad():
            est = torch.stack([fsd(strategy.model, bank, reduction="none", **self.options)[0]
                               for _ in range(20)]).mean().item()
            real_options = dict(self.options, num_samples=len(self.y_train), anchor="per_task")
            lin_real = fsd(strategy.model, [self.real], reduction="none", **real_options)[0].item()
            true = true_fsd(net, self.reference, (self.x_train, self.y_train), metric=self.options["metric"],
                            output_units=self.units).item()
        g_ce, g_fsd, cos = self._gradients(strategy, bank)
        with torch.no_grad():
            moved = (net[-1].weight - self.reference[-1].weight)[self.units]
            d_dead, d_live = moved[:, self.dead].norm().item(), moved[:, ~self.dead].norm().item()
            on_new = ((_features(self.reference, self.x_test) <= 0) & (_features(net, self.x_test) > 0)).float().mean().item()
        net.train(was_training)
        self.rows.append((task, strategy.clock.train_exp_epochs, acc, acc_head, acc_shared, share0,
                          est, lin_real, true, g_ce, g_fsd, cos, d_dead, d_live, on_new))
        print(_format(self.rows[-1]), flush=True)

    def _gradients(self, strategy: Any, bank: Any) -> tuple[float, float, float]:
        """Norms of ∇CE and ∇(λ·FSD) on one minibatch of the current task, and their cosine."""
        params = [p for p in strategy.model.parameters() if p.requires_grad]
        x, y = strategy.mb_x[:32], strategy.mb_y[:32]
        task = strategy.mb_task_id[:32]
        ce = nn.functional.cross_entropy(strategy.model(x, task), y)
        g1 = torch.cat([g.flatten() for g in torch.autograd.grad(ce, params, allow_unused=False)])
        reg = self.fsd_lambda * fsd(strategy.model, bank, **self.options)
        g2 = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                        for g, p in zip(torch.autograd.grad(reg, params, allow_unused=True), params)])
        cos = (g1 @ g2 / (g1.norm() * g2.norm()).clamp_min(1e-30)).item()
        return g1.norm().item(), g2.norm().item(), cos


def _format(row: tuple) -> str:
    task, epoch, *values = row
    return f"{task:>4} {epoch:>5} " + " ".join(f"{v:>10.4g}" for v in values)


def main(overrides: list[str]) -> None:
    run = probed_run(overrides, lambda laftr, benchmark: CollapseProbe(laftr, benchmark, laftr.method.fsd_options,
                                                                       laftr.fsd_lambda))
    print(" ".join(f"{c:>10}" if i > 1 else f"{c:>5}" for i, c in enumerate(COLUMNS)), flush=True)
    for experience in run.benchmark.scenario.train_stream:
        run.strategy.train(experience)
    final = [_accuracy(run.strategy.model.net.eval(), t.x, t.y, classes)[0]
             for t, classes in zip(run.benchmark.test, run.benchmark.task_classes)]
    print("final accuracy per task: " + " ".join(f"{100 * a:.1f}" for a in final)
          + f"  mean {100 * sum(final) / len(final):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
