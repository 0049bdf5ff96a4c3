"""Networks written the usual way (not nn.Sequential) for the traced-view tests, and a slow,
obviously-correct gated evaluation of any of them: run the real modules, but with every ReLU call
replaced by multiplication with the reference network's gate (a TorchFunctionMode catches
``F.relu``, ``torch.relu`` and ``Tensor.relu`` wherever the forward calls them)."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from avalanche.models import MTSimpleMLP, SimpleMLP
from avalanche.models.dynamic_modules import IncrementalClassifier
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from laftr_cl.fsd.trace import forward_with_task
from laftr_cl.models import MLP, TaskMaskedClassifier

_RELUS = (F.relu, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_)


class BasicBlock(nn.Module):
    """ResNet basic block: conv-BN-relu-conv-BN plus a shortcut (strided 1×1 conv + BN when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResidualCNN(nn.Module):
    """``h = relu(h + block(h))`` with BatchNorm, a strided block, concatenation, adaptive average pooling."""

    def __init__(self, classes: int = 3, prefix: bool = False) -> None:
        super().__init__()
        self.prefix = prefix
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(inplace=True))
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.BatchNorm2d(4), nn.ReLU(),
                                   nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.relu = nn.ReLU()
        self.down = BasicBlock(8, 6, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.prefix:  # a fixed preprocessing before the first layer with parameters
            x = torch.tanh(x) * 2.0
        h = self.stem(x)
        h = self.relu(h + self.block(h))
        h = torch.cat([h, F.avg_pool2d(h, 3, 1, 1)], dim=1)
        h = self.down(h)
        return self.fc(torch.flatten(self.pool(h), 1))


def mt_simple_mlp(widths=(2, 3, 2), active=None, seed: int = 0) -> MTSimpleMLP:
    """Avalanche's MTSimpleMLP (6 inputs, 5 hidden) with one head per task, of the given widths; with
    ``active`` (per task, its classes) the other units of its head are masked, as when class ids are
    kept (``class_ids_from_zero_in_each_exp=False``)."""
    torch.manual_seed(seed)
    model = MTSimpleMLP(input_size=6, hidden_size=5)
    heads = model.classifier
    for task, width in enumerate(widths):
        heads.classifiers[str(task)] = IncrementalClassifier(5, width, masking=False, auto_adapt=False)
        units = torch.ones(width, dtype=torch.int8) if active is None else torch.zeros(width, dtype=torch.int8)
        if active is not None:
            units[list(active[task])] = 1
        heads.register_buffer(f"active_units_T{task}", units)
    return model.double()


def make(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...], int]:
    """``(model in float64, input shape, number of tasks)``."""
    torch.manual_seed(seed)
    if name == "simple_mlp":
        return SimpleMLP(num_classes=3, input_size=6, hidden_size=5, hidden_layers=2, drop_rate=0.2).double(), (6,), 2
    if name == "mt_simple_mlp":
        return mt_simple_mlp(seed=seed), (6,), 3
    if name == "mt_masked_heads":
        return mt_simple_mlp((5, 8, 10), active=([1, 4], [5, 7], [3, 9]), seed=seed), (6,), 3
    if name == "masked_heads":
        return TaskMaskedClassifier(MLP(6, (5, 4), 4), [[0, 1], [2, 3]]).double(), (6,), 2
    model = ResidualCNN(prefix=name == "residual_cnn_prefix").double()
    with torch.no_grad():  # BatchNorm statistics as after training
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model, (1, 6, 6), 2


def perturb_all(model: nn.Module, scale: float = 0.2, seed: int = 1) -> nn.Module:
    """A copy with noise on every parameter and every BatchNorm statistic."""
    other = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(other.parameters()) + [b for b in other.buffers() if b.is_floating_point()]:
            t.add_(scale * torch.rand(t.shape, generator=g, dtype=t.dtype))
    return other


class _Gates(TorchFunctionMode):
    """Records ``1[s > 0]`` at every ReLU call (``gates=None``), or multiplies by the given gates in order."""

    def __init__(self, gates: list[Tensor] | None = None) -> None:
        super().__init__()
        self.replay = gates is not None
        self.gates = list(gates) if gates is not None else []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _RELUS:
            x = args[0]
            if self.replay:
                return x * self.gates.pop(0)
            gate = (x > 0).to(x.dtype)
            self.gates.append(gate)
            return x * gate
        return func(*args, **(kwargs or {}))


def naive_gated_logits(current: nn.Module, reference: nn.Module, x: Tensor, task_label: int | None):
    """Logits of both networks on ``x`` with the reference's ReLU gates and BatchNorm statistics."""
    current = copy.deepcopy(current).eval()
    reference = reference.eval()
    with torch.no_grad():
        for (name, mine), (_, theirs) in zip(current.named_buffers(), reference.named_buffers()):
            if "running" in name:
                mine.copy_(theirs)
        record = _Gates()
        with record:
            reference_logits = forward_with_task(reference, x, task_label)
        with _Gates(record.gates):
            current_logits = forward_with_task(current, x, task_label)
    return reference_logits, current_logits
