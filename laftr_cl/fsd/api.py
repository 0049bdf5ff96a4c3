"""Entry points: ``fsd`` (the LAFTR regularizer from summaries) and ``true_fsd`` (on real data)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.bank import SummaryBank
from laftr_cl.fsd.data import iterate_batches
from laftr_cl.fsd.estimators import ESTIMATORS, GATE_DRAWS, require_gate_statistics
from laftr_cl.fsd.metrics import get_metric
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.ops import BN_STATS, SMOOTH_OPS
from laftr_cl.fsd.precision import float32_region
from laftr_cl.fsd.reduction import check_reduction, reduce_tasks
from laftr_cl.fsd.summary import TaskSummary
from laftr_cl.fsd.tensors import eval_mode, output_unit_index
from laftr_cl.fsd.trace import forward_with_task


def fsd(
    model: nn.Module,
    summaries: Sequence[TaskSummary] | SummaryBank,
    *,
    estimator: str = "bernoulli",
    metric: str = "l2_prob",
    num_samples: int = 40,
    gate_draws: str = "per_input",
    same_dropout: bool = False,
    smooth_ops: str = "exact",
    anchor: str = "per_task",
    class_weights: str = "uniform",
    bn_stats: str = "reference",
    generator: torch.Generator | Noise | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Estimated FSD between ``model`` now and each summarized task, all tasks in one batched pass.

    Differentiable w.r.t. the model's current parameters; the summaries get no gradient.

    Args:
        model: the network being trained (any network :class:`~laftr_cl.fsd.GatedView` can trace).
        summaries: the earlier tasks' :class:`TaskSummary` objects (stacked into a
            :class:`SummaryBank` on every call), or a bank built beforehand: build it once
            (``SummaryBank(model, summaries)``) when calling repeatedly.
        estimator: ``bernoulli`` (stochastic gates), ``relu`` (the reference's gates) or ``exact``
            (closed form; ``metric="l2_logit"``, MLPs only).
        metric: ρ, one of ``l2_prob``, ``kl``, ``l2_logit``.
        num_samples: S, input draws per task and step; a classwise bank gives every component
            ``S // C_max`` draws (at least 1), ``C_max`` the most components of any task in the
            bank (see ``SummaryBank.samples_per_slot``).
        gate_draws: ``per_input`` (a gate per draw and unit) or ``per_step`` (one gate vector per
            task, or class, and step, as in the reference code); also how dropout masks are shared.
        same_dropout: apply the network's dropout inside the regularizer, one mask for both networks.
        smooth_ops: how the current network runs LayerNorm/RMSNorm, softmax and elementwise functions:
            ``exact`` (the op on its own values) or ``linearized`` (first order at the reference's
            values); ReLU-family gates are shared either way (docs/transformers.md).
        anchor: ``per_task`` (task t against its own snapshot θ_t) or ``latest`` (every task
            against the newest summary's snapshot; older summaries may drop theirs).
        class_weights: how a classwise task averages its classes: ``uniform`` (as the reference
            code) or ``frequency`` (by the classes' numbers of examples).
        bn_stats: the BatchNorm running statistics of the current network: ``reference`` (θ_t's, as
            the reference network; blind to statistics drift) or ``current`` (the model's own, as it
            computes in eval mode now). See :data:`~laftr_cl.fsd.ops.BN_STATS`.
        generator: random source on the model's device (None: the device's default generator).
        reduction: ``mean`` over tasks (the regularizer's term), ``sum``, or ``none`` (``[T]``).

    Returns:
        A scalar, or ``[T]`` with ``reduction="none"``.

    Per step this draws fixed-shape random tensors and does tensor maths only (no host sync),
    so it can be captured in a CUDA graph.
    """
    estimate = ESTIMATORS.get(estimator)()
    get_metric(metric)
    if gate_draws not in GATE_DRAWS:
        raise ValueError(f"Unknown gate_draws={gate_draws!r}: choose one of {', '.join(GATE_DRAWS)}.")
    if bn_stats not in BN_STATS:
        raise ValueError(f"Unknown bn_stats={bn_stats!r}: choose one of {', '.join(BN_STATS)}.")
    if smooth_ops not in SMOOTH_OPS:
        raise ValueError(f"Unknown smooth_ops={smooth_ops!r}: choose one of {', '.join(SMOOTH_OPS)}.")
    check_reduction(reduction)
    bank = _bank(model, summaries, anchor, class_weights)
    require_gate_statistics(estimator, bank.has_gate_statistics)
    slot_values = estimate(
        bank,
        metric=metric,
        num_samples=num_samples,
        noise=Noise.wrap(generator, bank.device, bank.dtype),
        gate_draws=gate_draws,
        same_dropout=same_dropout,
        bn_stats=bn_stats,
        smooth_ops=smooth_ops,
    )
    with float32_region(bank.device):  # the weighted mean over slots stays fp32 under bf16 autocast
        per_task = bank.per_task(slot_values)
    return reduce_tasks(per_task, reduction)


def _bank(
    model: nn.Module, summaries: Sequence[TaskSummary] | SummaryBank, anchor: str, class_weights: str
) -> SummaryBank:
    """``summaries`` as a bank for ``model`` (checked when it is one already)."""
    if isinstance(summaries, SummaryBank):
        if summaries.view.model is not model:
            raise ValueError("This SummaryBank was built for another model: build one with SummaryBank(model, summaries).")
        if summaries.anchor != anchor:
            raise ValueError(f"This SummaryBank was built with anchor={summaries.anchor!r}, not anchor={anchor!r}.")
        if summaries.class_weights != class_weights:
            raise ValueError(
                f"This SummaryBank was built with class_weights={summaries.class_weights!r}, "
                f"not class_weights={class_weights!r}."
            )
        return summaries
    return SummaryBank(model, summaries, anchor=anchor, class_weights=class_weights)


def true_fsd(
    model: nn.Module,
    reference_model: nn.Module,
    data: Any,
    *,
    metric: str = "l2_prob",
    output_units: Sequence[int] | None = None,
    task_label: int | None = None,
    batch_size: int = 256,
) -> Tensor:
    """The exact FSD on real data: mean over ``data`` of ρ(f(x; θ_t)[O_t], f(x; θ)[O_t]).

    Args:
        model: the network at θ (differentiable); reference_model: the same network at θ_t.
            A model whose forward takes ``task_labels`` is called with ``task_label`` (None: 0).
        data: ``(x [N, ...], y [N])`` tensors or an iterable of ``(x, ...)`` batches; labels are unused.
        metric: ρ, one of ``l2_prob``, ``kl``, ``l2_logit``.
        output_units: O_t, or None for all outputs.

    Both networks run in eval mode (their modes are restored afterwards). Returns a scalar.
    """
    rho = get_metric(metric)
    net, reference = model, reference_model
    param = next(net.parameters())
    units = output_unit_index(output_units, param.device)
    total, count = param.new_zeros(()), 0
    with eval_mode(net), eval_mode(reference):
        for x, _ in iterate_batches(data, batch_size):
            x = x.to(param.device, param.dtype)
            logits = forward_with_task(net, x, task_label)
            with torch.no_grad():
                reference_logits = forward_with_task(reference, x, task_label)
            if units is not None:
                logits, reference_logits = logits[:, units], reference_logits[:, units]
            total = total + rho(reference_logits, logits).sum()
            count += x.shape[0]
    if count == 0:
        raise ValueError("true_fsd() got no data.")
    return total / count
