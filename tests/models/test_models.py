import pytest
import torch

from laftr_cl.models import MASKED_LOGIT, MLP, CifarNet, TaskMaskedClassifier


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
