"""``storage_dtype=float16``: half the bytes of rates and input statistics, the same regularizer up to rounding."""
import pytest
import torch
from avalanche.training.plugins import EvaluationPlugin

from helpers import compose_run_config
from laftr_cl.benchmarks import build_benchmark
from laftr_cl.config.checks import ConfigError
from laftr_cl.fsd import fsd
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.run.experiment import run_experiment
from laftr_cl.training.strategy import build_strategy


def _trained(plugin):
    benchmark = build_benchmark("split_mnist", root="unused", num_experiences=5,
                                synthetic={"train_per_class": 12, "test_per_class": 4})
    torch.manual_seed(0)
    model = TaskMaskedClassifier(MLP(784, [16], 10), benchmark.task_classes)
    strategy = build_strategy("naive", model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
                              plugins=[plugin], evaluator=EvaluationPlugin(), benchmark=benchmark,
                              device=torch.device("cpu"), epochs=1, batch_size=8, eval_batch_size=64)
    for exp in list(benchmark.scenario.train_stream)[:2]:
        torch.manual_seed(1)
        strategy.train(exp)
    return strategy


@pytest.mark.parametrize("inputs", ["diag", "lowrank"])
def test_float16_halves_rates_and_inputs_and_keeps_the_estimate(inputs):
    full = LaftrPlugin(num_samples=8, inputs=inputs, rank=3, anchor="latest")
    half = LaftrPlugin(num_samples=8, inputs=inputs, rank=3, anchor="latest", storage_dtype="float16")
    strategy, other = _trained(full), _trained(half)
    assert all(r.dtype == torch.float16 for s in half.summaries.values() for r in s.firing_rates)
    a, b = full.memory_bytes(), half.memory_bytes()
    assert b["rates"] * 2 == a["rates"] and b["inputs"] * 2 == a["inputs"] and b["snapshot"] == a["snapshot"]
    # the same network against both summaries, the same draws: equal up to float16 rounding of the statistics
    values = [fsd(other.model, list(p.summaries.values()), anchor="latest", num_samples=64, reduction="none",
                  generator=torch.Generator().manual_seed(3)) for p in (full, half)]
    assert values[1].dtype == torch.float32
    torch.testing.assert_close(values[1], values[0], rtol=2e-2, atol=1e-6)
    assert strategy is not other


def test_unknown_storage_dtype_is_a_config_error(tmp_path):
    cfg = compose_run_config(["debug=fast", "regularizer=laftr", "regularizer.plugin.storage_dtype=int8"], tmp_path)
    with pytest.raises(ConfigError, match=r"regularizer\.plugin\.storage_dtype='int8'.*one of float32, float16"):
        run_experiment(cfg, tmp_path)
