"""Fixtures for the FSD core tests: tiny seeded networks and data, recorded random draws, and a
slow, obviously-correct per-example implementation of the sampled estimators (docs/method.md, "What the tests check", 7)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import perturbed, tiny_mlp
from laftr_cl.fsd import Noise, TaskSummary

make_mlp = tiny_mlp  # Flatten → (Linear → ReLU [→ Dropout])* → Linear (tests/helpers.py)


def make_cnn(seed=0, dropout=0.0, dtype=torch.float64) -> nn.Sequential:
    """Input ``[B, 1, 8, 8]``: conv(pad) → ReLU → pool → [dropout] → conv → ReLU → flatten → fc → ReLU → out."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(dropout),
        nn.Conv2d(2, 3, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12, 5),
        nn.ReLU(),
        nn.Linear(5, 4),
    ).to(dtype)


def task_data(n=120, shape=(6,), classes=3, seed=0, dtype=torch.float64):
    """Correlated Gaussian inputs ``[n, *shape]`` with a class-dependent mean, labels ``[n]``."""
    g = torch.Generator().manual_seed(seed)
    d = int(torch.tensor(shape).prod())
    y = torch.arange(n) % classes
    mix = torch.randn(d, d, generator=g, dtype=dtype) / d**0.5
    x = torch.randn(n, d, generator=g, dtype=dtype) @ mix + 0.5 * y[:, None].to(dtype)
    return x.reshape(n, *shape), y


class RecordingNoise(Noise):
    """Draws from a seeded generator and keeps every draw (in call order)."""

    def __init__(self, seed=0, dtype=torch.float64):
        super().__init__(torch.Generator().manual_seed(seed), "cpu", dtype)
        self.draws: list[tuple[str, torch.Tensor]] = []

    def uniform(self, shape):
        out = super().uniform(shape)
        self.draws.append(("uniform", out))
        return out

    def normal(self, shape):
        out = super().normal(shape)
        self.draws.append(("normal", out))
        return out


class ReplayNoise(Noise):
    """Serves recorded draws again, each passed through ``transform`` (e.g. one task's slice)."""

    def __init__(self, draws, transform: Callable[[torch.Tensor], torch.Tensor], dtype=torch.float64):
        super().__init__(None, "cpu", dtype)
        self.draws, self.transform, self.position = draws, transform, 0

    def _next(self, kind, shape):
        recorded_kind, tensor = self.draws[self.position]
        self.position += 1
        out = self.transform(tensor)
        assert recorded_kind == kind and tuple(out.shape) == tuple(shape), (recorded_kind, kind, out.shape, shape)
        return out

    def uniform(self, shape):
        return self._next("uniform", shape)

    def normal(self, shape):
        return self._next("normal", shape)


# --------------------------------------------------------------------------- naive reference
def _naive_input(summary: TaskSummary, component: int, draws: dict, slot, s: int) -> torch.Tensor:
    """One input ``[d]`` of ``summary``'s component from the recorded draws of its slot."""
    inputs = summary.inputs
    if inputs.name == "full":
        eps = draws["normal"][0][slot][s]
        return inputs.loc[component] + inputs.scale_tril[component] @ eps
    if inputs.name == "diag":
        eps = draws["normal"][0][slot][s]
        return inputs.loc[component] + inputs.std[component] * eps
    if inputs.name == "lowrank":
        low, residual = draws["normal"][0][slot][s], draws["normal"][1][slot][s]
        return (
            inputs.loc[component]
            + inputs.components[component] @ low
            + inputs.residual_std[component] * residual
        )
    count = int(inputs.count[component])
    index = min(int(draws["uniform"][0][slot][s] * count), count - 1)
    return inputs.points[component][index]


