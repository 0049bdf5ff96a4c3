import pytest
import torch

from helpers import compose_run_config
from laftr_cl.models import MASKED_LOGIT, MLP, CifarNet, TaskMaskedClassifier, ViT
from laftr_cl.run.experiment import run_experiment


def test_mlp_shapes_and_layers():
    net = MLP(784, [16, 8], 10)
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert [type(m).__name__ for m in net] == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]


def test_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError, match="model.hidden_sizes"):
        MLP(784, [0], 10)


def test_cifar_net_matches_the_paper_layout():
    net = CifarNet(3, 60)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 60)
    assert net[13].in_features == 64 * 6 * 6
    assert sum(isinstance(m, torch.nn.ReLU) for m in net) == 5


def test_masked_head_restricts_each_input_to_its_task_classes():
    torch.manual_seed(0)
    model = TaskMaskedClassifier(MLP(4, [8], 4), task_classes=[[0, 1], [2, 3]])
    x = torch.randn(4, 4)
    tasks = torch.tensor([0, 1, 1, 0])
    out = model(x, tasks)
    raw = model.net(x)
    assert torch.equal(out[0, :2], raw[0, :2]) and torch.all(out[0, 2:] == MASKED_LOGIT)
    assert torch.equal(out[1, 2:], raw[1, 2:]) and torch.all(out[1, :2] == MASKED_LOGIT)
    assert model.output_units(1) == [2, 3]
    # gradients reach only the rows of the task's head
    out[0].sum().backward()
    last = model.net[-1].weight.grad
    assert last[2:].abs().sum() == 0 and last[:2].abs().sum() > 0


def test_single_head_returns_all_outputs():
    model = TaskMaskedClassifier(MLP(4, [8], 3), task_classes=None)
    x = torch.randn(2, 4)
    assert torch.equal(model(x, torch.zeros(2, dtype=torch.long)), model.net(x))
    assert model.output_units(0) is None


def test_masked_head_rejects_classes_beyond_the_outputs():
    with pytest.raises(ValueError, match="num_outputs"):
        TaskMaskedClassifier(MLP(4, [8], 3), task_classes=[[0, 5]])


@pytest.mark.parametrize("channels, side", [(1, 28), (3, 32)])
def test_vit_shapes_and_parts(channels, side):
    net = ViT(channels, channels * side * side, 10, patch_size=4, width=16, depth=3, heads=2)
    assert net(torch.randn(2, channels, side, side)).shape == (2, 10)
    assert len(net.blocks) == 3 and net.pos_embed.shape == (1, (side // 4) ** 2 + 1, 16)
    assert isinstance(net.blocks[0].attn, torch.nn.MultiheadAttention)


@pytest.mark.parametrize("options, setting", [(dict(patch_size=5), "patch_size=5"), (dict(heads=3), "heads=3"),
                                              (dict(input_size=700), "input_size=700"), (dict(depth=0), "depth=0")])
def test_vit_rejects_settings_that_do_not_fit(options, setting):
    with pytest.raises(ValueError, match=rf"model.net: .*{setting}"):
        ViT(**{"in_channels": 1, "input_size": 784, "num_outputs": 10, "width": 16, **options})


@pytest.mark.parametrize("benchmark, regularizer", [("split_mnist", "laftr"), ("split_cifar10", "laftr"),
                                                    ("permuted_mnist", "ewc")])
def test_vit_runs_with_the_benchmarks_and_regularizers(benchmark, regularizer, tmp_path):
    cfg = compose_run_config([f"benchmark={benchmark}", "debug=fast", "benchmark.num_experiences=2", "model=vit",
                              "model.net.width=16", "model.net.heads=2", "model.net.depth=1",
                              f"regularizer={regularizer}"], tmp_path)
    results = run_experiment(cfg, tmp_path)
    assert results["complete"] is True and len(results["accuracy_matrix"]) == 2
    if regularizer == "laftr":
        assert results["summary_memory_bytes"]["rates"] > 0
