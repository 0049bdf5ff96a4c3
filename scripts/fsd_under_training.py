"""Does training against an FSD estimate keep the true FSD small? One run of the first two tasks.

    python scripts/fsd_under_training.py experiment=split_mnist_5k model=vit regularizer=liftr \
        regularizer.plugin.covariance=diag regularizer.plugin.fsd_lambda=10 \
        data.root=../shared/datasets/mnist-5k data.validation_fraction=0.1 seed=100

Any ``laftr-cl`` override works; the regularizer must be an FSD method (``laftr``, ``liftr``,
``coreset_fsd``, ``ntk_fsd``). The network learns task 0, then task 1 with λ·FSD_0 added to its loss.
After every epoch of task 1 it prints one row, all on task 0 (its head):

* ``acc``: accuracy on task 0's evaluation set (the validation split when one is held out);
* ``estimate``: the regularizer's own FSD_0 at θ, the term λ multiplies (mean of 5 calls: a stochastic
  estimator draws anew on each);
* ``true``: the exact FSD_0 in the same metric ρ on task 0's training data, θ against θ_0;
* ``estimate/true``: how much of the true distance the training objective sees.

An estimate that tracks the truth along an unregularized trajectory (the FSD study) can still be driven
to zero by the optimizer while the truth stays large: this script shows whether it is.
"""
from __future__ import annotations

import copy
import sys
from typing import Any

import torch
from avalanche.core import SupervisedPlugin

from laftr_cl.fsd import true_fsd
from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin
from laftr_cl.study.probed_run import probed_run

COLUMNS = ("task", "epoch", "acc", "estimate", "true", "estimate/true")
ESTIMATE_CALLS = 5


class TruthProbe(SupervisedPlugin):
    """Prints the module docstring's row after every training epoch of task 1."""

    def __init__(self, regularizer: FsdRegularizerPlugin, benchmark: Any) -> None:
        super().__init__()
        self.regularizer, self.benchmark = regularizer, benchmark
        self.units = list(benchmark.task_classes[0])
        self.task_label = benchmark.train[0].task_label

    def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
        if strategy.experience.current_experience == 0:
            self.reference = copy.deepcopy(strategy.model).eval()

    def after_training_epoch(self, strategy: Any, **kwargs: Any) -> None:
        if strategy.experience.current_experience == 0:
            return
        model, method = strategy.model, self.regularizer.method
        model.eval()
        with torch.no_grad():
            evaluation = self.benchmark.test[0]
            labels = torch.full((len(evaluation.y),), self.task_label, dtype=torch.long)
            logits = model(evaluation.x, labels)[:, self.units]
            acc = (logits.argmax(1) == evaluation.y - self.units[0]).float().mean().item()
            prepared = method.prepare(model, [self.regularizer.summaries[0]])
            estimate = sum(method.estimate(model, prepared).item() for _ in range(ESTIMATE_CALLS)) / ESTIMATE_CALLS
            true = true_fsd(model, self.reference, (self.benchmark.train[0].x, self.benchmark.train[0].y),
                            metric=method.metric, output_units=self.units, task_label=self.task_label).item()
        model.train()
        row = (1, strategy.clock.train_exp_epochs, acc, estimate, true, estimate / max(true, 1e-30))
        print(f"{row[0]:>4} {row[1]:>5} " + " ".join(f"{v:>13.4g}" for v in row[2:]), flush=True)


def _refuse_other_regularizers(cfg: Any, regularizer: Any) -> None:
    if not isinstance(regularizer, FsdRegularizerPlugin):
        sys.exit(f"regularizer={cfg.regularizer.name} is not an FSD method: choose laftr, liftr, coreset_fsd or ntk_fsd.")


def main(overrides: list[str]) -> None:
    run = probed_run(overrides, TruthProbe, check=_refuse_other_regularizers)
    print(f"{run.cfg.regularizer.name}: λ = {run.regularizer.fsd_lambda}, ρ = {run.regularizer.method.metric}", flush=True)
    print(" ".join(f"{c:>5}" if i < 2 else f"{c:>13}" for i, c in enumerate(COLUMNS)), flush=True)
    for experience in list(run.benchmark.scenario.train_stream)[:2]:
        run.strategy.train(experience)


if __name__ == "__main__":
    main(sys.argv[1:])