def _naive_pool(reference: torch.Tensor, current: torch.Tensor, size: int):
    """Max-pool ``reference [C, H, W]`` by hand; take ``current`` at the reference's argmax."""
    channels, height, width = reference.shape
    ref_out = torch.empty(channels, height // size, width // size, dtype=reference.dtype)
    cur_out = torch.empty_like(ref_out)
    for c in range(channels):
        for i in range(height // size):
            for j in range(width // size):
                window = [(i * size + a, j * size + b) for a in range(size) for b in range(size)]
                best = max(window, key=lambda rc: float(reference[c, rc[0], rc[1]]))
                ref_out[c, i, j] = reference[c, best[0], best[1]]
                cur_out[c, i, j] = current[c, best[0], best[1]]
    return ref_out, cur_out


def naive_sampled_fsd(
    model: nn.Sequential,
    summaries: list[TaskSummary],
    draws: list[tuple[str, torch.Tensor]],
    *,
    estimator: str,
    metric: Callable,
    samples_per_slot: int,
    same_dropout=False,
    per_step=False,
) -> torch.Tensor:
    """Per-task FSD ``[T]`` (anchor per_task) by looping over tasks, classes, draws and layers.

    Interprets the batched call's recorded draws (shapes ``[T, P, ...]``), in the order the fast
    code makes them: the inputs, then per ReLU the gates (bernoulli) and per Dropout the masks.
    """
    layers = list(model)
    input_draws = {"normal": [], "uniform": []}
    kind_of_input = {"full": ["normal"], "diag": ["normal"], "lowrank": ["normal", "normal"], "coreset": ["uniform"]}
    queue = list(draws)
    for kind in kind_of_input[summaries[0].inputs.name]:
        recorded_kind, tensor = queue.pop(0)
        assert recorded_kind == kind
        input_draws[kind].append(tensor)
    layer_draws = {}
    for position, layer in enumerate(layers):
        if (isinstance(layer, nn.ReLU) and estimator == "bernoulli") or (
            isinstance(layer, nn.Dropout) and same_dropout and layer.p > 0
        ):
            layer_draws[position] = queue.pop(0)[1]
    assert not queue

    per_task = []
    for t, summary in enumerate(summaries):
        snapshot = summary.snapshot
        total = 0.0
        for c in range(summary.num_components):
            slot_total = 0.0
            for s in range(samples_per_slot):
                x = _naive_input(summary, c, input_draws, (t, c), s).reshape(summary.input_shape)
                ref, cur = x.clone(), x.clone()
                relu_index = 0
                for position, layer in enumerate(layers):
                    if isinstance(layer, nn.Linear):
                        w, b = snapshot[f"{position}.weight"], snapshot[f"{position}.bias"]
                        ref, cur = w @ ref + b, layer.weight @ cur + layer.bias
                    elif isinstance(layer, nn.Conv2d):
                        w, b = snapshot[f"{position}.weight"], snapshot[f"{position}.bias"]
                        ref = F.conv2d(ref[None], w, b, layer.stride, layer.padding)[0]
                        cur = F.conv2d(cur[None], layer.weight, layer.bias, layer.stride, layer.padding)[0]
                    elif isinstance(layer, nn.ReLU):
                        if estimator == "bernoulli":
                            u = layer_draws[position][t, c, 0 if per_step else s]
                            gate = (u < summary.firing_rates[relu_index][c]).to(ref.dtype)
                        else:
                            gate = (ref > 0).to(ref.dtype)
                        ref, cur = gate * ref, gate * cur
                        relu_index += 1
                    elif isinstance(layer, nn.MaxPool2d):
                        ref, cur = _naive_pool(ref, cur, layer.kernel_size)
                    elif isinstance(layer, nn.Dropout):
                        if same_dropout and layer.p > 0:
                            u = layer_draws[position][t, c, 0 if per_step else s]
                            mask = (u >= layer.p).to(ref.dtype) / (1 - layer.p)
                            ref, cur = mask * ref, mask * cur
                    elif isinstance(layer, nn.Flatten):
                        ref, cur = ref.flatten(), cur.flatten()
                units = summary.output_units
                if units is not None:
                    ref, cur = ref[units], cur[units]
                slot_total = slot_total + metric(ref, cur)
            total = total + slot_total / samples_per_slot
        per_task.append(total / summary.num_components)
    return torch.stack(per_task)


@pytest.fixture
def lib():
    """Helpers shared by the FSD tests (networks, data, noise recording, the naive loop)."""
    return SimpleNamespace(
        make_mlp=make_mlp,
        make_cnn=make_cnn,
        task_data=task_data,
        perturb=perturbed,
        RecordingNoise=RecordingNoise,
        ReplayNoise=ReplayNoise,
        naive_sampled_fsd=naive_sampled_fsd,
    )
