"""LaftrPlugin in a plain Avalanche script: Avalanche's benchmarks, loaders, models and strategies,
no wrapper around the model."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from avalanche.benchmarks import nc_benchmark
from avalanche.benchmarks.classic import SplitMNIST
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.models import MTSimpleMLP, SimpleMLP
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin, ReplayPlugin
from torch import nn
from torch.utils.data import TensorDataset

from helpers import mean_forgetting, shared_dataset
from laftr_cl.models import ResNet18
from laftr_cl.regularizers.laftr import LaftrPlugin


class ResidualCNN(nn.Module):
    """A residual BatchNorm CNN written the usual way: ``h = relu(h + block(h))``."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                   nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        h = self.stem(x)
        h = F.relu(h + self.block(h))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def _strategy(model, plugins, epochs=1, lr=1e-3):
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True), loggers=[])
    return Naive(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=lr), train_mb_size=64,
                 train_epochs=epochs, eval_mb_size=500, plugins=plugins, evaluator=evaluator)


@pytest.mark.parametrize("name", ["simple_mlp", "mt_simple_mlp_with_replay", "residual_cnn", "resnet18"])
def test_plugin_regularizes_avalanche_models_in_a_plain_script(name):
    torch.manual_seed(0)
    shape = (3, 32, 32) if name == "resnet18" else (1, 28, 28)
    x, y = torch.rand(240, *shape), torch.randint(0, 4, (240,))
    multi_head = name.startswith("mt_")
    benchmark = nc_benchmark(TensorDataset(x, y), TensorDataset(x, y), n_experiences=2, task_labels=multi_head,
                             class_ids_from_zero_in_each_exp=multi_head, seed=0)
    model = {"simple_mlp": lambda: SimpleMLP(num_classes=4, hidden_size=32), "residual_cnn": ResidualCNN,
             "mt_simple_mlp_with_replay": lambda: MTSimpleMLP(hidden_size=32),
             "resnet18": lambda: ResNet18(3, 4, width=4)}[name]()
    laftr = LaftrPlugin(fsd_lambda=1.0, inputs="diag", num_samples=8)
    plugins = [laftr, ReplayPlugin(mem_size=40)] if multi_head else [laftr]
    strategy = _strategy(model, plugins)
    for experience in benchmark.train_stream:
        strategy.train(experience)
    assert [s.task_label for s in laftr.summaries.values()] == ([0, 1] if multi_head else [None, None])
    logged = strategy.evaluator.get_all_metrics()
    fsd_terms = logged["LAFTR_FSD/train_phase/Exp001"][1]
    assert len(fsd_terms) == 1 and fsd_terms[0] > 0
    assert laftr.memory_bytes()["rates"] > 0
    if name == "residual_cnn":  # BatchNorm running statistics travel in the snapshot
        assert "stem.1.running_var" in laftr.summaries[0].snapshot
    if name == "resnet18":  # one firing-rate tensor per ReLU module (17), per channel × row × col
        assert len(laftr.summaries[0].firing_rates) == sum(isinstance(m, nn.ReLU) for m in model.modules()) == 17


def _forgetting(plugins, root) -> float:
    """Mean over tasks 0–3 of (accuracy right after learning it − accuracy after task 4), Split MNIST-5k."""
    torch.manual_seed(0)
    benchmark = SplitMNIST(5, return_task_id=True, class_ids_from_zero_in_each_exp=True, seed=0, dataset_root=root)
    strategy = _strategy(MTSimpleMLP(hidden_size=256), plugins, epochs=3, lr=5e-3)
    return mean_forgetting(strategy, benchmark, num_tasks=5)


def test_laftr_forgets_less_than_naive_on_split_mnist_5k():
    root = shared_dataset("mnist-5k")
    naive = _forgetting([], root)
    laftr = _forgetting([LaftrPlugin(fsd_lambda=1.0, inputs="diag")], root)
    assert naive > 0.02, naive
    assert laftr < naive / 2, (laftr, naive)
