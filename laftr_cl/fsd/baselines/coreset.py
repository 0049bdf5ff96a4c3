"""``coreset_fsd``: the true output discrepancy on m stored examples per task (nonparametric FSD).

Function-space regularization on a memory: after task t keep m of its inputs and the reference
network's outputs on them; later, FSD_t(θ) ≈ mean over the m inputs of ρ(f(x; θ_t)[O_t], f(x; θ)[O_t]).
The estimate is exact on the stored inputs, so its only error is which m inputs were kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.baselines.common import (
    FieldState,
    plain_network,
    select_head,
    stored_inputs,
    with_total,
)
from laftr_cl.fsd.metrics import get_metric
from laftr_cl.fsd.reduction import check_reduction, reduce_tasks
from laftr_cl.fsd.tensors import eval_mode, output_unit_index, tensor_bytes


@dataclass(frozen=True, eq=False)
class CoresetSummary(FieldState):
    """What ``coreset_fsd`` keeps of task t (no parameters: the outputs stand in for θ_t).

    Attributes:
        points: ``[m, *input_shape]`` the stored inputs.
        reference_logits: ``[m, K]`` logits of the network at θ_t on them, restricted to O_t.
        output_units: ``[K]`` int64 O_t (the task's head), or None for all outputs.
    """

    points: Tensor
    reference_logits: Tensor
    output_units: Tensor | None = None

    def nbytes(self) -> dict[str, int]:
        """Bytes by part: ``examples`` (the inputs), ``outputs`` (θ_t's logits), ``output_units``, ``total``."""
        return with_total({"examples": tensor_bytes([self.points]),
                           "outputs": tensor_bytes([self.reference_logits]),
                           "output_units": tensor_bytes([self.output_units])})


def coreset_summarize(
    model: nn.Module,
    data: Any,
    *,
    coreset_size: int,
    output_units: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> CoresetSummary:
    """Keeps ``min(coreset_size, N)`` inputs of the task, chosen uniformly, and θ_t's logits on them.

    Args:
        model: the network at θ_t (or a wrapper with ``.net``); read in eval mode.
        data: ``(x [N, ...], y [N])`` or an iterable of ``(x, y, ...)`` batches.
        coreset_size: m, inputs kept.
        output_units: O_t, or None for all outputs.
        generator: draws the stored inputs.
    """
    net, points = stored_inputs(model, data, coreset_size, generator, batch_size)
    units = output_unit_index(output_units, points.device)
    with torch.no_grad(), eval_mode(net):
        logits = torch.cat([net(chunk) for chunk in points.split(batch_size)])
    return CoresetSummary(points, select_head(logits, units).detach(), units)


def coreset_fsd(
    model: nn.Module,
    summaries: Sequence[CoresetSummary],
    *,
    metric: str = "l2_prob",
    reduction: str = "mean",
) -> Tensor:
    """Mean over each task's stored inputs of ρ(f(x; θ_t), f(x; θ)), all tasks in one forward pass.

    Differentiable w.r.t. the model's current parameters; the network runs in eval mode (dropout
    off, as LAFTR's default). Returns a scalar (``reduction="mean"`` over tasks, or ``"sum"``) or
    ``[T]`` (``"none"``).
    """
    rho = get_metric(metric)
    check_reduction(reduction)
    if not summaries:
        raise ValueError("coreset_fsd() needs at least one CoresetSummary (made by coreset_summarize()).")
    net = plain_network(model)
    param = next(net.parameters())
    points = torch.cat([s.points.to(param.device, param.dtype) for s in summaries])
    with eval_mode(net):
        logits = net(points).split([s.points.shape[0] for s in summaries])
    per_task = torch.stack([
        rho(s.reference_logits.to(param.device, param.dtype), select_head(out, _units(s, param))).mean()
        for s, out in zip(summaries, logits)
    ])
    return reduce_tasks(per_task, reduction)


def _units(summary: CoresetSummary, param: Tensor) -> Tensor | None:
    return None if summary.output_units is None else summary.output_units.to(param.device)

