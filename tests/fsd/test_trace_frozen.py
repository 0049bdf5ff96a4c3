"""The traced gated view gives the numbers the hand-built, layer-list view gave (frozen values).

``tests/fsd/data/layer_view_values.json`` holds the FSD values of the project's MLP and CIFAR net
(multi-head ``TaskMaskedClassifier``, as the CLI builds them) and of plain ``nn.Sequential`` nets,
computed by the layer-list view before it was replaced (commit 78bcbbf) with::

    PYTHONPATH=<checkout of 78bcbbf> python tests/fsd/test_trace_frozen.py

Running this file as a script with the current code prints the same table for comparison.
"""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from laftr_cl.fsd import fsd, summarize
from laftr_cl.models import MLP, CifarNet, TaskMaskedClassifier

FROZEN = Path(__file__).parent / "data" / "layer_view_values.json"
CASES = [  # (model, input shape, estimator, metric, inputs, gate_draws)
    ("mlp", (1, 4, 4), "bernoulli", "l2_prob", "full", "per_input"),
    ("mlp", (1, 4, 4), "relu", "kl", "coreset", "per_input"),
    ("mlp", (1, 4, 4), "exact", "l2_logit", "diag", "per_input"),
    ("mlp_dropout", (1, 4, 4), "bernoulli", "l2_logit", "diag", "per_step"),
    ("cifar_net", (3, 32, 32), "bernoulli", "kl", "diag", "per_input"),
    ("cifar_net", (3, 32, 32), "relu", "l2_prob", "coreset", "per_input"),
    ("sequential_cnn", (1, 8, 8), "bernoulli", "l2_logit", "full", "per_step"),
]


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "mlp":
        return TaskMaskedClassifier(MLP(16, (8, 6), 4), [[0, 1], [2, 3]]).double()
    if name == "mlp_dropout":
        return TaskMaskedClassifier(MLP(16, (8,), 4, dropout=0.3), None).double()
    if name == "cifar_net":
        return TaskMaskedClassifier(CifarNet(3, 4), [[0, 1], [2, 3]]).double()
    return nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3)).double()


def compute(case: tuple) -> list[float]:
    """Per-task FSD of two summarized tasks after perturbing the model, from fixed seeds."""
    name, shape, estimator, metric, inputs, gate_draws = case
    model = _model(name)
    g = torch.Generator().manual_seed(1)
    takes_label = "task_label" in inspect.signature(summarize).parameters
    summaries = []
    for task in range(2):
        x = torch.randn(40, *shape, generator=g, dtype=torch.float64) + 0.3 * task
        y = torch.arange(40) % 2 + (2 * task if name in ("mlp", "cifar_net") else 0)
        units = model.output_units(task) if hasattr(model, "output_units") else None
        options = dict(task_label=task) if takes_label else {}
        summaries.append(summarize(model, (x, y), inputs=inputs, rank=3, coreset_size=5, output_units=units,
                                   generator=torch.Generator().manual_seed(task), **options))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    same_dropout = name == "mlp_dropout"
    values = fsd(model, summaries, estimator=estimator, metric=metric, num_samples=6, gate_draws=gate_draws,
                 same_dropout=same_dropout, generator=torch.Generator().manual_seed(2), reduction="none")
    return values.tolist()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[2]}-{c[3]}-{c[4]}")
def test_traced_view_reproduces_the_layer_list_view(case):
    frozen = json.loads(FROZEN.read_text())
    key = "|".join(map(str, case))
    torch.testing.assert_close(torch.tensor(compute(case), dtype=torch.float64),
                               torch.tensor(frozen[key], dtype=torch.float64), rtol=1e-10, atol=1e-12)


if __name__ == "__main__":
    table = {"|".join(map(str, case)): compute(case) for case in CASES}
    if "--write" in sys.argv:
        FROZEN.write_text(json.dumps(table, indent=1) + "\n")
    print(json.dumps(table, indent=1))
