"""``ntk_fsd``: the network linearized in its parameters around θ_t, on m stored examples per task.

    f_lin(x; θ) = f(x; θ_t) + J_θ f(x; θ_t) (θ − θ_t)
    FSD_t(θ) ≈ mean over the m stored x of ρ(f(x; θ_t)[O_t], f_lin(x; θ)[O_t])

``J (θ − θ_t)`` is one Jacobian–vector product (``torch.func.jvp``: forward-mode AD, no Jacobian
is formed; ``nn.MultiheadAttention`` runs unfused, see :func:`laftr_cl.fsd.tensors.unfused_attention`),
differentiable w.r.t. θ through the tangent. f_lin agrees with f to first order in θ − θ_t, so the
estimate agrees with the true discrepancy on the stored inputs to that order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, jvp

from laftr_cl.fsd.baselines.common import (
    FieldState,
    check_snapshot,
    plain_network,
    select_head,
    stored_inputs,
    with_total,
)
from laftr_cl.fsd.metrics import get_metric
from laftr_cl.fsd.reduction import check_reduction, reduce_tasks
from laftr_cl.fsd.tensors import detached_parameters, eval_mode, output_unit_index, tensor_bytes, unfused_attention


@dataclass(frozen=True, eq=False)
class NtkSummary(FieldState):
    """What ``ntk_fsd`` keeps of task t.

    Attributes:
        points: ``[m, *input_shape]`` the stored inputs.
        snapshot: parameter name (of the plain network) → θ_t, detached: the linearization point.
        output_units: ``[K]`` int64 O_t, or None for all outputs.
    """

    points: Tensor
    snapshot: dict[str, Tensor]
    output_units: Tensor | None = None

    def nbytes(self) -> dict[str, int]:
        """Bytes by part: ``examples``, ``snapshot`` (θ_t), ``output_units``, ``total``."""
        return with_total({"examples": tensor_bytes([self.points]),
                           "snapshot": tensor_bytes(self.snapshot.values()),
                           "output_units": tensor_bytes([self.output_units])})


def ntk_summarize(
    model: nn.Module,
    data: Any,
    *,
    coreset_size: int,
    output_units: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> NtkSummary:
    """Keeps ``min(coreset_size, N)`` inputs of the task (uniformly chosen) and the snapshot θ_t.

    Args as :func:`laftr_cl.fsd.baselines.coreset_summarize`.
    """
    net, points = stored_inputs(model, data, coreset_size, generator, batch_size)
    return NtkSummary(points, detached_parameters(net), output_unit_index(output_units, points.device))


def ntk_fsd(
    model: nn.Module,
    summaries: Sequence[NtkSummary],
    *,
    metric: str = "l2_prob",
    reduction: str = "mean",
) -> Tensor:
    """Mean over each task's stored inputs of ρ between the reference outputs and the linearized
    network's outputs at the current θ; one ``jvp`` per task (eval mode: dropout off; PyTorch's fused attention
    kernels, which forward mode cannot differentiate, off: a transformer runs its op-by-op forward).

    Returns a scalar (``reduction`` ``mean`` or ``sum`` over tasks) or ``[T]`` (``none``).
    """
    rho = get_metric(metric)
    check_reduction(reduction)
    if not summaries:
        raise ValueError("ntk_fsd() needs at least one NtkSummary (made by ntk_summarize()).")
    net = plain_network(model)
    params = dict(net.named_parameters())
    param = next(iter(params.values()))
    values = []
    with eval_mode(net), unfused_attention():
        for summary in summaries:
            check_snapshot(net, summary.snapshot, "NTK summary's snapshot")
            anchor = {k: v.to(param.device, param.dtype) for k, v in summary.snapshot.items()}
            tangent = {k: params[k] - anchor[k] for k in anchor}
            x = summary.points.to(param.device, param.dtype)
            reference, change = jvp(lambda p: functional_call(net, p, (x,)), (anchor,), (tangent,))  # noqa: B023 (called here)
            units = None if summary.output_units is None else summary.output_units.to(param.device)
            linearized = reference + change
            values.append(rho(select_head(reference, units), select_head(linearized, units)).mean())
    return reduce_tasks(torch.stack(values), reduction)
