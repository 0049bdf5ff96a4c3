"""Ops the gated view cannot linearize fail at summary time, naming the op and its module path."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from laftr_cl.fsd import summarize


class MishBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return x + F.mish(self.conv(x))


class Branching(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class Net(nn.Module):
    """conv → relu → ``middle`` → flatten → linear; ``middle`` is the op under test."""

    def __init__(self, middle: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.body = nn.ModuleDict({"middle": middle})
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        h = self.body["middle"](torch.relu(self.stem(x)))
        return self.fc(h.flatten(1))


class TokenSort(nn.Module):
    def forward(self, x):
        tokens = x.flatten(2).transpose(1, 2)
        return tokens.sort(dim=1).values.transpose(1, 2).reshape(x.shape)


def _summarize(model):
    x = torch.randn(10, 1, 4, 4, dtype=torch.float64)
    return summarize(model.double(), (x, torch.zeros(10)), inputs="diag")


@pytest.mark.parametrize(
    "middle, message",
    [
        (MishBlock(), r"LAFTR cannot linearize torch.nn.functional.mish in 'body.middle'\."),
        (nn.Sequential(nn.Identity(), nn.Hardswish()), r"LAFTR cannot linearize nn.Hardswish in 'body.middle.1'\."),
        (TokenSort(), r"LAFTR cannot linearize Tensor.sort in 'body.middle'"),
        (nn.Softsign(), r"LAFTR cannot linearize nn.Softsign in 'body.middle'\."),
    ],
)
def test_unsupported_op_is_named_with_its_module_path_and_what_still_works(middle, message):
    with pytest.raises(ValueError, match=message) as error:
        _summarize(Net(middle))
    text = str(error.value)
    assert "only before the first layer with parameters" in text and "regularizer=coreset_fsd" in text
    assert "\n" not in text


def test_an_unsupported_op_inside_a_transformer_encoder_layer_is_named_by_its_path():
    class Direct(nn.Module):  # the encoder layer is read through its forward: its Mish is what LAFTR refuses
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(16, 2, 32, activation=nn.Mish(), batch_first=True)
            self.fc = nn.Linear(16, 2)

        def forward(self, x):
            tokens = x.flatten(1).unsqueeze(1)
            return self.fc(self.layer(tokens).flatten(1))

    with pytest.raises(ValueError, match=r"LAFTR cannot linearize nn.Mish in 'layer.activation'"):
        _summarize(Direct())


def test_data_dependent_branch_names_the_module():
    with pytest.raises(ValueError, match=r"could not trace Net: The forward of 'body.middle' branches on a traced value"):
        _summarize(Net(Branching()))


def test_shape_question_after_a_failed_op_names_that_op_not_the_head():
    from avalanche.models import MultiHeadClassifier, MultiTaskModule

    class Trunk(MultiTaskModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(10, 8), nn.GELU())  # made for 10 inputs, not 16
            self.classifier = MultiHeadClassifier(8, 2)

        def forward_single_task(self, x, task_label):
            return self.classifier(self.body(x), task_label)

    with pytest.raises(ValueError, match=r"needs a shape that is unknown because .* in 'body.1' failed on an example "
                                         r"batch of shape \[2, 1, 4, 4\] \(RuntimeError: mat1 and mat2"):
        _summarize(Trunk())
