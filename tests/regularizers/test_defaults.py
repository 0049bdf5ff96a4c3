"""Each regularizer's defaults are declared once, in its RegularizerSpec: a project plugin built in Python
with no options is the plugin that ``laftr-cl regularizer=<name> --cfg job`` composes, and the yaml, the
plugin's signature and the spec hold the same values."""
from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from avalanche.benchmarks import nc_benchmark
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.models import SimpleMLP
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf
from torch.utils.data import TensorDataset

from helpers import compose_run_config
from laftr_cl.fsd.input_models import LowRankGaussian
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.regularizers.specs import registered, spec_for

# The call a user's script makes, and the command-line choice it must equal.
PYTHON_CALLS = {
    "laftr": {},
    "laftr_lowrank": {"inputs": "lowrank"},
    "coreset_fsd": {},
    "ntk_fsd": {},
    "liftr": {},
    "si": {},
}


def resolved(value: Any) -> Any:
    """A built object as plain data: its class and attributes, nested objects likewise (a generator
    by its seed), so two plugins compare equal exactly when they were built with the same options."""
    if isinstance(value, torch.Generator):
        return ("Generator", value.initial_seed())
    if isinstance(value, dict):
        return {k: resolved(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolved(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return (type(value).__qualname__, resolved(vars(value)))
    return value


def composed_options(name: str) -> dict[str, Any]:
    plugin = compose_run_config([f"regularizer={name}"]).regularizer.plugin
    return {k: v for k, v in OmegaConf.to_container(plugin, resolve=True).items() if k != "_target_"}


def test_every_project_plugin_is_checked():
    # the loop-owning rehearsal strategies (der, er_ace, icarl) are Avalanche's classes with Avalanche's
    # signatures, built with a model: only their yaml is compared with the spec (below)
    project = {name for name, spec in registered().items()
               if spec.plugin and spec.plugin.startswith("laftr_cl.") and not spec.owns_loop}
    assert project == set(PYTHON_CALLS)


@pytest.mark.parametrize("name", sorted(PYTHON_CALLS))
def test_a_plugin_built_in_python_is_the_one_the_cli_composes(name):
    spec = spec_for(name)
    cls = get_class(spec.plugin)
    signature = inspect.signature(cls).bind(**PYTHON_CALLS[name])
    signature.apply_defaults()
    python_options = {k: v for k, v in signature.arguments.items() if k in spec.options}
    assert python_options == composed_options(name) == spec.defaults()
    cfg = compose_run_config([f"regularizer={name}"])
    assert resolved(cls(**PYTHON_CALLS[name])) == resolved(instantiate(cfg.regularizer.plugin))


@pytest.mark.parametrize("name", sorted(p for p in registered() if spec_for(p).plugin is not None))
def test_the_yaml_sets_the_declared_values(name):
    assert composed_options(name) == spec_for(name).defaults()


def test_a_different_option_makes_a_different_plugin():
    # resolved() sees the options: the comparison above cannot pass by ignoring them
    assert resolved(LaftrPlugin()) != resolved(LaftrPlugin(rank=19))
    assert resolved(LaftrPlugin()) != resolved(LaftrPlugin(seed=1))


def test_lowrank_laftr_in_a_plain_avalanche_script():
    torch.manual_seed(0)
    x, y = torch.rand(200, 1, 28, 28), torch.randint(0, 4, (200,))
    benchmark = nc_benchmark(TensorDataset(x, y), TensorDataset(x, y), n_experiences=2, task_labels=False, seed=0)
    model = SimpleMLP(num_classes=4, hidden_size=16)
    laftr = LaftrPlugin(inputs="lowrank", num_samples=4)
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.01), train_mb_size=50,
                     train_epochs=1, eval_mb_size=200, plugins=[laftr],
                     evaluator=EvaluationPlugin(accuracy_metrics(experience=True), loggers=[]))
    for experience in benchmark.train_stream:
        strategy.train(experience)
    inputs = laftr.summaries[0].inputs
    assert isinstance(inputs, LowRankGaussian) and inputs.components.shape[-2:] == (784, spec_for("laftr").default("rank"))
    assert strategy.evaluator.get_all_metrics()["LAFTR_FSD/train_phase/Exp001"][1][0] > 0
