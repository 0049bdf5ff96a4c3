import torch
from avalanche.training.plugins import EvaluationPlugin, SynapticIntelligencePlugin

from laftr_cl.benchmarks import build_benchmark
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.si import SynapticIntelligence
from laftr_cl.training.strategy import build_strategy


def _importances_after_one_task(plugin):
    bm = build_benchmark("split_mnist", root="unused", num_experiences=5,
                         synthetic={"train_per_class": 20, "test_per_class": 2})
    torch.manual_seed(0)
    model = TaskMaskedClassifier(MLP(784, [16], 10), bm.task_classes)
    strategy = build_strategy("naive", model=model, optimizer=torch.optim.Adam(model.parameters()),
                              plugins=[plugin], evaluator=EvaluationPlugin(), benchmark=bm,
                              device=torch.device("cpu"), epochs=1, batch_size=8, eval_batch_size=64)
    strategy.train(bm.scenario.train_stream[0])
    start = {k: v.data.clone() for k, v in plugin.ewc_data[0].items()}
    strategy.train(bm.scenario.train_stream[1])
    moved = {k: (p.detach().flatten() - start[k]).abs().max().item()
             for k, p in model.named_parameters()}
    return {k: v.data.abs().max().item() for k, v in plugin.ewc_data[1].items()}, moved


def test_si_importances_are_positive_on_the_cpu():
    importances, moved = _importances_after_one_task(SynapticIntelligence(si_lambda=1.0))
    assert all(value > 0 for value in importances.values())
    # the stored start-of-task weights are a copy: training the next task moves away from them
    assert all(value > 0 for value in moved.values())


def test_avalanche_si_aliases_weights_on_the_cpu():
    """Documents why laftr-cl subclasses it: the upstream plugin learns no importance here."""
    importances, _ = _importances_after_one_task(SynapticIntelligencePlugin(si_lambda=1.0))
    assert all(value == 0 for value in importances.values())
