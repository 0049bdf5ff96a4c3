"""What the FSD baselines share: the plain network, its task head, stored examples."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from laftr_cl.fsd.data import iterate_batches
from laftr_cl.fsd.tensors import random_rows


class FieldState:
    """``state_dict``/``from_state_dict`` for a dataclass summary: its fields by name, as they are
    (plain tensors, dicts of tensors and Python values: ``torch.save``-able)."""

    def state_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Any:
        return cls(**{f.name: state[f.name] for f in dataclasses.fields(cls)})


def plain_network(model: nn.Module) -> nn.Module:
    """The network whose forward maps ``x [B, *input_shape]`` to logits ``[B, out]``: a wrapper's
    ``.net`` (e.g. ``TaskMaskedClassifier``, whose own forward needs task labels) or ``model``."""
    net = getattr(model, "net", None)
    return net if isinstance(net, nn.Module) else model


def select_head(logits: Tensor, units: Tensor | None) -> Tensor:
    """``[..., out]`` → ``[..., K]``: the task's output units (all of them when ``units`` is None)."""
    return logits if units is None else logits.index_select(-1, units)


def gather_data(data: Any, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """All of ``data`` (``(x, y)`` tensors or an iterable of ``(x, y, ...)`` batches) as
    ``x [N, *input_shape]`` and ``y [N]``; raises ValueError when it is empty."""
    batches = list(iterate_batches(data, batch_size))
    if sum(x.shape[0] for x, _ in batches) == 0:
        raise ValueError("The task's data is empty: a summary needs at least one example.")
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


def stored_inputs(model: nn.Module, data: Any, coreset_size: int, generator: torch.Generator | None,
                  batch_size: int) -> tuple[nn.Module, Tensor]:
    """The plain network and ``min(coreset_size, N)`` of the task's inputs, chosen uniformly, on the
    network's device and dtype: ``[m, *input_shape]``."""
    net = plain_network(model)
    x, _ = gather_data(data, batch_size)
    param = next(net.parameters())
    return net, choose_examples(x, coreset_size, generator).to(param.device, param.dtype)


def choose_examples(x: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """``min(size, N)`` rows of ``x [N, ...]`` chosen uniformly without replacement (a copy)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"coreset_size must be an integer m >= 1 (got coreset_size={size!r}): pass coreset_size=m.")
    return x[random_rows(x.shape[0], size, generator, x.device).to(x.device)].clone()


def with_total(parts: dict[str, int]) -> dict[str, int]:
    """``parts`` plus their sum under ``total``."""
    return {**parts, "total": sum(parts.values())}


def check_snapshot(net: nn.Module, snapshot: dict[str, Tensor], what: str) -> None:
    """ValueError when ``snapshot`` does not have the parameters (names, shapes) of ``net``."""
    got = {k: tuple(v.shape) for k, v in snapshot.items()}
    want = {k: tuple(p.shape) for k, p in net.named_parameters()}
    if got != want:
        raise ValueError(f"The {what} holds parameters {got} but the model has {want}: it was made for "
                         "another architecture.")
