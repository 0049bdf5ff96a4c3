"""The reduced ResNet-18: shapes, blocks and shortcuts, BatchNorm, and the multi-head wrapper."""
import pytest
import torch
from torch import nn

from laftr_cl.fsd import fsd, summarize
from laftr_cl.models import MASKED_LOGIT, ResNet18, TaskMaskedClassifier
from laftr_cl.models.resnet import BasicBlock


def test_forward_shapes_and_stage_resolutions():
    net = ResNet18(in_channels=3, num_outputs=100, width=4).eval()
    x = torch.randn(2, 3, 32, 32)
    assert net(x).shape == (2, 100)
    h = net.relu(net.bn1(net.conv1(x)))
    shapes = []
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        h = stage(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes == [(4, 32, 32), (8, 16, 16), (16, 8, 8), (32, 4, 4)]
    # the adaptive pool takes other resolutions too (e.g. 28×28 single-channel inputs)
    assert ResNet18(in_channels=1, num_outputs=10, width=4)(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_width_20_is_the_cl_papers_size():
    net = ResNet18(3, 100)
    assert sum(p.numel() for p in net.parameters()) == 1_109_240  # GEM's reduced ResNet-18 on 100 classes
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 20  # 1 stem + 8 blocks × 2 + 3 shortcuts
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 17  # stem + 2 per block, each its own module


def test_block_shortcut_is_identity_or_strided_projection():
    same = BasicBlock(8, 8)
    assert isinstance(same.shortcut, nn.Identity)
    down = BasicBlock(8, 16, stride=2)
    conv, bn = down.shortcut
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and isinstance(bn, nn.BatchNorm2d)
    down.eval()
    x = torch.randn(2, 8, 6, 6)
    h = torch.relu(down.bn1(down.conv1(x)))
    expected = torch.relu(down.bn2(down.conv2(h)) + bn(conv(x)))
    torch.testing.assert_close(down(x), expected)


def test_batchnorm_statistics_move_in_train_mode_only():
    net = ResNet18(3, 10, width=4)
    before = net.bn1.running_mean.clone()
    net.eval()(torch.randn(4, 3, 32, 32) + 3)
    assert torch.equal(net.bn1.running_mean, before)
    net.train()(torch.randn(4, 3, 32, 32) + 3)
    assert not torch.equal(net.bn1.running_mean, before)


def test_multi_head_wrapper_masks_the_linear_head():
    model = TaskMaskedClassifier(ResNet18(3, 6, width=4), task_classes=[[0, 1, 2], [3, 4, 5]]).eval()
    out = model(torch.randn(2, 3, 32, 32), torch.tensor([1, 0]))
    assert torch.all(out[0, :3] == MASKED_LOGIT) and torch.all(out[0, 3:] != MASKED_LOGIT)
    assert torch.all(out[1, 3:] == MASKED_LOGIT)
    assert model.output_units(1) == [3, 4, 5]


def test_rejects_bad_sizes_naming_the_setting():
    with pytest.raises(ValueError, match="model.net.width"):
        ResNet18(3, 10, width=0)
    with pytest.raises(ValueError, match="model.net.blocks_per_stage"):
        ResNet18(3, 10, blocks_per_stage=[2, 2, 2])


def test_laftr_summarizes_and_regularizes_the_resnet():
    torch.manual_seed(0)
    model = TaskMaskedClassifier(ResNet18(3, 4, width=4), task_classes=[[0, 1], [2, 3]])
    x, y = torch.randn(12, 3, 32, 32), torch.randint(0, 2, (12,))
    model.train()(x, 0)  # BatchNorm statistics away from their initial values
    summary = summarize(model, (x, y), inputs="diag", output_units=[0, 1])
    assert len(summary.firing_rates) == 17
    assert summary.firing_rates[0].shape == (1, 4, 32, 32) and summary.firing_rates[-1].shape == (1, 32, 4, 4)
    per_channel = summarize(model, (x, y), inputs="diag", output_units=[0, 1], rates="per_channel")
    assert per_channel.nbytes()["rates"] * 16 <= summary.nbytes()["rates"]
    assert float(fsd(model, [summary], num_samples=4)) == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    distance = fsd(model, [summary], num_samples=4)
    distance.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert distance > 0 and grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
